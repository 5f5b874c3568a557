//! A real Alertmanager for the tests, on a free loopback port.

use std::process::{Command, Stdio};

use super::Process;

/// An Alertmanager (routing everything to a receiver that sends nothing)
/// listening on `port`, its state in `dir`.
pub fn alertmanager(dir: &std::path::Path, port: u16) -> Process {
    std::fs::write(
        dir.join("alertmanager.yml"),
        "route:\n  receiver: on-call\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\nreceivers:\n  - name: on-call\n",
    )
    .expect("write alertmanager.yml");
    Process(
        Command::new("prometheus-alertmanager")
            .arg(format!(
                "--config.file={}",
                dir.join("alertmanager.yml").display()
            ))
            .arg(format!("--storage.path={}", dir.join("am").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start alertmanager"),
    )
}
