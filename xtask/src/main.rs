//! `cargo xtask` — the maintainer's commands for agentwire's contracts and transports.
//!
//! ```text
//! cargo xtask regen [service…]             upstream → filter → normalize → openapi/<s>.json → generated/<s>/
//! cargo xtask check                        fail (naming each stale file) if committed output is not current
//! cargo xtask drift <service> <new.json>   how the public contract would change; exit 1 on a breaking change
//! cargo xtask public-api [--check] [crate…] write (or check) <crate>/public-api.txt from rustdoc JSON
//! cargo xtask import <service> <published.json> <source>
//!                                          the published document's facts, without its prose → openapi/upstream/<s>.json
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use xtask::{check, drift_report, regen_all, workspace_root, SERVICES};

fn usage() -> ExitCode {
    eprintln!(
        "usage:\n  cargo xtask regen [service…]\n  cargo xtask check\n  cargo xtask drift <service> <new-upstream.json>\n  cargo xtask public-api [--check] [crate…]\n  cargo xtask import <service> <published.json> <source>\n\nservices: {}",
        SERVICES.join(", ")
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    let Some(cmd) = args.first() else {
        return usage();
    };
    let rest = &args[1..];
    let result = match cmd.as_str() {
        "regen" => {
            let started = Instant::now();
            let services: Vec<&str> = if rest.is_empty() {
                SERVICES.to_vec()
            } else {
                rest.iter().map(String::as_str).collect()
            };
            regen_all(&root, &services).map(|written| {
                for line in written {
                    println!("{line}");
                }
                println!(
                    "regenerated {} in {:.2?}",
                    services.join(", "),
                    started.elapsed()
                );
                ExitCode::SUCCESS
            })
        }
        "check" => check(&root).map(|stale| {
            if stale.is_empty() {
                println!("openapi/ and generated/ are current");
                ExitCode::SUCCESS
            } else {
                for s in &stale {
                    eprintln!("{s}");
                }
                eprintln!(
                    "{} stale file(s); run `cargo xtask regen` and commit the result",
                    stale.len()
                );
                ExitCode::FAILURE
            }
        }),
        "drift" => match rest {
            [service, path] => {
                drift_report(&root, service, &PathBuf::from(path)).map(|(text, breaking)| {
                    println!("{text}");
                    if breaking {
                        ExitCode::FAILURE
                    } else {
                        ExitCode::SUCCESS
                    }
                })
            }
            _ => return usage(),
        },
        "public-api" => public_api(&root, rest),
        "import" => match rest {
            [service, path, source] => {
                xtask::import_published(&root, service, &PathBuf::from(path), source).map(
                    |report| {
                        println!("{report}");
                        ExitCode::SUCCESS
                    },
                )
            }
            _ => return usage(),
        },
        _ => return usage(),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Writes, or with `--check` compares, the public-API snapshots.
fn public_api(root: &std::path::Path, args: &[String]) -> Result<ExitCode, String> {
    let check = args.iter().any(|a| a == "--check");
    let only: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(String::as_str)
        .collect();
    let mut stale = 0;
    for (package, dir, features) in xtask::public_api::CRATES {
        if !only.is_empty() && !only.contains(package) {
            continue;
        }
        let listing = xtask::public_api::render(root, package, features)?;
        let path = root.join(xtask::public_api::snapshot_path(dir));
        if check {
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            if committed != listing {
                stale += 1;
                let diff = similar::TextDiff::from_lines(&committed, &listing);
                eprintln!(
                    "stale: {}\n{}",
                    path.display(),
                    diff.unified_diff()
                        .context_radius(0)
                        .header("committed", "current")
                );
            }
        } else {
            std::fs::write(&path, &listing)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            println!(
                "wrote {} ({} lines)",
                path.display(),
                listing.lines().count()
            );
        }
    }
    if stale > 0 {
        eprintln!("{stale} public API snapshot(s) changed; run `cargo xtask public-api` and review the diff");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
