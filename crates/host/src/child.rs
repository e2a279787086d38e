//! [`ChildProcess`]: business logic the host starts itself — a gRPC server
//! (in any language) listening on a Unix socket whose path it is given in
//! [`SOCKET_VAR`]. A Lambda function cannot be reached as a server, so its
//! business logic runs beside it like this, in the same sandbox.
//!
//! * started once per process, before the first invocation
//!   ([`ChildProcess::start`]), and ready when it answers the standard gRPC
//!   health check (`grpc.health.v1.Health/Check` → `SERVING`; a server
//!   without the health service that answers `UNIMPLEMENTED` is up too);
//! * its stdout and stderr forwarded line by line to the log;
//! * the [`ChannelSource`] of its gRPC target, checked before each call: a
//!   call in flight when it dies fails with [`Error::Unavailable`]
//!   (retriable, never a success); the next call restarts it, once, on a
//!   new connection — if that restart does not come up, every later call
//!   fails fast with `Unavailable` until the process (sandbox) is replaced;
//! * killed when the host drops it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use angzarr_core::{Error, Result};
use angzarr_runtime::grpc::client::{ChannelSource, GrpcTarget};
use async_trait::async_trait;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::UnixStream;
use tokio::process::{Child, Command};
use tokio::sync::Mutex;
use tonic::transport::{Channel, Endpoint, Uri};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// The variable naming the Unix socket a child must listen on.
pub const SOCKET_VAR: &str = "ANGZARR_SOCKET";

/// How long a child gets to answer its health check, by default.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(30);

const BACKEND: &str = "child process";

/// A business-logic process the host runs and supervises.
#[derive(Debug)]
pub struct ChildProcess {
    key: String,
    name: String,
    argv: Vec<String>,
    env: BTreeMap<String, String>,
    socket: PathBuf,
    start_timeout: Duration,
    state: Mutex<State>,
    /// A call's connection broke: check the process before the next call.
    suspect: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    child: Option<Child>,
    /// The connection of the running process (one per start).
    channel: Option<Channel>,
    /// Whether the process has been up once (a later start is a restart).
    started: bool,
    /// Why the restart after its death did not come up.
    failed: Option<String>,
}

impl ChildProcess {
    /// `argv` (program and arguments) for the component configured at `key`,
    /// named `name` in logs and errors, listening on `socket` (`None`: a
    /// fresh path under the temporary directory), with `env` added to the
    /// host's environment, given `start_timeout` to answer its health check.
    pub fn new(
        key: impl Into<String>,
        name: impl Into<String>,
        argv: Vec<String>,
        socket: Option<PathBuf>,
        env: BTreeMap<String, String>,
        start_timeout: Duration,
    ) -> Result<Arc<Self>> {
        let key = key.into();
        let name = name.into();
        if argv.first().is_none_or(|program| program.trim().is_empty()) {
            return Err(Error::config(
                format!("{key}.command"),
                "names no program (give the program and its arguments as a list)",
            ));
        }
        let socket = socket.unwrap_or_else(|| auto_socket(&name));
        Ok(Arc::new(Self {
            key,
            name,
            argv,
            env,
            socket,
            start_timeout,
            state: Mutex::new(State::default()),
            suspect: AtomicBool::new(false),
        }))
    }

    /// The configuration key of the component.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The socket the process listens on.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Starts the process unless it runs, and waits until it is healthy. At
    /// start-up a failure names the configuration key (the host refuses to
    /// start).
    pub async fn start(&self) -> Result<()> {
        self.ensure_running().await.map(drop).map_err(|e| match e {
            Error::Unavailable { source, .. } => {
                Error::config(format!("{}.command", self.key), source.to_string())
            }
            other => other,
        })
    }

    /// The process's OS id, while it runs.
    pub async fn pid(&self) -> Option<u32> {
        let state = self.state.lock().await;
        state.child.as_ref().and_then(Child::id)
    }

    /// The gRPC target of the process, named `name`: each call goes through
    /// [`ChannelSource::channel`], which starts or restarts it as needed.
    pub fn target(self: &Arc<Self>, name: &str) -> GrpcTarget {
        GrpcTarget::from_source(name, self.clone())
    }

    async fn ensure_running(&self) -> Result<Channel> {
        let mut state = self.state.lock().await;
        if self.suspect.swap(false, Ordering::SeqCst) {
            // The process may be exiting: give it a moment to be seen so,
            // and use a new connection either way.
            if let Some(child) = state.child.as_mut() {
                let _ = tokio::time::timeout(Duration::from_millis(500), child.wait()).await;
            }
            state.channel = None;
        }
        if let Some(child) = state.child.as_mut() {
            match child.try_wait() {
                Ok(None) => {
                    let channel = state
                        .channel
                        .get_or_insert_with(|| connect(self.socket.clone()))
                        .clone();
                    return Ok(channel);
                }
                Ok(Some(status)) => {
                    tracing::warn!(component = %self.name, %status, "business-logic process exited; restarting it");
                }
                Err(error) => {
                    tracing::warn!(component = %self.name, %error, "cannot check the business-logic process; restarting it");
                }
            }
            state.child = None;
            state.channel = None;
        }
        if let Some(reason) = &state.failed {
            return Err(
                self.unavailable(format!("exited, and its restart did not come up: {reason}"))
            );
        }
        let restart = state.started;
        match self.spawn_and_wait().await {
            Ok(child) => {
                let channel = connect(self.socket.clone());
                state.child = Some(child);
                state.channel = Some(channel.clone());
                state.started = true;
                Ok(channel)
            }
            Err(reason) => {
                if restart {
                    state.failed = Some(reason.clone());
                }
                Err(self.unavailable(reason))
            }
        }
    }

