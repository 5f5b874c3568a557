//! A real Redis for the tests, on a free loopback port.

use std::path::Path;
use std::process::Command;

use super::Process;

/// A Redis server in `dir` on `port` (a replica of `replica_of`), stopped
/// when dropped; fails with the install command when it is missing.
pub fn redis_server(dir: &Path, port: u16, replica_of: Option<u16>) -> Process {
    let found = Command::new("sh")
        .args(["-c", "command -v redis-server"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "redis-server is missing: install it with `apt-get install -y redis-server` (tests/run.sh does this)"
    );
    let mut c = Command::new("redis-server");
    c.args([
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ])
    .args(["--repl-diskless-sync-delay", "0", "--maxmemory", "64mb"])
    .arg("--dir")
    .arg(dir);
    if let Some(primary) = replica_of {
        c.args(["--replicaof", "127.0.0.1", &primary.to_string()]);
    }
    Process(
        c.stdout(std::process::Stdio::null())
            .spawn()
            .expect("start redis-server"),
    )
}

/// Runs `redis-cli` against `port`.
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Waits until the server on `port` answers PING (10 s at most).
pub fn wait_ready(port: u16) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while redis_cli(port, &["PING"]) != "PONG" {
        assert!(
            std::time::Instant::now() < deadline,
            "redis on {port} never answered"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A Sentinel on `port` (in `dir`) monitoring the primary on `primary` as
/// `mymaster`, quorum 1, down after 1 s; stopped when dropped.
pub fn sentinel(dir: &Path, port: u16, primary: u16) -> Process {
    let conf = dir.join("sentinel.conf");
    std::fs::write(
        &conf,
        format!(
            "port {port}\nbind 127.0.0.1\ndir {}\nsentinel monitor mymaster 127.0.0.1 {primary} 1\nsentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 3000\n",
            dir.display()
        ),
    )
    .expect("sentinel.conf");
    Process(
        Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start sentinel"),
    )
}
