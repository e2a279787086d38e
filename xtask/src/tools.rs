//! Makes sure the programs the tests start are installed: installs moto,
//! grpcio and cargo-lambda (pip) and Redis (apt) when missing; checks the
//! Google emulators, `cbt` and Java.

use std::env;
use std::ffi::{OsStr, OsString};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use angzarr_testkit::emulators::Kind;
use angzarr_testkit::published_python;
use anyhow::{Result, bail};

/// The imports moto's server needs (werkzeug and flask come with `moto[server]`).
const MOTO_IMPORT: &str = "import moto, moto.server, werkzeug.serving";

/// Checks every tool, installing what can be installed, and returns the
/// `PATH` under which the tests find them.
pub(crate) fn ensure() -> Result<OsString> {
    let path = with_python_user_scripts(env::var_os("PATH").unwrap_or_default());
    let mut missing = Vec::new();

    // The testkit runs moto's WSGI app from its own launcher
    // (`angzarr_testkit::emulators::MOTO_LAUNCHER`), so what it needs is a
    // `python3` that imports moto's server.
    let moto_present = |path: &OsStr| runs("python3", &["-c", MOTO_IMPORT], path);
    if !moto_present(&path) {
        println!("python3 cannot import moto's server: installing moto[server] with pip");
        pip_install(&["moto[server]"]);
    }
    match which("python3", &path).filter(|_| moto_present(&path)) {
        Some(found) => report("moto", &found, &moto_version(&path)),
        None => missing.push(Kind::Moto.install_hint().to_owned()),
    }

    if which("redis-server", &path).is_none() {
        println!("redis-server not found: installing it with apt-get");
        install_redis();
    }
    match which("redis-server", &path) {
        Some(found) => report("redis-server", &found, ""),
        None => missing.push(Kind::Redis.install_hint().to_owned()),
    }

    // The shop's Python services (examples/shop-python) need grpcio, its
    // code generator and its health service.
    let grpc_present = || {
        runs(
            "python3",
            &["-c", "import grpc, grpc_tools, grpc_health.v1.health"],
            &path,
        )
    };
    if !grpc_present() {
        println!(
            "python grpcio / grpcio-tools / grpcio-health-checking not found: installing them with pip"
        );
        pip_install(&["grpcio", "grpcio-tools", "grpcio-health-checking"]);
    }
    if grpc_present() {
        report(
            "grpcio",
            Path::new("python3"),
            "(grpcio, grpcio-tools, grpcio-health-checking)",
        );
    } else {
        missing.push(
            "python3 with grpcio, grpcio-tools and grpcio-health-checking: \
             `python3 -m pip install -r examples/shop-python/requirements.txt`"
                .to_owned(),
        );
    }

    // The compatibility suite runs the published client library in an
    // environment of its own (its protobuf pin differs from the shop's).
    match published_python(&path) {
        Some(version) => report(
            "angzarr-client",
            &published_python::venv(),
            &format!("({version}, published, for the compatibility suite)"),
        ),
        None => missing.push(published_python::HINT.to_owned()),
    }

    // The Lambda end-to-end tests run the functions under `cargo lambda watch`
    // (a local Lambda Runtime API).
    if !runs("cargo-lambda", &["lambda", "--version"], &path) {
        println!("cargo-lambda not found: installing it with pip");
        pip_install(&["cargo-lambda"]);
        if which("pyenv", &path).is_some() {
            let _ = Command::new("pyenv").arg("rehash").status();
        }
    }
    match which("cargo-lambda", &path)
        .filter(|_| runs("cargo-lambda", &["lambda", "--version"], &path))
    {
        Some(found) => report("cargo-lambda", &found, ""),
        None => {
            missing.push("cargo-lambda not found: `python3 -m pip install cargo-lambda`".to_owned())
        }
    }

    for kind in [Kind::PubSub, Kind::Bigtable] {
        let program = kind.program();
        if program.is_file() {
            report(&kind.to_string(), &program, "");
        } else {
            missing.push(format!(
                "{} not found: {}",
                program.display(),
                kind.install_hint()
            ));
        }
    }

    match which("java", &path) {
        Some(found) => report("java", &found, &java_version(&path)),
        None => missing.push(format!("java not found: {}", Kind::PubSub.install_hint())),
    }
    // The emulator tests make Bigtable tables with it.
    match which("cbt", &path) {
        Some(found) => report("cbt", &found, ""),
        None => missing.push(
            "cbt not found: install it with `apt-get install -y google-cloud-cli-cbt` \
             (or `gcloud components install cbt`)"
                .to_owned(),
        ),
    }

    if !missing.is_empty() {
        bail!("missing tools:\n  - {}", missing.join("\n  - "));
    }
    Ok(path)
}

fn report(name: &str, found: &Path, detail: &str) {
    println!("  {name:<18} {} {detail}", found.display());
}

