//! The sandbox's own certificate authority and its API servers'
//! certificate. client-go sends bearer tokens only over TLS (kubectl
//! issue 744), so the sandbox serves HTTPS like a real cluster and its
//! kubeconfig carries the CA.

use std::net::{IpAddr, Ipv4Addr};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};

/// A CA and a server certificate signed by it, each in PEM.
#[allow(clippy::struct_field_names)]
pub struct Tls {
    /// The CA certificate, for the kubeconfig.
    pub ca_pem: String,
    /// The server certificate (localhost, 127.0.0.1).
    pub cert_pem: String,
    /// The server's private key.
    pub key_pem: String,
}

impl Tls {
    /// A fresh CA and server certificate.
    pub fn generate() -> Result<Tls, rcgen::Error> {
        let ca_key = KeyPair::generate()?;
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "touban sandbox CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate()?;
        let mut server = CertificateParams::new(vec!["localhost".to_owned()])?;
        server
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        server
            .distinguished_name
            .push(DnType::CommonName, "touban sandbox API server");
        let cert = server.signed_by(&key, &issuer)?;
        Ok(Tls {
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}
