//! Cold start of each function: the time from process start to its first
//! Runtime API `GET /2018-06-01/runtime/invocation/next`, with real SDK
//! clients configured (DynamoDB, SNS, Lambda; region and static credentials
//! given, endpoints on loopback — nothing is contacted before the poll),
//! beside a minimal `lambda_runtime` hello world; and each binary's size,
//! raw and gzip-compressed (about what a zip of it takes). Each start is
//! measured twice: wall-clock, and CPU time summed over the process's threads
//! (what a function's fraction of a vCPU pays for: below 1,769 MB a function
//! has less than one, so its threads share it).
//!
//! Each process gets the environment Lambda gives a function (nothing
//! inherited from this shell). The functions run twice: as configured by
//! default (`lambda.trust_roots: amazon`, the SDK's HTTPS client trusting the
//! compiled-in Amazon Trust Services roots) and with `trust_roots: system`,
//! the SDK's own default, which reads and parses the system's root store.
//!
//! ```text
//! cargo build --release -p angzarr-lambda --bins --example hello_world
//! cargo run --release -p angzarr-lambda --example cold_start [-- RUNS [BIN_DIR ...]]
//! ```
//! (`bins/lambda/benches/cold_start.sh` runs both.) Given several directories
//! of binaries (say, a build before and after a change), it compares them
//! side by side. Every function of every build starts once per round, so a
//! machine that slows down for a while slows each of them alike, the hello
//! world included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Starts a fake Runtime API; reports the instant of the first `next` poll.
fn runtime_api() -> (String, mpsc::Receiver<Instant>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Connections stay open (no answer): the process is killed after.
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buffer = [0u8; 1024];
            let n = stream.read(&mut buffer).unwrap_or(0);
            if String::from_utf8_lossy(&buffer[..n]).contains("/runtime/invocation/next") {
                let _ = tx.send(Instant::now());
            }
            held.push(stream);
        }
    });
    (address, rx)
}

fn env() -> Vec<(&'static str, String)> {
    let endpoint = "http://127.0.0.1:9".to_owned();
    vec![
        ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin".into()),
        ("LANG", "en_US.UTF-8".into()),
        ("TZ", ":UTC".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "bench".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "bench".into()),
        ("AWS_SECRET_ACCESS_KEY", "bench".into()),
        ("RUST_LOG", "warn".into()),
        ("ANGZARR_STORAGE__TYPE", "aws_dynamodb".into()),
        ("ANGZARR_STORAGE__AWS_DYNAMODB__ENDPOINT", endpoint.clone()),
        ("ANGZARR_MESSAGING__TYPE", "aws_sqs".into()),
        (
            "ANGZARR_MESSAGING__AWS_SQS__TOPIC_ARN_PREFIX",
            "arn:aws:sns:us-east-1:123456789012:angzarr-events-".into(),
        ),
        ("ANGZARR_MESSAGING__AWS_SQS__ENDPOINT", endpoint.clone()),
        ("ANGZARR_LAMBDA__AGGREGATE_FUNCTION", "aggregate".into()),
        ("ANGZARR_LAMBDA__INVOKE_ENDPOINT", endpoint),
    ]
}

/// What one start took: wall-clock time, and CPU time (every thread's, user
/// and system), from process start to the first `next` poll.
#[derive(Clone, Copy)]
struct Start {
    wall_us: u128,
    cpu_us: u128,
}

/// The CPU time the threads of `pid` have run, from the scheduler's
/// statistics (`/proc/PID/task/*/schedstat`, nanoseconds); 0 where the
/// kernel keeps none.
fn cpu_us(pid: u32) -> u128 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    let ns: u128 = tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u128>().ok())
        .sum();
    ns / 1000
}

