//! `angzarr`: the local all-in-one runtime on the embedded memory backends.
//!
//! ```text
//! cargo run -p angzarr-cli -- demo              # the shop flow, step by step
//! cargo run -p angzarr-cli -- dev [--port N] [--shop]   # the business config over gRPC on localhost
//! cargo run -p angzarr-cli -- config            # the effective configuration
//! ```

mod demo;
mod dev;

use std::process::ExitCode;

const USAGE: &str = "\
usage: angzarr <command>

commands:
  demo              run the shop flow (cart, order, payment, saga, shipment, read model) on the memory backends
  dev [--port N] [--shop]
                    serve what the configuration's `business` section names (with --shop, plus the
                    example shop in Rust) over gRPC on 127.0.0.1 (default port 1310; 0 picks a free
                    one) until Ctrl-C
  config            print the effective configuration (defaults < $ANGZARR_CONFIG < ANGZARR_* env)
";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["demo"] => demo::run().await,
        ["dev", options @ ..] => match dev_options(options) {
            Ok((port, shop)) => dev::run(port, shop).await,
            Err(message) => usage_error(&message),
        },
        ["config"] => print_config(),
        ["-h" | "--help" | "help"] => {
            print!("{USAGE}");
            Ok(())
        }
        [] => usage_error("no command given"),
        [other, ..] => usage_error(&format!("unknown command `{other}`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.is::<UsageError>() => ExitCode::from(2),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `dev`'s options: the port (default 1310) and `--shop`.
fn dev_options(options: &[&str]) -> Result<(u16, bool), String> {
    let (mut port, mut shop) = (1310, false);
    let mut options = options.iter();
    while let Some(option) = options.next() {
        match *option {
            "--shop" => shop = true,
            "--port" => {
                let value = options.next().ok_or("--port needs a value")?;
                port = value
                    .parse()
                    .map_err(|_| format!("`{value}` is not a port"))?;
            }
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    Ok((port, shop))
}

/// A command line that does not parse (exit code 2, usage printed).
#[derive(Debug)]
struct UsageError;

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("usage error")
    }
}

impl std::error::Error for UsageError {}

fn usage_error(message: &str) -> anyhow::Result<()> {
    eprint!("{message}\n{USAGE}");
    Err(UsageError.into())
}

/// The whole effective configuration tree as JSON (which is YAML): the core
/// sections, the gateway's, the business logic, the role, push
/// authentication and the payload store (typed, with their defaults), and
/// whatever the tree holds for the platforms' own sections; secrets redacted.
fn print_config() -> anyhow::Result<()> {
    use angzarr_core::config::Config;
    let figment = Config::figment()?;
    let mut tree = serde_json::to_value(Config::from_figment(figment.clone())?)?;
    tree["gateway"] =
        serde_json::to_value(angzarr_gateway::GatewayConfig::from_figment(&figment)?)?;
    tree["business"] = serde_json::to_value(angzarr_host::BusinessConfig::from_figment(&figment)?)?;
    if let Some(role) = angzarr_host::Role::from_figment(&figment)? {
        tree["role"] = serde_json::Value::from(role.as_str());
    }
    tree["push_auth"] = serde_json::to_value(
        angzarr_bus_pubsub::push::PushAuthConfig::from_figment(&figment)?,
    )?;
    tree["payload"] =
        serde_json::to_value(angzarr_payload_s3::PayloadConfig::from_figment(&figment)?)?;
    for section in ["lambda", "cloudrun"] {
        if let Ok(value) = figment.extract_inner::<serde_json::Value>(section) {
            tree[section] = value;
        }
    }
    redact(&mut tree);
    println!("{}", serde_json::to_string_pretty(&tree)?);
    Ok(())
}

/// Replaces secrets in `value`: values of keys that name one (token,
/// password, secret, credentials, keys), and the password of any URL.
fn redact(value: &mut serde_json::Value) {
    const SECRET_KEYS: &[&str] = &["token", "password", "secret", "credential", "access_key"];
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                let key = key.to_ascii_lowercase();
                if SECRET_KEYS.iter().any(|s| key.contains(s)) && !inner.is_null() {
                    *inner = serde_json::Value::from("<redacted>");
                } else {
                    redact(inner);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact),
        serde_json::Value::String(text) => {
            if let Ok(mut url) = url::Url::parse(text)
                && url.password().is_some()
                && url.set_password(Some("redacted")).is_ok()
            {
                *text = url.to_string();
            }
        }
        _ => {}
    }
}
