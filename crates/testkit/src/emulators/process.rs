//! Emulator child processes that cannot outlive the test binary.
//!
//! The test harness never runs destructors for statics, so the shared
//! emulators are never dropped. Instead every child asks the kernel to
//! SIGKILL it when its parent goes away (`PR_SET_PDEATHSIG`). That signal is
//! tied to the *thread* that forked the child, not to the process, so all
//! children are forked by one launcher thread that lives as long as the
//! process: the test threads come and go, the emulators stay until exit.
//!
//! Each child also leads its own process group, so that [`Process::kill`]
//! takes down anything a wrapper script left running besides the server.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How many lines of the child's output are kept for error messages.
const TAIL_LINES: usize = 40;

type Tail = Arc<Mutex<VecDeque<String>>>;
type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// A running emulator process: killed (with its process group) on drop.
pub(crate) struct Process {
    child: Child,
    tail: Tail,
    drains: Vec<JoinHandle<()>>,
    reaped: bool,
}

impl Process {
    /// Spawns `command` from the launcher thread, in its own process group,
    /// with stdout and stderr captured into a short tail.
    pub(crate) fn spawn(mut command: Command) -> io::Result<Self> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let (reply, response) = mpsc::channel();
        launcher()
            .send((command, reply))
            .expect("the emulator launcher thread is gone");
        let mut child = response
            .recv()
            .expect("the emulator launcher thread is gone")?;
        let tail = Tail::default();
        let mut drains = Vec::new();
        if let Some(out) = child.stdout.take() {
            drains.push(drain(out, Arc::clone(&tail)));
        }
        if let Some(err) = child.stderr.take() {
            drains.push(drain(err, Arc::clone(&tail)));
        }
        Ok(Self {
            child,
            tail,
            drains,
            reaped: false,
        })
    }

    /// The exit status if the process has ended (it is then reaped).
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.try_wait().ok().flatten();
        self.reaped |= status.is_some();
        status
    }

    /// Kills the process and returns the last lines it wrote to stdout and
    /// stderr, once they are read to the end (or after a second at most).
    pub(crate) fn kill_and_collect_output(&mut self) -> String {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(1);
        while self.drains.iter().any(|d| !d.is_finished()) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        let tail = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        tail.iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Kills the whole process group and reaps the child.
    pub(crate) fn kill(&mut self) {
        if self.reaped || self.exited().is_some() {
            return;
        }
        signal_group(self.child.id(), libc::SIGKILL);
        let _ = self.child.wait();
        self.reaped = true;
    }

    /// Freezes the process group (SIGSTOP): connections are accepted by the
    /// kernel but never answered, as with a hung server. State is kept.
    pub(crate) fn pause(&mut self) {
        if !self.reaped && self.exited().is_none() {
            signal_group(self.child.id(), libc::SIGSTOP);
            // kill(2) returns before the signal is delivered: wait until every
            // process of the group is really stopped, so the caller's next
            // request cannot still be answered.
            let deadline = Instant::now() + Duration::from_secs(5);
            while !group_stopped(self.child.id()) && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(5));
            }
        }
    }

    /// Thaws a paused process group (SIGCONT).
    pub(crate) fn resume(&mut self) {
        if !self.reaped && self.exited().is_none() {
            signal_group(self.child.id(), libc::SIGCONT);
        }
    }
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("pid", &self.child.id())
            .finish_non_exhaustive()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

#[allow(unsafe_code)]
fn signal_group(leader: u32, signal: libc::c_int) {
    let pgid = libc::pid_t::try_from(leader).expect("pid fits in pid_t");
    // SAFETY: kill(2) has no memory-safety preconditions. The child leads its
    // own group (`process_group(0)`) and has not been reaped yet, so the group
    // id cannot have been reused by an unrelated process.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

/// Whether every live process of group `pgid` is stopped (state `T`), read
/// from `/proc/<pid>/stat`: `pid (comm) state ppid pgrp ...`.
fn group_stopped(pgid: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return true;
    };
    let mut members = 0;
    for entry in entries.flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `comm` may hold spaces and parentheses: fields start after the last `)`.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let (Some(state), Some(_ppid), Some(pgrp)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if pgrp.parse::<u32>().ok() != Some(pgid) || matches!(state, "Z" | "X") {
            continue;
        }
        members += 1;
        if state != "T" && state != "t" {
            return false;
        }
    }
    members > 0
}

/// Keeps the last [`TAIL_LINES`] lines of a child's output stream.
fn drain(stream: impl Read + Send + 'static, tail: Tail) -> JoinHandle<()> {
    thread::Builder::new()
        .name("emulator-output".into())
        .spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut line = Vec::new();
            while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                let text = String::from_utf8_lossy(&line).trim_end().to_owned();
                let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
                if tail.len() == TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(text);
                line.clear();
            }
        })
        .expect("cannot start an emulator output thread")
}

/// The launcher thread's inbox. The thread is started on first use and runs
/// until the process exits; it must never end, or its children would die.
fn launcher() -> &'static mpsc::Sender<SpawnRequest> {
    static LAUNCHER: OnceLock<mpsc::Sender<SpawnRequest>> = OnceLock::new();
    LAUNCHER.get_or_init(|| {
        let (send, requests) = mpsc::channel::<SpawnRequest>();
        thread::Builder::new()
            .name("emulator-launcher".into())
            .spawn(move || {
                // The sender lives in a static, so this loop never ends.
                for (mut command, reply) in requests {
                    die_with_parent(&mut command);
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("cannot start the emulator launcher thread");
        send
    })
}

/// Makes the kernel SIGKILL the child when the thread that forked it ends,
/// which for the launcher thread means when the process exits, however it
/// exits (even by SIGKILL). The setting survives `exec` of the wrapper
/// scripts (pyenv shim, the Pub/Sub emulator's start script), which all
/// `exec` the real server.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn die_with_parent(command: &mut Command) {
    let parent = libc::pid_t::try_from(std::process::id()).expect("pid fits in pid_t");
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe system calls (prctl, getppid); it neither allocates
    // nor takes locks.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut Command) {}
