//! Port-forwards: `kubectl port-forward` run in the background for the
//! operator, what the app asks of the process that runs them and what it
//! hears back. And the shell hand-off's answer: how `kubectl exec` ended.

/// A port-forward of this session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ForwardId(pub u64);

/// What the app asks of the port-forward runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardCommand {
    /// Run this command line (`kubectl … port-forward …`) until it ends or
    /// is stopped.
    Start {
        /// The forward it is.
        id: ForwardId,
        /// The program and its arguments.
        argv: Vec<String>,
    },
    /// Stop it (SIGTERM to kubectl, which closes its listeners).
    Stop(ForwardId),
}

/// What the runner says of a forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardEvent {
    /// kubectl listens: `127.0.0.1:43117`, as its `Forwarding from` line
    /// says.
    Listening {
        /// The forward.
        id: ForwardId,
        /// The local address it listens on.
        local: String,
    },
    /// It ended: stopped by the operator (`None`), or with kubectl's last
    /// error line or exit status.
    Ended {
        /// The forward.
        id: ForwardId,
        /// Why, when it was not asked to stop.
        why: Option<String>,
    },
}

/// The local address in one of kubectl's `Forwarding from ADDR -> PORT`
/// lines (IPv4 first; kubectl prints one line per address it listens on).
pub fn forwarding_from(line: &str) -> Option<&str> {
    let rest = line.trim().strip_prefix("Forwarding from ")?;
    let (local, _) = rest.split_once(" -> ")?;
    Some(local.trim())
}

/// `[LOCAL:]PORT` as typed after `port-forward`: the local port (none:
/// kubectl picks a free one) and the pod's port.
pub fn parse_ports(arg: &str) -> Result<(Option<u16>, u16), String> {
    let port = |s: &str| {
        s.trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("`{s}` is not a port (1 to 65535)"))
    };
    match arg.trim().split_once(':') {
        Some(("", remote)) => Ok((None, port(remote)?)),
        Some((local, remote)) => Ok((Some(port(local)?), port(remote)?)),
        None => Ok((None, port(arg)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_s_forwarding_line_gives_the_local_address() {
        assert_eq!(
            forwarding_from("Forwarding from 127.0.0.1:43117 -> 8080"),
            Some("127.0.0.1:43117")
        );
        assert_eq!(
            forwarding_from("Forwarding from [::1]:43117 -> 8080\n"),
            Some("[::1]:43117")
        );
        assert_eq!(forwarding_from("Handling connection for 43117"), None);
    }

    #[test]
    fn ports_are_pod_port_or_local_colon_pod_port() {
        assert_eq!(parse_ports("8080"), Ok((None, 8080)));
        assert_eq!(parse_ports(":8080"), Ok((None, 8080)));
        assert_eq!(parse_ports("18080:8080"), Ok((Some(18080), 8080)));
        assert!(parse_ports("0").is_err());
        assert!(parse_ports("http").is_err());
        assert!(parse_ports("99999:80").is_err());
    }
}
