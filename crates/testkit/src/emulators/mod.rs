//! Real service emulators for the backend tests.
//!
//! [`moto`], [`pubsub`], [`bigtable`] and [`redis`] start their emulator on a
//! free `127.0.0.1` port the first time they are called in a test binary and
//! hand every later caller the same instance, from any thread or Tokio
//! runtime. Each test keeps out of the others' way by naming its resources
//! with [`unique_name`]. A test that needs an emulator of its own, for
//! instance to restart it, takes one from [`start_private`].
//!
//! The emulators stop when the test binary ends, however it ends: each child
//! asks the kernel to kill it when the test process goes away (Linux
//! `PR_SET_PDEATHSIG`), because the test harness never drops statics.
//!
//! A missing emulator is a panic that says how to install it, never a skip;
//! so is one that exits early (after a few ports) or does not answer in
//! time, with the tail of its output.
//!
//! ```no_run
//! # async fn demo() {
//! use angzarr_testkit::emulators;
//!
//! let moto = emulators::moto().await;
//! let table = emulators::unique_name("events");
//! // Point the AWS SDK at `moto.endpoint()` ("http://127.0.0.1:PORT") and
//! // create `table` there.
//! # let _ = (moto, table);
//! # }
//! ```

mod names;
mod process;
mod ready;

use std::fmt;
use std::io;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::OnceCell;

pub use names::unique_name;
use process::Process;
use ready::NotReady;

/// Where the Debian/Ubuntu `google-cloud-cli` packages put the SDK.
const GOOGLE_SDK: &str = "/usr/lib/google-cloud-sdk";
/// Ports tried before giving up on an emulator that exits right away.
const ATTEMPTS: usize = 3;

/// The Python launcher for moto: moto's WSGI application on werkzeug's
/// threaded server, as `moto_server` runs it, with one lock around every
/// DynamoDB request. Without it, moto lets two concurrent conditional
/// writes to one key both succeed (see the crate README).
pub const MOTO_LAUNCHER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/moto/serial_dynamodb.py");

/// An emulator this module knows how to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// moto server: DynamoDB, SQS, SNS, Kinesis, S3, Cloud Map, Secrets
    /// Manager over the AWS HTTP APIs. Started through [`MOTO_LAUNCHER`],
    /// which applies DynamoDB requests one at a time (moto's own conditional
    /// writes race under concurrency) and keeps the other services
    /// concurrent.
    Moto,
    /// The Google Cloud SDK's Pub/Sub emulator (Java).
    PubSub,
    /// The Google Cloud SDK's Bigtable emulator (`cbtemulator`, gRPC only).
    Bigtable,
    /// `redis-server`, standing in for Memorystore and ElastiCache. It runs
    /// without persistence: a restart loses all keys.
    Redis,
}

impl Kind {
    /// Every kind, in a stable order.
    pub const ALL: [Kind; 4] = [Kind::Moto, Kind::PubSub, Kind::Bigtable, Kind::Redis];

    /// The program started for this kind: a bare name (looked up on `PATH`)
    /// for moto (`python3`, running [`MOTO_LAUNCHER`]) and Redis, a path
    /// inside the Google Cloud SDK for the Google emulators.
    pub fn program(self) -> PathBuf {
        match self {
            Kind::Moto => "python3".into(),
            Kind::PubSub => google_sdk().join("platform/pubsub-emulator/bin/cloud-pubsub-emulator"),
            Kind::Bigtable => google_sdk().join("platform/bigtable-emulator/cbtemulator"),
            Kind::Redis => "redis-server".into(),
        }
    }

