//! The local services the platform needs: a throwaway PostgreSQL cluster and, when gcloud's
//! component is installed, the Pub/Sub emulator. Both are started by PID and stopped by PID.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};

/// Role that owns the schema and runs migrations (not a superuser: FORCE RLS applies to it).
pub const OWNER_ROLE: &str = "olympus_owner";
/// Role every function connects as: no ownership, no BYPASSRLS.
pub const APP_ROLE: &str = "olympus_app";
/// Local passwords; the cluster listens on loopback only and is deleted on exit.
const OWNER_PASSWORD: &str = "olympus-owner-local";
const APP_PASSWORD: &str = "olympus-app-local";

/// A free TCP port on loopback (bound then released; good enough for local services).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("no free port on 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A command run as the `postgres` user when we are root (initdb refuses root).
fn pg_command(bin: &Path, as_postgres: bool) -> Command {
    if as_postgres {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(bin);
        command
    } else {
        Command::new(bin)
    }
}

fn pg_bindir() -> Result<PathBuf> {
    let output = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .map_err(|_| {
            anyhow!(
                "PostgreSQL is not installed: `pg_config` was not found. Install the server with \
             `apt-get install postgresql` (Debian) and run again."
            )
        })?;
    let bindir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if !bindir.join("initdb").exists() || !bindir.join("pg_ctl").exists() {
        bail!(
            "PostgreSQL server binaries are missing in {} (only the client is installed). \
             Install them with `apt-get install postgresql`.",
            bindir.display()
        );
    }
    Ok(bindir)
}

/// A running throwaway PostgreSQL cluster. Stopped (fast mode) when dropped.
#[derive(Debug)]
pub struct Postgres {
    dir: PathBuf,
    bindir: PathBuf,
    as_postgres: bool,
    pub port: u16,
    stopped: bool,
}