/// Makes `target/published-python` (a virtual environment with the
/// published `angzarr-client`) when it is missing or does not hold the
/// pinned version; the version it holds, or `None` when it could not be made.
fn published_python(path: &OsStr) -> Option<String> {
    const VERSION: &str =
        "from importlib.metadata import version; print(version('angzarr-client'))";
    let pinned = std::fs::read_to_string(published_python::requirements())
        .ok()?
        .lines()
        .find_map(|line| {
            line.trim()
                .strip_prefix("angzarr-client==")
                .map(str::to_owned)
        })?;
    let installed = || {
        let python = published_python::python()?;
        let version = output(python.to_str()?, &["-c", VERSION], path);
        (version.trim() == pinned).then(|| format!("angzarr-client {pinned}"))
    };
    if let Some(found) = installed() {
        return Some(found);
    }
    println!("target/published-python lacks angzarr-client {pinned}: making it with venv and pip");
    let venv = published_python::venv();
    let made = Command::new("python3")
        .args(["-m", "venv", "--clear"])
        .arg(&venv)
        .env("PATH", path)
        .status()
        .is_ok_and(|status| status.success());
    let requirements = published_python::requirements();
    let pip = made
        && pip(
            &venv.join("bin/python"),
            &[OsStr::new("-r"), requirements.as_os_str()],
        );
    if !pip {
        println!("could not make {}", venv.display());
    }
    installed()
}

/// `python -m pip install --quiet ... args`; whether it succeeded.
fn pip<S: AsRef<OsStr>>(python: &Path, args: &[S]) -> bool {
    Command::new(python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(args)
        .status()
        .is_ok_and(|status| status.success())
}

/// Installs Python packages with pip; false when pip could not.
fn pip_install(packages: &[&str]) -> bool {
    let python = Path::new("python3");
    let with = |extra: &[&str]| pip(python, &[extra, packages].concat());
    // Debian's own Python refuses plain `pip install` (PEP 668).
    let installed = with(&[]) || with(&["--break-system-packages"]);
    if !installed {
        println!("pip could not install {}", packages.join(" "));
    }
    installed
}

fn install_redis() {
    let root = output("id", &["-u"], OsStr::new("/usr/bin:/bin")).trim() == "0";
    let apt = |args: &[&str]| {
        let mut command =
            if root || which("sudo", &env::var_os("PATH").unwrap_or_default()).is_none() {
                Command::new("apt-get")
            } else {
                let mut sudo = Command::new("sudo");
                sudo.arg("apt-get");
                sudo
            };
        command
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|status| status.success())
    };
    let install = ["install", "-y", "--no-install-recommends", "redis-server"];
    if !apt(&install) {
        // A fresh machine may have no package lists yet.
        let _ = apt(&["update"]);
        apt(&install);
    }
}

fn moto_version(path: &OsStr) -> String {
    let version = output(
        "python3",
        &["-c", "import moto; print(moto.__version__)"],
        path,
    );
    format!(
        "(moto {}, through the testkit's serial-DynamoDB launcher)",
        version.trim()
    )
}

fn java_version(path: &OsStr) -> String {
    let out = Command::new("java")
        .arg("-version")
        .env("PATH", path)
        .output()
        .map(|out| String::from_utf8_lossy(&out.stderr).into_owned())
        .unwrap_or_default();
    out.lines().next().unwrap_or("").to_owned()
}

/// Whether `program args` runs and succeeds (quietly).
/// `path` with the directory pip installs scripts to for `--user` installs
/// (`$(python3 -m site --user-base)/bin`, e.g. `~/.local/bin`) appended,
/// when that directory exists and is not on it: pip falls back to a user
/// install where the interpreter's own directory is not writable, and
/// `cargo-lambda` is such a script.
fn with_python_user_scripts(path: OsString) -> OsString {
    let base = Command::new("python3")
        .args(["-m", "site", "--user-base"])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned());
    let Some(bin) = base.map(|b| PathBuf::from(b).join("bin")) else {
        return path;
    };
    if !bin.is_dir() || env::split_paths(&path).any(|p| p == bin) {
        return path;
    }
    env::join_paths(env::split_paths(&path).chain([bin])).unwrap_or(path)
}

fn runs(program: &str, args: &[&str], path: &OsStr) -> bool {
    let Some(program) = which(program, path) else {
        return false;
    };
    Command::new(program)
        .args(args)
        .env("PATH", path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The standard output of `program args`, or empty if it fails.
fn output(program: &str, args: &[&str], path: &OsStr) -> String {
    let program = which(program, path).unwrap_or_else(|| program.into());
    Command::new(program)
        .args(args)
        .env("PATH", path)
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default()
}

/// The first executable `name` in the directories of `path`.
pub(crate) fn which(name: &str, path: &OsStr) -> Option<PathBuf> {
    env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(file: &Path) -> bool {
    file.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}