/// One cold start of `binary` as the function `name` (the role it plays)
/// with `extra` variables.
fn cold_start(name: &str, binary: &Path, extra: &[(&str, &str)]) -> Start {
    let (address, polled) = runtime_api();
    let started = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .envs(env())
        .env("AWS_LAMBDA_RUNTIME_API", &address)
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .envs(extra.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
    let at = polled.recv_timeout(Duration::from_secs(10));
    // The function now waits for its event: what it has run so far is its
    // start.
    let cpu_us = cpu_us(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let at = at.unwrap_or_else(|_| panic!("{} never polled `next`", binary.display()));
    Start {
        wall_us: at.duration_since(started).as_micros(),
        cpu_us,
    }
}

fn gzip_size(binary: &Path) -> Option<u64> {
    let output = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(binary)
        .output()
        .ok()?;
    Some(output.stdout.len() as u64)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let runs: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(30);
    let mut dirs: Vec<PathBuf> = args.map(PathBuf::from).collect();
    if dirs.is_empty() {
        dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release"));
    }
    // The stock functions host what `business` names: gRPC services (dialled
    // lazily, so not at a cold start), or a Python child the function starts
    // and health-checks before its first poll.
    let scratch = std::env::temp_dir().join(format!("angzarr-cold-start-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let grpc = scratch.join("grpc.yaml");
    std::fs::write(
        &grpc,
        "business:\n  aggregates: { cart: { grpc: 'http://127.0.0.1:9' } }\n  \
         projectors: { order-summary: { grpc: 'http://127.0.0.1:9', domains: [order] } }\n  \
         sagas: { checkout: { grpc: 'http://127.0.0.1:9', domains: [cart] } }\n",
    )
    .unwrap();
    // The interpreter itself, not a shim: the function's environment is
    // Lambda's, not this shell's.
    let python = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "python3".to_owned());
    let child = scratch.join("child.yaml");
    std::fs::write(
        &child,
        format!("business:\n  aggregates: {{ cart: {{ command: ['{python}', -m, shop_services, cart] }} }}\n"),
    )
    .unwrap();
    let python_path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/shop-python")
        .display()
        .to_string();
    let (grpc, child) = (grpc.display().to_string(), child.display().to_string());
    let stock = vec![("ANGZARR_CONFIG", grpc.as_str())];
    let with_child = vec![
        ("ANGZARR_CONFIG", child.as_str()),
        ("PYTHONPATH", python_path.as_str()),
    ];
    let binaries = [
        (
            "hello-world (lambda_runtime)",
            "hello-world",
            "examples/hello_world",
            vec![],
        ),
        ("gateway", "gateway", "gateway", stock.clone()),
        ("aggregate", "aggregate", "aggregate", stock.clone()),
        (
            "projector-trigger",
            "projector-trigger",
            "projector-trigger",
            stock.clone(),
        ),
        (
            "saga-trigger",
            "saga-trigger",
            "saga-trigger",
            stock.clone(),
        ),
        (
            "aggregate + Python child (cart)",
            "aggregate",
            "aggregate",
            with_child,
        ),
    ];
    println!("cold start: process start → first Runtime API `next` poll, {runs} runs each");
    for (n, dir) in dirs.iter().enumerate() {
        println!("build {}: {}", n + 1, dir.display());
    }
    println!(
        "| function | build | median ms | p90 ms | min ms | × hello world | CPU ms | CPU × hello world | median ms, trust_roots: system | binary MB | gzip MB |\n\
         |---|---|---|---|---|---|---|---|---|---|---|"
    );
    // Every function of every build, in one list; each round starts each of
    // them once, in a shuffled order, so a machine that slows down for a
    // while slows them alike (the hello world included), and no function
    // always follows the same one (the exit of a Python child slows the
    // next start).
    let cases: Vec<Case> = binaries
        .iter()
        .flat_map(|(name, function, file, env)| {
            dirs.iter().enumerate().map(move |(build, dir)| Case {
                name,
                function,
                binary: dir.join(file),
                build,
                env,
            })
        })
        .collect();
    let measure = |extra: &[(&str, &str)]| {
        let envs: Vec<Vec<(&str, &str)>> = cases
            .iter()
            .map(|case| case.env.iter().chain(extra).copied().collect())
            .collect();
        // One unmeasured start warms the page cache, as a provisioned host has it.
        for (case, env) in cases.iter().zip(&envs) {
            let _ = cold_start(case.function, &case.binary, env);
        }
        let mut starts = vec![Vec::with_capacity(runs); cases.len()];
        let mut order: Vec<usize> = (0..cases.len()).collect();
        // A fixed seed, so runs are repeatable.
        let mut rng = fastrand::Rng::with_seed(0x9e37_79b9_7f4a_7c15);
        for _ in 0..runs {
            rng.shuffle(&mut order);
            for &i in &order {
                let case = &cases[i];
                starts[i].push(cold_start(case.function, &case.binary, &envs[i]));
            }
        }
        starts
    };
    let starts = measure(&[]);
    let system_roots = measure(&[("ANGZARR_LAMBDA__TRUST_ROOTS", "system")]);
    let ms = |us: u128| us as f64 / 1000.0;
    let mb = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    let mut hello_world: Vec<Option<(u128, u128)>> = vec![None; dirs.len()];
    for (
        i,
        Case {
            name,
            binary,
            build,
            ..
        },
    ) in cases.iter().enumerate()
    {
        let wall = sorted(starts[i].iter().map(|s| s.wall_us));
        let cpu = sorted(starts[i].iter().map(|s| s.cpu_us));
        let system_roots = sorted(system_roots[i].iter().map(|s| s.wall_us));
        let (median, cpu_median) = (wall[wall.len() / 2], cpu[cpu.len() / 2]);
        let (hello, hello_cpu) = *hello_world[*build].get_or_insert((median, cpu_median));
        let size = std::fs::metadata(binary)
            .map(|m| m.len())
            .unwrap_or_default();
        println!(
            "| {name} | {} | {:.2} | {:.2} | {:.2} | {:.1} | {:.2} | {:.1} | {:.2} | {:.1} | {} |",
            build + 1,
            ms(median),
            ms(wall[(wall.len() * 9 / 10).min(wall.len() - 1)]),
            ms(wall[0]),
            median as f64 / hello as f64,
            ms(cpu_median),
            cpu_median as f64 / hello_cpu.max(1) as f64,
            ms(system_roots[system_roots.len() / 2]),
            mb(size),
            gzip_size(binary).map_or("-".into(), |g| format!("{:.1}", mb(g))),
        );
    }
}

/// One function of one build, as measured.
struct Case<'a> {
    name: &'a str,
    function: &'a str,
    binary: PathBuf,
    build: usize,
    env: &'a [(&'a str, &'a str)],
}

fn sorted(values: impl Iterator<Item = u128>) -> Vec<u128> {
    let mut values: Vec<u128> = values.collect();
    values.sort_unstable();
    values
}
