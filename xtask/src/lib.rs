//! Library half of `cargo xtask`, so that its behaviour (determinism, `check`
//! catching a hand edit) is testable.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use agentwire_contract::{drift, filter, import, normalize, overlay, surface};

mod enums;
mod ops;
pub mod public_api;
mod slim;
use progenitor::{GenerationSettings, Generator, HooksMode, InterfaceStyle, TagStyle, TypeImpl};
use serde_json::Value;

/// Every service agentwire covers, in regeneration order.
pub const SERVICES: &[&str] = &["colony", "mycel", "promptev"];

/// The workspace root (the parent of `xtask/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// One file the pipeline produces, relative to the workspace root.
pub struct Output {
    pub path: PathBuf,
    pub contents: String,
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn parse_json(text: &str, what: &Path) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("{} is not valid JSON: {e}", what.display()))
}

/// Serializes a document the one way agentwire commits JSON: sorted keys
/// (serde_json's default map), two-space indentation, final newline.
pub fn to_committed_json(doc: &Value) -> String {
    let mut s = serde_json::to_string_pretty(doc).expect("a Value always serializes");
    s.push('\n');
    s
}

/// Loads a service's filter.
pub fn load_filter(root: &Path, service: &str) -> Result<filter::Filter, String> {
    let path = root.join(format!("openapi/{service}.filter.json"));
    filter::Filter::from_json(&read(&path)?).map_err(|e| format!("{}: {e}", path.display()))
}

/// upstream → filter → normalize → prune: the public contract progenitor reads.
pub fn contract_from_upstream(upstream: &Value, f: &filter::Filter) -> Result<Value, String> {
    finish_contract(filter::apply(upstream, f)?, f)
}

fn finish_contract(mut doc: Value, f: &filter::Filter) -> Result<Value, String> {
    normalize::normalize(&mut doc).map_err(|e| format!("{}: {e}", f.service))?;
    normalize::name_inline_enums(&mut doc);
    let before_prune = doc.clone();
    normalize::prune_components(&mut doc);
    filter::restore_kept_schemas(&before_prune, &mut doc, &f.keep_schemas)?;
    Ok(doc)
}

fn load_upstream(root: &Path, service: &str) -> Result<Value, String> {
    let path = root.join(format!("openapi/upstream/{service}.json"));
    parse_json(&read(&path)?, &path)
}

