//! A real PostgreSQL for the tests: servers initialised and run as the
//! `postgres` user (root cannot run them) on free loopback ports, with
//! trust authentication; a primary and its streaming replica.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The PostgreSQL binaries, or a failure naming the package.
pub fn pg_bin() -> PathBuf {
    let found = std::fs::read_dir("/usr/lib/postgresql").ok().and_then(|d| {
        d.filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .find(|b| b.join("initdb").exists())
    });
    found.unwrap_or_else(|| {
        panic!("PostgreSQL is missing: install it with `apt-get install -y postgresql` (tests/run.sh does this)")
    })
}

/// Runs a PostgreSQL tool as the `postgres` user (root cannot run them).
pub fn as_postgres(bin: &Path, tool: &str, args: &[&str]) {
    let out = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(bin.join(tool))
        .args(args)
        .output()
        .expect("runuser");
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn psql(bin: &Path, port: u16, sql: &str) -> String {
    let out = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(bin.join("psql"))
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "-Atc",
            sql,
        ])
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A fresh data directory `root/name` (owned by `postgres`, trust
/// authentication) listening on 127.0.0.1:`port`, with `extra` settings.
pub fn init_server(bin: &Path, root: &Path, name: &str, port: u16, extra: &str) -> PathBuf {
    let _ = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(root)
        .status();
    let data = root.join(name);
    let d = data.to_string_lossy();
    as_postgres(
        bin,
        "initdb",
        &["-D", &d, "-U", "postgres", "-A", "trust", "--no-sync"],
    );
    std::fs::write(
        data.join("postgresql.auto.conf"),
        format!(
            "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nfsync = off\n{extra}",
            root.display()
        ),
    )
    .expect("conf");
    data
}

/// A primary and a streaming replica, stopped when dropped.
pub struct Pair {
    /// The binaries.
    pub bin: PathBuf,
    /// Where both data directories are.
    pub dir: tempfile::TempDir,
    /// The primary's port.
    pub primary: u16,
    /// The replica's port.
    pub replica: u16,
}

impl Pair {
    /// Starts both.
    pub fn start() -> Pair {
        let bin = pg_bin();
        let dir = tempfile::tempdir().expect("temp");
        let root = dir.path().to_path_buf();
        let root = root.as_path();
        let (primary, replica) = (super::free_port(), super::free_port());
        let p = init_server(
            &bin,
            root,
            "primary",
            primary,
            "wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\n",
        );
        std::fs::OpenOptions::new()
            .append(true)
            .open(p.join("pg_hba.conf"))
            .and_then(|mut f| {
                std::io::Write::write_all(&mut f, b"host replication all 127.0.0.1/32 trust\n")
            })
            .expect("hba");
        let _ = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(root)
            .status();
        let pair = Pair {
            bin,
            dir,
            primary,
            replica,
        };
        pair.ctl("primary", "start");
        let r = root.join("replica");
        as_postgres(
            &pair.bin,
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &primary.to_string(),
                "-U",
                "postgres",
                "-D",
                &r.to_string_lossy(),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
            ],
        );
        let conf = std::fs::read_to_string(r.join("postgresql.auto.conf")).expect("replica conf");
        std::fs::write(
            r.join("postgresql.auto.conf"),
            format!(
                "{}\nport = {replica}\n",
                conf.replace(&format!("port = {primary}\n"), "")
            ),
        )
        .expect("replica conf");
        let _ = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(root)
            .status();
        pair.ctl("replica", "start");
        pair
    }

    /// Waits until table `t` created on the primary exists on the replica.
    pub fn wait_replicated(&self, t: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let sql = format!("SELECT count(*) FROM pg_class WHERE relname = '{t}'");
        while psql(&self.bin, self.replica, &sql) != "1" {
            assert!(
                Instant::now() < deadline,
                "table {t} never reached the replica"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Rebuilds the old primary as the (promoted) replica's streaming
    /// replica, as an operator failing back would: stopped, its data
    /// directory replaced by a base backup of the replica (`-R`), on its
    /// own port, with `extra` settings (a fence the rebuild copied), then
    /// started.
    pub fn rebuild_primary(&self, extra: &str) {
        let root = self.dir.path();
        self.ctl("primary", "stop");
        let data = root.join("primary");
        std::fs::remove_dir_all(&data).expect("remove the old data directory");
        as_postgres(
            &self.bin,
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.replica.to_string(),
                "-U",
                "postgres",
                "-D",
                &data.to_string_lossy(),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
            ],
        );
        let conf = std::fs::read_to_string(data.join("postgresql.auto.conf")).expect("conf");
        std::fs::write(
            data.join("postgresql.auto.conf"),
            format!(
                "{}\nport = {}\n{extra}",
                conf.replace(&format!("port = {}\n", self.replica), ""),
                self.primary
            ),
        )
        .expect("conf");
        let _ = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(root)
            .status();
        self.ctl("primary", "start");
    }

    /// Runs `pg_ctl ACTION` on `primary` or `replica`.
    pub fn ctl(&self, which: &str, action: &str) {
        let data = self.dir.path().join(which);
        let log = self.dir.path().join(format!("{which}.log"));
        as_postgres(
            &self.bin,
            "pg_ctl",
            &[
                "-D",
                &data.to_string_lossy(),
                "-l",
                &log.to_string_lossy(),
                "-w",
                "-m",
                "fast",
                action,
            ],
        );
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for which in ["replica", "primary"] {
            let data = self.dir.path().join(which);
            let _ = Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"))
                .args(["-D", &data.to_string_lossy(), "-m", "immediate", "stop"])
                .output();
        }
    }
}

/// One PostgreSQL server (trust authentication), stopped when dropped,
/// whatever state a test left it in.
pub struct Server {
    /// The binaries.
    pub bin: PathBuf,
    /// Its data directory's parent.
    pub dir: tempfile::TempDir,
    /// Its data directory.
    pub data: PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Server {
    /// Initialises and starts a server.
    pub fn start() -> Server {
        Server::start_with("")
    }

    /// Initialises and starts a server with `extra` settings.
    pub fn start_with(extra: &str) -> Server {
        let bin = pg_bin();
        let dir = tempfile::tempdir().expect("temp");
        let port = super::free_port();
        let data = init_server(&bin, dir.path(), "db", port, extra);
        let server = Server {
            bin,
            dir,
            data,
            port,
        };
        server.ctl("start");
        server
    }

    /// `pg_ctl ACTION`, waiting, stopping immediately.
    pub fn ctl(&self, action: &str) {
        as_postgres(
            &self.bin,
            "pg_ctl",
            &[
                "-D",
                &self.data.to_string_lossy(),
                "-l",
                &self.dir.path().join("db.log").to_string_lossy(),
                "-w",
                "-m",
                "immediate",
                action,
            ],
        );
    }

    /// The postmaster's pid.
    pub fn postmaster(&self) -> u32 {
        std::fs::read_to_string(self.data.join("postmaster.pid"))
            .ok()
            .and_then(|t| t.lines().next()?.trim().parse().ok())
            .expect("postmaster.pid")
    }

    /// Sends `signal` to the postmaster and every process it forked (each
    /// backend is a session of its own).
    pub fn signal(&self, signal: &str) {
        let postmaster = self.postmaster().to_string();
        let ok = Command::new("kill")
            .args([&format!("-{signal}"), &postmaster])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{signal} {postmaster}");
        let _ = Command::new("pkill")
            .args([&format!("-{signal}"), "-P", &postmaster])
            .status();
    }

    /// Runs `sql` as `postgres`.
    pub fn psql(&self, sql: &str) -> String {
        psql(&self.bin, self.port, sql)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.data.join("postmaster.pid").exists() {
            let _ = std::panic::catch_unwind(|| self.signal("CONT"));
        }
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args([
                "-D",
                &self.data.to_string_lossy(),
                "-m",
                "immediate",
                "stop",
            ])
            .output();
    }
}