    /// How to install the emulator.
    pub fn install_hint(self) -> &'static str {
        match self {
            Kind::Moto => {
                "install moto with `python3 -m pip install 'moto[server]'` \
                 (`cargo xtask test` does it for you)"
            }
            Kind::PubSub => {
                "install the Google Cloud SDK Pub/Sub emulator and Java 17: \
                 `apt-get install -y google-cloud-cli-pubsub-emulator openjdk-17-jre-headless` \
                 (or `gcloud components install pubsub-emulator`)"
            }
            Kind::Bigtable => {
                "install the Google Cloud SDK Bigtable emulator: \
                 `apt-get install -y google-cloud-cli-bigtable-emulator` \
                 (or `gcloud components install bigtable`)"
            }
            Kind::Redis => {
                "install Redis with `apt-get install -y redis-server` \
                 (`cargo xtask test` does it for you)"
            }
        }
    }

    /// The environment variable clients read to find this emulator.
    pub fn env_var(self) -> &'static str {
        match self {
            Kind::Moto => "AWS_ENDPOINT_URL",
            Kind::PubSub => "PUBSUB_EMULATOR_HOST",
            Kind::Bigtable => "BIGTABLE_EMULATOR_HOST",
            Kind::Redis => "REDIS_URL",
        }
    }

    fn command(self, port: u16) -> Command {
        let mut command = Command::new(self.program());
        let port = port.to_string();
        match self {
            Kind::Moto => command.args([MOTO_LAUNCHER, "-H", "127.0.0.1", "-p", &port]),
            Kind::PubSub => command
                .args(["--host=127.0.0.1", &format!("--port={port}")])
                .env("JAVA_OPTS", "-Xmx128m -XX:+UseSerialGC"),
            Kind::Bigtable => command.args(["-host", "127.0.0.1", "-port", &port]),
            Kind::Redis => command.args([
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ]),
        };
        command
    }

    /// Generous: on a 2-core machine busy compiling, moto's imports and the
    /// JVM's start take several seconds.
    fn ready_timeout(self) -> Duration {
        match self {
            Kind::Moto => Duration::from_secs(60),
            Kind::PubSub => Duration::from_secs(90),
            Kind::Bigtable | Kind::Redis => Duration::from_secs(20),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Moto => "moto server",
            Kind::PubSub => "Pub/Sub emulator",
            Kind::Bigtable => "Bigtable emulator",
            Kind::Redis => "Redis server",
        })
    }
}

/// A running emulator: what it is and where it listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Emulator {
    kind: Kind,
    port: u16,
}

impl Emulator {
    /// Which emulator this is.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`.
    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// What a client is configured with: `http://127.0.0.1:PORT` for moto
    /// (an AWS endpoint URL), `redis://127.0.0.1:PORT` for Redis, and
    /// `127.0.0.1:PORT` for the Google emulators (the form of
    /// `PUBSUB_EMULATOR_HOST` and `BIGTABLE_EMULATOR_HOST`).
    pub fn endpoint(&self) -> String {
        match self.kind {
            Kind::Moto => format!("http://{}", self.host_port()),
            Kind::Redis => format!("redis://{}", self.host_port()),
            Kind::PubSub | Kind::Bigtable => self.host_port(),
        }
    }

    /// The environment variable and value that point a client at this
    /// emulator, e.g. `("PUBSUB_EMULATOR_HOST", "127.0.0.1:PORT")`.
    pub fn env(&self) -> (&'static str, String) {
        (self.kind.env_var(), self.endpoint())
    }
}

/// The test binary's moto server, started on first use.
pub async fn moto() -> &'static Emulator {
    shared(Kind::Moto).await
}

/// The test binary's Pub/Sub emulator, started on first use.
pub async fn pubsub() -> &'static Emulator {
    shared(Kind::PubSub).await
}

/// The test binary's Bigtable emulator, started on first use.
pub async fn bigtable() -> &'static Emulator {
    shared(Kind::Bigtable).await
}

/// The test binary's Redis server, started on first use.
pub async fn redis() -> &'static Emulator {
    shared(Kind::Redis).await
}

/// The shared emulator of `kind`. A failed start is remembered, so that the
/// other tests fail at once with the same message instead of retrying.
async fn shared(kind: Kind) -> &'static Emulator {
    static SHARED: [OnceCell<Result<Emulator, String>>; Kind::ALL.len()] =
        [const { OnceCell::const_new() }; Kind::ALL.len()];
    // The shared processes live until the process exits (then the kernel
    // kills them): statics are never dropped.
    static RUNNING: Mutex<Vec<Process>> = Mutex::new(Vec::new());

    let started = SHARED[kind as usize]
        .get_or_init(|| async move {
            let (emulator, process) = launch(kind, None).await?;
            RUNNING
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(process);
            Ok(emulator)
        })
        .await;
    match started {
        Ok(emulator) => emulator,
        Err(message) => panic!("{message}"),
    }
}

/// Starts an emulator that belongs to the caller alone, on a port of its
/// own. It is killed when the returned value is dropped, and can be stopped
/// and restarted on the same port meanwhile.
pub async fn start_private(kind: Kind) -> OwnedEmulator {
    match launch(kind, None).await {
        Ok((emulator, process)) => OwnedEmulator {
            emulator,
            process: Some(process),
        },
        Err(message) => panic!("{message}"),
    }
}