/// Loads `openapi/<service>.overlay.json`, when the service has one.
pub fn load_overlay(root: &Path, service: &str) -> Result<Option<overlay::Overlay>, String> {
    let path = root.join(format!("openapi/{service}.overlay.json"));
    if !path.exists() {
        return Ok(None);
    }
    overlay::Overlay::from_json(&read(&path)?)
        .map(Some)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// `cargo xtask import`: reads a service's published API document, keeps its
/// facts and none of its prose, records where it came from, and writes
/// `openapi/upstream/<service>.json`. Returns a one-paragraph report.
pub fn import_published(
    root: &Path,
    service: &str,
    published: &Path,
    source: &str,
) -> Result<String, String> {
    use sha2::Digest;
    if !SERVICES.contains(&service) {
        return Err(format!("unknown service `{service}`"));
    }
    let bytes =
        fs::read(published).map_err(|e| format!("cannot read {}: {e}", published.display()))?;
    let sha256 = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    let text =
        String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8", published.display()))?;
    let mut doc = parse_json(&text, published)?;
    let stripped = import::strip_prose(&mut doc);
    let operations = count_operations(&doc);
    let info = doc
        .get_mut("info")
        .and_then(Value::as_object_mut)
        .ok_or("the published document has no `info` object")?;
    info.insert(
        "description".into(),
        Value::String(format!(
            "The facts of the {service} service's published API document (paths, methods, \
             parameters, schemas, status codes), imported by `cargo xtask import {service}`; \
             its descriptions, summaries and examples are left out. What the service changed \
             after this capture is in openapi/{service}.overlay.json."
        )),
    );
    info.insert(
        "x-agentwire-import".into(),
        serde_json::json!({ "source": source, "sha256": sha256 }),
    );
    let out = root.join(format!("openapi/upstream/{service}.json"));
    fs::write(&out, to_committed_json(&doc))
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    let removed: Vec<String> = stripped
        .removed
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    Ok(format!(
        "wrote {} ({operations} operations; left out {} characters of prose: {})",
        out.display(),
        stripped.chars,
        removed.join(", ")
    ))
}

fn count_operations(doc: &Value) -> usize {
    doc.get("paths")
        .and_then(Value::as_object)
        .map(|paths| {
            paths
                .values()
                .filter_map(Value::as_object)
                .map(|item| {
                    [
                        "get", "put", "post", "delete", "options", "head", "patch", "trace",
                    ]
                    .iter()
                    .filter(|m| item.contains_key(**m))
                    .count()
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Runs the whole pipeline for one service in memory.
pub fn generate_service(root: &Path, service: &str) -> Result<Vec<Output>, String> {
    let f = load_filter(root, service)?;
    let mut upstream = load_upstream(root, service)?;
    if let Some(o) = load_overlay(root, service)? {
        overlay::apply_strict(&mut upstream, &o).map_err(|e| format!("{service}: {e}"))?;
    }
    let contract = contract_from_upstream(&upstream, &f)?;
    let contract_json = to_committed_json(&contract);

    let spec: openapiv3::OpenAPI = serde_json::from_str(&contract_json)
        .map_err(|e| format!("openapi/{service}.json is not OpenAPI 3.0: {e}"))?;
    let mut settings = GenerationSettings::default();
    settings
        .with_interface(InterfaceStyle::Builder)
        .with_tag(TagStyle::Merged)
        .with_hooks(HooksMode::Optional)
        .with_inner_type(quote_runtime())
        .with_derive("PartialEq");
    let open_enums = enums::collect(&contract);
    for e in &open_enums {
        settings.with_replacement(
            &e.name,
            enums::replacement_path(e),
            [TypeImpl::FromStr, TypeImpl::Display].into_iter(),
        );
    }
    let mut generator = Generator::new(&settings);
    let tokens = generator
        .generate_tokens(&spec)
        .map_err(|e| format!("progenitor failed on openapi/{service}.json: {e}"))?;

    let mut file: syn::File = syn::parse2(tokens)
        .map_err(|e| format!("progenitor's output for {service} does not parse: {e}"))?;
    ops::rewrite(&mut file, &contract).map_err(|e| format!("{service}: {e}"))?;
    slim::prune_type_builders(&mut file).map_err(|e| format!("{service}: {e}"))?;
    add_to_types(&mut file, &open_enums)?;
    let formatted = rustfmt(&open_extra_defaults(quote::quote!(#file).to_string()))?;
    let lib = format!(
        "// @generated by `cargo xtask regen {service}` from openapi/{service}.json. Do not edit:\n\
         // change the upstream document, the filter or xtask, then regenerate.\n\
         #![allow(clippy::all, deprecated, missing_docs, unused_imports, rustdoc::all)]\n\n{formatted}"
    );
    let manifest = generated_manifest(&f, &lib);

    Ok(vec![
        Output {
            path: PathBuf::from(format!("openapi/{service}.json")),
            contents: contract_json,
        },
        Output {
            path: PathBuf::from(format!("generated/{service}/Cargo.toml")),
            contents: manifest,
        },
        Output {
            path: PathBuf::from(format!("generated/{service}/src/lib.rs")),
            contents: lib,
        },
    ])
}

/// typify's struct builders start the flattened `extra` map as unset, so a
/// body built in place (`body_map(|b| b.title(..))`) would fail unless the
/// caller set `extra` too; it starts empty instead, like any other map.
fn open_extra_defaults(code: String) -> String {
    code.replace(
        r#"extra : Err ("no value supplied for extra" . to_string ())"#,
        "extra : Ok (Default :: default ())",
    )
}

/// The items of progenitor's `types` module.
fn types_module(file: &mut syn::File) -> Result<&mut Vec<syn::Item>, String> {
    file.items
        .iter_mut()
        .find_map(|item| match item {
            syn::Item::Mod(m) if m.ident == "types" => m.content.as_mut().map(|(_, items)| items),
            _ => None,
        })
        .ok_or_else(|| "progenitor's output has no `types` module".to_string())
}

/// Puts the open enums into the generated `types` module.
fn add_to_types(file: &mut syn::File, open_enums: &[enums::OpenEnum]) -> Result<(), String> {
    let types = types_module(file)?;
    let mut items = Vec::new();
    let index = open_enums.iter().map(|e| {
        let name = &e.name;
        let ident = syn::Ident::new(&e.name, proc_macro2::Span::call_site());
        quote::quote!((#name, #ident::VALUES))
    });
    let count = open_enums.len();
    let listing: syn::File = syn::parse2(quote::quote! {
        /// Each open enum of the contract with the values it lists, for the
        /// tests that hold the generated enums to the contract.
        #[doc(hidden)]
        pub static OPEN_ENUMS: [(&str, &[&str]); #count] = [#(#index),*];
    })
    .map_err(|e| format!("the open enum index does not parse: {e}"))?;
    items.extend(listing.items);
    for e in open_enums {
        let parsed: syn::File = syn::parse2(enums::tokens(e)?)
            .map_err(|err| format!("open enum {} does not parse: {err}", e.name))?;
        items.extend(parsed.items);
    }
    types.splice(0..0, items);
    Ok(())
}

fn quote_runtime() -> proc_macro2::TokenStream {
    "agentwire_runtime::Runtime"
        .parse()
        .expect("a path parses as tokens")
}

fn generated_manifest(f: &filter::Filter, lib: &str) -> String {
    let mut deps = vec![
        "agentwire-runtime = { path = \"../../facade/runtime\", version = \"0.1.0\" }".to_string(),
        "bytes = { workspace = true }".to_string(),
        "futures-core = \"0.3\"".to_string(),
        "progenitor-client = { workspace = true }".to_string(),
        "reqwest = { workspace = true }".to_string(),
        "serde = { workspace = true }".to_string(),
        "serde_json = { workspace = true }".to_string(),
    ];
    // Optional dependencies only when the generated code names them, so a
    // service without dates does not compile chrono.
    for (needle, dep) in [
        ("chrono::", "chrono = { version = \"0.4\", default-features = false, features = [\"serde\", \"std\"] }"),
        ("uuid::", "uuid = { version = \"1\", features = [\"serde\"] }"),
        ("regress::", "regress = \"0.12\""),
    ] {
        if lib.contains(needle) {
            deps.push(dep.to_string());
        }
    }
    deps.sort();
    format!(
        "# @generated by `cargo xtask regen {service}`. Do not edit.\n\
         [package]\n\
         name = \"{name}\"\n\
         description = \"Generated HTTP transport for the {service} API; use the `agentwire` crate instead.\"\n\
         version.workspace = true\n\
         edition.workspace = true\n\
         license.workspace = true\n\
         rust-version.workspace = true\n\
         repository.workspace = true\n\
         keywords = [\"agentwire\", \"{service}\", \"openapi\", \"ai-agents\"]\n\
         categories = [\"api-bindings\"]\n\
         \n\
         [lib]\n\
         doctest = false\n\
         \n\
         [features]\n\
         # Example calls of every operation, for agentwire's own tests.\n\
         conformance = []\n\
         \n\
         [dependencies]\n{deps}\n",
        service = f.service,
        name = f.crate_name,
        deps = deps.join("\n"),
    )
}

fn rustfmt(source: &str) -> Result<String, String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2021", "--emit", "stdout", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run rustfmt (rustup component add rustfmt): {e}"))?;
    let mut stdin = child.stdin.take().ok_or("rustfmt has no stdin")?;
    let input = source.to_owned();
    // Written from a thread: rustfmt starts printing before it has read all
    // of a large input, and a full stdout pipe would otherwise deadlock us.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child
        .wait_with_output()
        .map_err(|e| format!("rustfmt failed: {e}"))?;
    writer
        .join()
        .map_err(|_| "rustfmt writer thread panicked".to_string())?
        .map_err(|e| format!("cannot write to rustfmt: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "rustfmt rejected the generated code: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("rustfmt output is not UTF-8: {e}"))
}

/// Regenerates the named services and writes their files. Returns one line
/// per file written, with its size.
pub fn regen_all(root: &Path, services: &[&str]) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    for service in services {
        if !SERVICES.contains(service) {
            return Err(format!(
                "unknown service `{service}` (known: {})",
                SERVICES.join(", ")
            ));
        }
        for out in generate_service(root, service)? {
            let path = root.join(&out.path);
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            fs::write(&path, &out.contents)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            lines.push(format!(
                "wrote {} ({} bytes)",
                out.path.display(),
                out.contents.len()
            ));
        }
    }
    Ok(lines)
}

/// Regenerates every service in memory and compares with what is on disk.
/// Returns one entry per stale file: its path and a short diff.
pub fn check(root: &Path) -> Result<Vec<String>, String> {
    let mut stale = Vec::new();
    for service in SERVICES {
        for out in generate_service(root, service)? {
            let path = root.join(&out.path);
            let on_disk = fs::read_to_string(&path).unwrap_or_default();
            if on_disk != out.contents {
                stale.push(format!(
                    "stale: {}\n{}",
                    out.path.display(),
                    short_diff(&on_disk, &out.contents)
                ));
            }
        }
    }
    Ok(stale)
}

fn short_diff(committed: &str, expected: &str) -> String {
    const MAX_LINES: usize = 20;
    let diff = similar::TextDiff::from_lines(committed, expected);
    let text = diff
        .unified_diff()
        .context_radius(1)
        .header("committed", "regenerated")
        .to_string();
    let mut lines: Vec<&str> = text.lines().take(MAX_LINES + 1).collect();
    if lines.len() > MAX_LINES {
        lines.truncate(MAX_LINES);
        lines.push("  …");
    }
    lines.join("\n")
}

/// Compares the committed contract of `service` with the one a new upstream
/// document would give. Returns the report and whether any change breaks
/// existing clients.
pub fn drift_report(
    root: &Path,
    service: &str,
    new_upstream: &Path,
) -> Result<(String, bool), String> {
    let f = load_filter(root, service)?;
    let committed_path = root.join(format!("openapi/{service}.json"));
    let committed = parse_json(&read(&committed_path)?, &committed_path)?;
    let mut upstream = parse_json(&read(new_upstream)?, new_upstream)?;
    let mut notes = Vec::new();
    if let Some(o) = load_overlay(root, service)? {
        for (change, outcome) in o.changes.iter().zip(overlay::apply(&mut upstream, &o)) {
            match outcome {
                overlay::Outcome::Applied => {}
                overlay::Outcome::AlreadyPresent => notes.push(format!(
                    "note: the new document already has overlay change `{}`; remove it from openapi/{service}.overlay.json",
                    change.change
                )),
                overlay::Outcome::Failed(e) => notes.push(format!(
                    "note: overlay change `{}` does not apply to the new document ({e}); review it",
                    change.change
                )),
            }
        }
    }
    let applied = filter::apply_lenient(&upstream, &f)?;
    let proposed = finish_contract(applied.doc, &f)?;
    let changes = drift::drift(&surface::surface(&committed), &surface::surface(&proposed));
    let mut report = drift::render(&changes);
    // New upstream operations are not part of the public contract until the
    // filter keeps them, so they break nothing; they still deserve a decision.
    for op in &applied.unlisted {
        report.push_str(&format!(
            "\nnote: new upstream operation {op} is neither kept nor dropped by openapi/{service}.filter.json"
        ));
    }
    for note in notes {
        report.push('\n');
        report.push_str(&note);
    }
    Ok((report, drift::has_breaking(&changes)))
}
