//! A throwaway PostgreSQL cluster for tests: `initdb` + `pg_ctl` from the PostgreSQL 15
//! binaries on a temporary directory and a free loopback port, stopped when dropped.
//! As root, the server runs as the `postgres` user (PostgreSQL refuses to run as root).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the server binaries are looked for (`PG_BIN` overrides).
pub fn pg_bin() -> PathBuf {
    std::env::var_os("PG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"))
}

/// A running cluster.
pub struct PgCluster {
    dir: tempfile::TempDir,
    /// Its port on 127.0.0.1.
    pub port: u16,
    as_postgres: bool,
    frozen: std::cell::Cell<bool>,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"))
}

impl PgCluster {
    /// Start a cluster; panics, saying what is missing, when PostgreSQL is not installed.
    pub fn start() -> PgCluster {
        let bin = pg_bin();
        assert!(
            bin.join("initdb").exists(),
            "\n\n*** PostgreSQL server binaries not found in {} ***\n\
             install them (Debian: apt-get install postgresql-15) or set PG_BIN; \
             scripts/test installs them when it can.\n",
            bin.display()
        );
        let dir = tempfile::Builder::new()
            .prefix("bg-pg-")
            .tempdir()
            .expect("temp dir");
        let as_postgres = is_root();
        if as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status();
            assert!(ok.is_ok_and(|s| s.success()), "chown to postgres failed");
        }
        let port = crate::free_port();
        let c = PgCluster {
            dir,
            port,
            as_postgres,
            frozen: std::cell::Cell::new(false),
        };
        let data = c.data();
        c.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        c.start_server();
        c
    }

    fn start_server(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let log = self.log().display().to_string();
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-o", &opts, "-l", &log, "-w", "start"],
        );
    }

    /// Take the server down (fast shutdown: sessions are closed, new connections refused),
    /// as in an outage; [`PgCluster::bring_back`] starts it again on the same port and data.
    pub fn take_down(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    /// Start the server again after [`PgCluster::take_down`].
    pub fn bring_back(&self) {
        self.start_server();
    }

    /// Stall the server: every one of its processes stopped (`SIGSTOP`), so connections stay
    /// open and queries go unanswered, as with a hung server or a network partition; until
    /// [`PgCluster::thaw`] (or drop).
    pub fn freeze(&self) {
        self.signal("STOP");
        self.frozen.set(true);
    }

    /// Let a frozen server run again.
    pub fn thaw(&self) {
        self.signal("CONT");
        self.frozen.set(false);
    }

    /// Send `sig` to the postmaster and its children (read from `/proc`).
    fn signal(&self, sig: &str) {
        let pidfile = self.dir.path().join("data/postmaster.pid");
        let text = std::fs::read_to_string(&pidfile).expect("postmaster.pid");
        let postmaster = text.lines().next().unwrap_or_default().trim().to_owned();
        let mut pids = vec![postmaster.clone()];
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // pid (comm) state ppid ...: the fields after the last ')'
            let ppid = stat
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().nth(1));
            if ppid == Some(postmaster.as_str()) {
                pids.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .args(&pids)
            .status();
        assert!(ok.is_ok_and(|s| s.success()), "kill -{sig} {pids:?} failed");
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let exe = pg_bin().join(tool);
        let status = if self.as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&exe)
                .args(args)
                .stdout(std::process::Stdio::null())
                .status()
        } else {
            Command::new(&exe)
                .args(args)
                .stdout(std::process::Stdio::null())
                .status()
        };
        assert!(
            status.is_ok_and(|s| s.success()),
            "{tool} {args:?} failed (see {})",
            self.log().display()
        );
    }

    /// The server log.
    pub fn log(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// A URL for a fresh database of this cluster.
    pub async fn database(&self, name: &str) -> String {
        use sqlx_any_exec::create_database;
        create_database(self.port, name).await;
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// The cluster's directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.frozen.get() {
            self.thaw();
        }
        let data = self.data();
        let exe = pg_bin().join("pg_ctl");
        let args = ["-D", data.as_str(), "-m", "immediate", "-w", "stop"];
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let _ = cmd.args(args).stdout(std::process::Stdio::null()).status();
    }
}

mod sqlx_any_exec {
    //! `CREATE DATABASE` on the test cluster.
    use sqlx::Connection;

    pub async fn create_database(port: u16, name: &str) {
        let admin = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        let mut conn = sqlx::postgres::PgConnection::connect(&admin)
            .await
            .expect("connect to the test cluster");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await
            .expect("create database");
    }
}