/// An emulator owned by one test (see [`start_private`]); dereferences to
/// its [`Emulator`].
#[derive(Debug)]
pub struct OwnedEmulator {
    emulator: Emulator,
    process: Option<Process>,
}

impl OwnedEmulator {
    /// Whether the emulator was started and not stopped (it may still have
    /// crashed).
    pub fn is_running(&self) -> bool {
        self.process.is_some()
    }

    /// Kills the emulator and waits until it is gone: connections to its
    /// port are refused from then on. Stopping twice is harmless.
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill();
        }
    }

    /// Freezes the emulator (SIGSTOP) without losing its state: requests
    /// hang until [`OwnedEmulator::resume`], so clients see timeouts.
    pub fn pause(&mut self) {
        if let Some(process) = self.process.as_mut() {
            process.pause();
        }
    }

    /// Thaws an emulator frozen by [`OwnedEmulator::pause`]; it answers
    /// again with the state it had.
    pub fn resume(&mut self) {
        if let Some(process) = self.process.as_mut() {
            process.resume();
        }
    }

    /// Stops the emulator if it runs, then starts it again on the same port
    /// and waits until it answers. The restarted emulator starts empty.
    pub async fn restart(&mut self) {
        self.stop();
        match launch(self.emulator.kind, Some(self.emulator.port)).await {
            Ok((_, process)) => self.process = Some(process),
            Err(message) => panic!("{message}"),
        }
    }
}

impl Deref for OwnedEmulator {
    type Target = Emulator;

    fn deref(&self) -> &Emulator {
        &self.emulator
    }
}

/// Starts `kind` on `port` (or a free port) and waits until it answers. If it
/// exits early, tries again, on a new port unless `fixed_port` is given (after a
/// restart, the old process's port may take a moment to be released).
async fn launch(kind: Kind, fixed_port: Option<u16>) -> Result<(Emulator, Process), String> {
    let mut failures = String::new();
    for attempt in 1..=ATTEMPTS {
        let port = fixed_port.unwrap_or_else(ready::free_port);
        let mut process = match Process::spawn(kind.command(port)) {
            Ok(process) => process,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(missing(kind)),
            Err(e) => {
                let program = kind.program();
                return Err(format!(
                    "cannot start {kind} (`{}`): {e}\n{}",
                    program.display(),
                    kind.install_hint()
                ));
            }
        };
        let outcome = ready::wait_ready(kind, port, &mut process, kind.ready_timeout()).await;
        let reason = match outcome {
            Ok(took) => {
                eprintln!("started {kind} on 127.0.0.1:{port} in {took:.2?}");
                return Ok((Emulator { kind, port }, process));
            }
            // A wrapper (the pyenv shim) found no such command.
            Err(NotReady::Exited(status)) if status.code() == Some(127) => {
                let output = process.kill_and_collect_output();
                return Err(format!("{}\nits output:\n{output}", missing(kind)));
            }
            Err(NotReady::Exited(status)) => format!("exited early ({status})"),
            Err(NotReady::TimedOut(limit)) => format!("did not answer within {limit:?}"),
        };
        let output = process.kill_and_collect_output();
        failures.push_str(&format!(
            "attempt {attempt}, port {port}: {reason}; its last output:\n{output}\n"
        ));
        if matches!(outcome, Err(NotReady::TimedOut(_))) {
            break;
        }
        if fixed_port.is_some() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Err(format!(
        "{kind} did not start:\n{failures}(if it is not installed properly: {})",
        kind.install_hint()
    ))
}

fn missing(kind: Kind) -> String {
    let what = match kind {
        Kind::Moto => "`python3` with the `moto` package".to_owned(),
        _ => format!("`{}`", kind.program().display()),
    };
    format!(
        "{kind} is not installed: {what} not found; {}",
        kind.install_hint()
    )
}

/// The Google Cloud SDK: the Debian package's place, else wherever the
/// `gcloud` on `PATH` lives (`<sdk>/bin/gcloud`).
fn google_sdk() -> PathBuf {
    let default = Path::new(GOOGLE_SDK);
    if default.join("platform").is_dir() {
        return default.to_path_buf();
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("gcloud"))
        .find(|gcloud| gcloud.is_file())
        .and_then(|gcloud| gcloud.canonicalize().ok())
        .and_then(|gcloud| Some(gcloud.parent()?.parent()?.to_path_buf()))
        .filter(|sdk| sdk.join("platform").is_dir())
        .unwrap_or_else(|| default.to_path_buf())
}