impl Postgres {
    /// Creates a fresh cluster in `dir` (deleted first) and starts it on a free port.
    pub fn start(dir: &Path) -> Result<Self> {
        let bindir = pg_bindir()?;
        let as_postgres = is_root();
        if dir.exists() {
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("cannot remove the old cluster at {}", dir.display()))?;
        }
        std::fs::create_dir_all(dir)?;
        let dir = dir.canonicalize()?;
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()?;
            if !status.success() {
                bail!("cannot give {} to the postgres user", dir.display());
            }
        }
        let data = dir.join("data");
        let output = pg_command(&bindir.join("initdb"), as_postgres)
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .output()
            .context("cannot run initdb")?;
        if !output.status.success() {
            bail!(
                "initdb failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let port = free_port()?;
        // DEV_PG_OPTIONS adds server settings for a look inside a benchmark, e.g.
        // `-c shared_preload_libraries=pg_stat_statements` or `-c log_min_duration_statement=5`.
        let extra = std::env::var("DEV_PG_OPTIONS").unwrap_or_default();
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=300 -c shared_buffers=128MB {extra}",
            dir.display()
        );
        let output = pg_command(&bindir.join("pg_ctl"), as_postgres)
            .arg("-D")
            .arg(&data)
            .args(["-o", &options, "-l"])
            .arg(dir.join("postgres.log"))
            .args(["-w", "-t", "60", "start"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .output()
            .context("cannot run pg_ctl")?;
        if !output.status.success() {
            let log = std::fs::read_to_string(dir.join("postgres.log")).unwrap_or_default();
            bail!(
                "PostgreSQL did not start: {}\n{log}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(Self {
            dir,
            bindir,
            as_postgres,
            port,
            stopped: false,
        })
    }

    /// The superuser URL of `database`.
    pub fn admin_url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// The owner role's URL of `database`.
    pub fn owner_url(&self, database: &str) -> String {
        format!(
            "postgres://{OWNER_ROLE}:{OWNER_PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// The app role's URL of `database`.
    pub fn app_url(&self, database: &str) -> String {
        format!(
            "postgres://{APP_ROLE}:{APP_PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// Creates the owner and app roles and an empty `database` owned by the owner.
    pub async fn create_database(&self, database: &str) -> Result<()> {
        let client = connect(&self.admin_url("postgres")).await?;
        client
            .batch_execute(&format!(
                "DO $$ BEGIN
                   IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{OWNER_ROLE}') THEN
                     CREATE ROLE {OWNER_ROLE} LOGIN PASSWORD '{OWNER_PASSWORD}' NOSUPERUSER NOBYPASSRLS CREATEDB;
                   END IF;
                   IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                     CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{APP_PASSWORD}' NOSUPERUSER NOBYPASSRLS NOCREATEDB;
                   END IF;
                 END $$;"
            ))
            .await
            .context("cannot create the roles")?;
        // Its own statement: CREATE DATABASE cannot run in the implicit transaction of a batch.
        client
            .batch_execute(&format!(
                "CREATE DATABASE \"{database}\" OWNER {OWNER_ROLE}"
            ))
            .await
            .with_context(|| format!("cannot create database {database}"))?;
        Ok(())
    }

    /// Stops the cluster (idempotent).
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let _ = pg_command(&self.bindir.join("pg_ctl"), self.as_postgres)
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The postmaster's PID (first line of postmaster.pid).
    pub fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.dir.join("data/postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Connects with tokio-postgres and drives the connection in the background.
pub async fn connect(url: &str) -> Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .with_context(|| format!("cannot connect to {}", olympus::db::redact(url)))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// Applies the migrations to `database` as the owner and grants the app role.
pub async fn migrate(pg: &Postgres, database: &str) -> Result<olympus::db::MigrationReport> {
    let mut client = connect(&pg.owner_url(database)).await?;
    olympus::db::migrate(&mut client, APP_ROLE)
        .await
        .map_err(|e| anyhow!("migration failed: {e}"))
}

/// The Pub/Sub emulator's launcher, when gcloud's component is installed.
pub fn emulator_launcher() -> Option<PathBuf> {
    let output = Command::new("gcloud")
        .args(["info", "--format=value(installation.sdk_root)"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let root = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let launcher = root.join("platform/pubsub-emulator/bin/cloud-pubsub-emulator");
    launcher.exists().then_some(launcher)
}

/// A running Pub/Sub emulator (a JVM). Killed, with its whole process group, when dropped.
#[derive(Debug)]
pub struct Emulator {
    child: Group,
    pub host: String,
}

impl Emulator {
    /// Starts the emulator on a free port and waits until it answers.
    pub fn start(launcher: &Path, log_dir: &Path) -> Result<Self> {
        use std::os::unix::process::CommandExt as _;
        std::fs::create_dir_all(log_dir)?;
        let port = free_port()?;
        let log = std::fs::File::create(log_dir.join("pubsub-emulator.log"))?;
        let child = Command::new(launcher)
            .arg("--host=127.0.0.1")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // Its own process group, so stopping it also stops the JVM the wrapper starts.
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start {}", launcher.display()))?;
        let mut emulator = Self {
            child: Group(child),
            host: format!("127.0.0.1:{port}"),
        };
        emulator.child.wait_until_listening(
            port,
            "the Pub/Sub emulator",
            &log_dir.join("pubsub-emulator.log"),
        )?;
        Ok(emulator)
    }

    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// Kills the emulator's process group.
    pub fn stop(&mut self) {
        self.child.stop();
    }
}

/// The BigQuery emulator's install (dev/setup.sh): `bqemulator` in a project-local venv and
/// the HOME whose DuckDB extension directory holds the spatial extension it loads at start.
#[derive(Debug, Clone)]
pub struct BigQueryInstall {
    pub launcher: PathBuf,
    pub home: PathBuf,
}

/// Where dev/setup.sh installs the BigQuery emulator, relative to the workspace root.
pub const BIGQUERY_EMULATOR_DIR: &str = ".dev/bigquery-emulator";

/// The BigQuery emulator, when dev/setup.sh installed it.
pub fn bigquery_emulator_install() -> Option<BigQueryInstall> {
    let dir = crate::topology::workspace_root().join(BIGQUERY_EMULATOR_DIR);
    let launcher = dir.join("venv/bin/bqemulator");
    launcher.exists().then(|| BigQueryInstall {
        launcher,
        home: dir.join("home"),
    })
}

/// A running BigQuery emulator (bqemulator: BigQuery's REST API over DuckDB, in memory).
/// Killed, with its process group, when dropped.
#[derive(Debug)]
pub struct BigQueryEmulator {
    child: Group,
    /// `http://127.0.0.1:PORT`: the REST root (`/bigquery/v2/...`).
    pub endpoint: String,
    pub project: String,
}

impl BigQueryEmulator {
    /// Starts the emulator on a free port for `project` and waits until its REST API answers
    /// (about 3 s: DuckDB and the spatial extension load first).
    pub fn start(install: &BigQueryInstall, log_dir: &Path, project: &str) -> Result<Self> {
        use std::os::unix::process::CommandExt as _;
        std::fs::create_dir_all(log_dir)?;
        let port = free_port()?;
        let log_path = log_dir.join("bigquery-emulator.log");
        let log = std::fs::File::create(&log_path)?;
        let child = Command::new(&install.launcher)
            .args(["start", "--rest-host", "127.0.0.1", "--rest-port"])
            .arg(port.to_string())
            // Its Storage Read/Write gRPC API is not used; port 0 keeps it off our ports.
            .args([
                "--grpc-host",
                "127.0.0.1",
                "--grpc-port",
                "0",
                "--ephemeral",
            ])
            .args(["--project", project, "--log-level", "warning"])
            .env("HOME", &install.home)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start {}", install.launcher.display()))?;
        let mut emulator = Self {
            child: Group(child),
            endpoint: format!("http://127.0.0.1:{port}"),
            project: project.to_owned(),
        };
        emulator
            .child
            .wait_until_listening(port, "the BigQuery emulator", &log_path)?;
        Ok(emulator)
    }

    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// Kills the emulator's process group.
    pub fn stop(&mut self) {
        self.child.stop();
    }
}

/// The variable `dev with-services` passes the BigQuery emulator's endpoint in.
pub const TEST_BIGQUERY_ENDPOINT_VAR: &str = "OLYMPUS_TEST_BIGQUERY_ENDPOINT";

/// The project the test emulator answers for (each test uses a dataset of its own in it).
pub const TEST_BIGQUERY_PROJECT: &str = "olympus-test";

/// The BigQuery emulator of `dev with-services`: started when installed; when not, a warning
/// with `OLYMPUS_ALLOW_NO_EMULATOR` set (its tests then skip), else an error saying how.
pub fn start_test_bigquery(log_dir: &Path) -> Result<Option<BigQueryEmulator>> {
    match bigquery_emulator_install() {
        Some(install) => Ok(Some(BigQueryEmulator::start(
            &install,
            log_dir,
            TEST_BIGQUERY_PROJECT,
        )?)),
        None if std::env::var_os("OLYMPUS_ALLOW_NO_EMULATOR").is_some() => {
            eprintln!("warning: no BigQuery emulator: the export tests against it will be skipped");
            Ok(None)
        }
        None => bail!(
            "the BigQuery emulator is not installed: run `bash dev/setup.sh` (it installs \
             bqemulator into {BIGQUERY_EMULATOR_DIR}), or set OLYMPUS_ALLOW_NO_EMULATOR=1 to skip \
             the tests that need it"
        ),
    }
}

/// An emulator's process, started in its own process group (its launcher starts a JVM or a
/// Python server beneath it): stopped, group and all, when dropped.
#[derive(Debug)]
struct Group(std::process::Child);

impl Group {
    /// Waits up to 60 s for `port` to accept connections; `what` names the process in errors.
    fn wait_until_listening(&mut self, port: u16, what: &str, log: &Path) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(());
            }
            if let Ok(Some(status)) = self.0.try_wait() {
                bail!("{what} exited ({status}); see {}", log.display());
            }
            if Instant::now() > deadline {
                self.stop();
                bail!("{what} did not open port {port} within 60 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the group: TERM, up to 5 s of grace, then KILL.
    fn stop(&mut self) {
        if let Ok(Some(_)) = self.0.try_wait() {
            return;
        }
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill")
            .args(["-TERM", "--", &group])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.wait();
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.stop();
    }
}
