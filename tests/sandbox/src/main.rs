//! Runs the sandbox until Ctrl-C, for trying the SDK's examples by hand.
//!
//! ```text
//! cargo run -p agentwire-sandbox -- [--port N] [--project-key KEY] [--event-delay-ms MS]
//!                                    [--tls [--ca-file PATH]]
//! ```

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use agentwire_sandbox::{Sandbox, DEFAULT_EVENT_DELAY, DEFAULT_PROJECT_KEY};

const USAGE: &str = "\
usage: agentwire-sandbox [--port N] [--project-key KEY] [--event-delay-ms MS]
                         [--tls [--ca-file PATH]]

  --port N             TCP port on 127.0.0.1 (default 8080; 0 picks a free one)
  --project-key KEY    the Promptev project key to accept
  --event-delay-ms MS  pause between streamed events (default 5)
  --tls                serve HTTPS with a certificate made at start-up; the CA
                       to trust is printed (PEM)
  --ca-file PATH       with --tls, also write that CA certificate to PATH";

struct Options {
    port: u16,
    project_key: String,
    event_delay: Duration,
    tls: bool,
    ca_file: Option<std::path::PathBuf>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        port: 8080,
        project_key: DEFAULT_PROJECT_KEY.to_string(),
        event_delay: DEFAULT_EVENT_DELAY,
        tls: false,
        ca_file: None,
    };
    while let Some(arg) = args.next() {
        // Accept both `--flag value` and `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (arg, None),
        };
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        if flag == "--tls" {
            if inline.is_some() {
                return Err("--tls takes no value".into());
            }
            options.tls = true;
            continue;
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--port" | "-p" => {
                let v = value()?;
                options.port = v
                    .parse()
                    .map_err(|_| format!("--port: not a port number: {v}"))?;
            }
            "--project-key" => options.project_key = value()?,
            "--event-delay-ms" => {
                let v = value()?;
                let ms: u64 = v
                    .parse()
                    .map_err(|_| format!("--event-delay-ms: not a number: {v}"))?;
                options.event_delay = Duration::from_millis(ms);
            }
            "--ca-file" => options.ca_file = Some(value()?.into()),
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    if options.ca_file.is_some() && !options.tls {
        return Err("--ca-file needs --tls".into());
    }
    Ok(Some(options))
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("agentwire-sandbox: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let started = Sandbox::builder()
        .bind(SocketAddr::from((Ipv4Addr::LOCALHOST, options.port)))
        .project_key(options.project_key)
        .event_delay(options.event_delay)
        .tls(options.tls)
        .start()
        .await;
    let sandbox = match started {
        Ok(sandbox) => sandbox,
        Err(e) => {
            eprintln!(
                "agentwire-sandbox: cannot listen on port {}: {e}",
                options.port
            );
            return ExitCode::FAILURE;
        }
    };
    let promptev = sandbox.promptev();
    println!("agentwire sandbox listening on {}", sandbox.base_url());
    println!("promptev project key: {}", promptev.project_key());
    println!("promptev agents: {}", promptev.agent_ids().join(", "));
    println!("faults: POST {}/_sandbox/faults", sandbox.base_url());
    println!(
        "mycel invite code: {}; mail sent (the one-time codes of send-otp): GET {}/_sandbox/mycel/mail",
        agentwire_sandbox::DEFAULT_INVITE_CODE,
        sandbox.base_url()
    );
    if let Some(pem) = sandbox.ca_certificate_pem() {
        if let Some(path) = &options.ca_file {
            if let Err(e) = std::fs::write(path, pem) {
                eprintln!("agentwire-sandbox: cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
            println!("CA certificate written to {}", path.display());
        }
        println!("trust this CA certificate (PEM):\n{}", pem.trim_end());
    }
    println!("press Ctrl-C to stop");
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("agentwire-sandbox: cannot wait for Ctrl-C: {e}");
    }
    sandbox.shutdown().await;
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Options>, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_and_flags() {
        let o = parse(&[]).unwrap().unwrap();
        assert_eq!(o.port, 8080);
        assert_eq!(o.project_key, DEFAULT_PROJECT_KEY);
        let o = parse(&["--port", "0", "--project-key=k", "--event-delay-ms", "0"])
            .unwrap()
            .unwrap();
        assert_eq!((o.port, o.project_key.as_str()), (0, "k"));
        assert_eq!(o.event_delay, Duration::ZERO);
        assert!(parse(&["--help"]).unwrap().is_none());
        assert!(!o.tls);
        let o = parse(&["--tls", "--ca-file", "/tmp/ca.pem"])
            .unwrap()
            .unwrap();
        assert!(o.tls);
        assert_eq!(
            o.ca_file.as_deref(),
            Some(std::path::Path::new("/tmp/ca.pem"))
        );
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(parse(&["--port"]).is_err());
        assert!(parse(&["--port", "70000"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&["--tls=yes"]).is_err());
        assert!(parse(&["--ca-file", "x.pem"]).is_err());
    }
}