    fn unavailable(&self, reason: String) -> Error {
        Error::unavailable(BACKEND, format!("`{}` ({}): {reason}", self.name, self.key))
    }

    /// Spawns the process and waits for its health check; the reason on failure.
    async fn spawn_and_wait(&self) -> std::result::Result<Child, String> {
        if self.socket.exists() {
            std::fs::remove_file(&self.socket).map_err(|e| {
                format!(
                    "cannot remove the old socket `{}`: {e}",
                    self.socket.display()
                )
            })?;
        }
        let (program, args) = self.argv.split_first().ok_or("names no program")?;
        let mut command = Command::new(program);
        stop_with_parent(&mut command);
        let mut child = command
            .args(args)
            .envs(&self.env)
            .env(SOCKET_VAR, &self.socket)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start `{program}`: {e}"))?;
        if let Some(stdout) = child.stdout.take() {
            forward(self.name.clone(), "stdout", stdout);
        }
        if let Some(stderr) = child.stderr.take() {
            forward(self.name.clone(), "stderr", stderr);
        }
        let deadline = tokio::time::Instant::now() + self.start_timeout;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("exited with {status} before serving"));
            }
            if self.healthy().await {
                tracing::info!(component = %self.name, socket = %self.socket.display(), "business-logic process serving");
                return Ok(child);
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = child.start_kill();
                return Err(format!(
                    "not serving on `{}` within {:?}",
                    self.socket.display(),
                    self.start_timeout
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Whether the process answers the gRPC health check on its socket.
    async fn healthy(&self) -> bool {
        let Ok(stream) = UnixStream::connect(&self.socket).await else {
            return false;
        };
        let mut stream = Some(stream);
        let connector = tower::service_fn(move |_: Uri| {
            let stream = stream.take();
            async move {
                stream
                    .map(hyper_util::rt::TokioIo::new)
                    .ok_or_else(|| std::io::Error::other("one connection only"))
            }
        });
        let Ok(channel) = Endpoint::from_static("http://child.invalid")
            .connect_with_connector(connector)
            .await
        else {
            return false;
        };
        let mut request = tonic::Request::new(HealthCheckRequest::default());
        request.set_timeout(Duration::from_secs(1));
        match HealthClient::new(channel).check(request).await {
            Ok(answer) => answer.into_inner().status() == ServingStatus::Serving,
            Err(status) => status.code() == tonic::Code::Unimplemented,
        }
    }
}

#[async_trait]
impl ChannelSource for ChildProcess {
    async fn channel(&self) -> Result<Channel> {
        self.ensure_running().await
    }

    fn broken(&self) {
        self.suspect.store(true, Ordering::SeqCst);
    }
}

/// Has the child sent SIGTERM when the host dies, however it dies (Linux:
/// `PR_SET_PDEATHSIG`), so that no business-logic process outlives its host.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn stop_with_parent(command: &mut Command) {
    // SAFETY: the closure runs in the child between fork and exec and only
    // calls prctl(2), which is async-signal-safe and touches no memory of
    // ours. (The signal is tied to the thread that forks: the runtime's
    // worker threads live as long as the host.)
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn stop_with_parent(_command: &mut Command) {}

/// A lazily connected channel to the Unix socket at `socket`.
fn connect(socket: PathBuf) -> Channel {
    let connector = tower::service_fn(move |_: Uri| {
        let socket = socket.clone();
        async move {
            let stream = UnixStream::connect(&socket).await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
        }
    });
    // The authority is never dialled: the connector picks the socket.
    Endpoint::from_static("http://child.invalid").connect_with_connector_lazy(connector)
}

/// `angzarr-<pid>-<n>-<name>.sock` in the temporary directory, `n` counting
/// this process's sockets (short: a socket path has about 100 bytes).
fn auto_socket(name: &str) -> PathBuf {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    let name: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(40)
        .collect();
    std::env::temp_dir().join(format!("angzarr-{}-{n}-{name}.sock", std::process::id()))
}

/// Logs each line of `stream`, tagged with the component.
fn forward(name: String, stream: &'static str, reader: impl AsyncRead + Unpin + Send + 'static) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if stream == "stderr" {
                tracing::warn!(component = %name, stream, "{line}");
            } else {
                tracing::info!(component = %name, stream, "{line}");
            }
        }
    });
}
