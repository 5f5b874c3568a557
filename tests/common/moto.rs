//! moto, an independent AWS emulator (PyPI `moto[server]`), on a free
//! loopback port: the same SDK calls touban makes against the sandbox are
//! made against it, to prove them right independently of the sandbox.

use std::time::{Duration, Instant};

use super::Process;

/// `moto_server` on a free loopback port, stopped when dropped; fails
/// with the install command when it is missing. Returns it and its URL.
pub fn moto_server() -> (Process, String) {
    let found = std::process::Command::new("sh")
        .args(["-c", "command -v moto_server"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "moto_server is missing: tests/run.sh installs it (`pip install \"moto[server]==5.2.5\"` in its venv, whose bin/ it puts first on PATH)"
    );
    let port = super::free_port();
    let child = std::process::Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start moto_server");
    let process = Process(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "moto_server on {port} never listened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (process, format!("http://127.0.0.1:{port}"))
}
