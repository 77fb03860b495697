//! The public Rust API of the published crates as a sorted text listing,
//! committed next to each crate (`public-api.txt`) and checked like the
//! contract snapshots: a change to what users can name shows in review.
//!
//! The listing comes from rustdoc's JSON output. That output is unstable, so
//! it is asked for with `RUSTC_BOOTSTRAP=1` on the stable toolchain and read
//! as plain JSON, tolerant of fields it does not know. One line per public
//! item: modules, re-exports (`pub use`, with their source), structs and
//! their public fields, enums and their variants, functions and methods with
//! their signatures, traits, constants, statics, type aliases, macros, and the
//! trait implementations a type declares itself (not blanket or auto ones).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// The crates whose API is snapshotted, with the features to document.
pub const CRATES: &[(&str, &str, &str)] = &[
    (
        "agentwire",
        "facade/agentwire",
        "colony,mycel,promptev,rustls,attestation",
    ),
    ("agentwire-runtime", "facade/runtime", ""),
];

/// Runs rustdoc for `package` and renders its public API.
pub fn render(root: &Path, package: &str, features: &str) -> Result<String, String> {
    let target = root.join("target/public-api");
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_DIR", &target)
        .args(["rustdoc", "-q", "-p", package, "--lib"]);
    if !features.is_empty() {
        cmd.args(["--features", features]);
    }
    cmd.args(["--", "-Z", "unstable-options", "--output-format", "json"]);
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run cargo rustdoc: {e}"))?;
    if !status.success() {
        return Err(format!("cargo rustdoc -p {package} failed"));
    }
    let file = target
        .join("doc")
        .join(format!("{}.json", package.replace('-', "_")));
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let doc: Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", file.display()))?;
    Ok(listing(&doc))
}

/// The listing of one rustdoc JSON document.
pub fn listing(doc: &Value) -> String {
    let mut lines = BTreeSet::new();
    let root = doc.get("root").map(id_key).unwrap_or_default();
    let crate_name = item(doc, &root)
        .and_then(|i| i.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("crate")
        .to_owned();
    let mut seen = BTreeSet::new();
    walk_module(doc, &root, &crate_name, &mut lines, &mut seen);
    let mut out = String::new();
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn id_key(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn item<'a>(doc: &'a Value, id: &str) -> Option<&'a Value> {
    doc.get("index")?.get(id)
}

fn is_public(item: &Value) -> bool {
    item.get("visibility").and_then(Value::as_str) == Some("public")
}

fn is_hidden(item: &Value) -> bool {
    item.get("attrs")
        .and_then(Value::as_array)
        .is_some_and(|attrs| attrs.iter().any(|a| a.to_string().contains("doc(hidden)")))
}

fn kind(item: &Value) -> Option<(&str, &Value)> {
    let inner = item.get("inner")?.as_object()?;
    inner.iter().next().map(|(k, v)| (k.as_str(), v))
}

fn ids(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().map(id_key).collect())
        .unwrap_or_default()
}

fn walk_module(
    doc: &Value,
    id: &str,
    path: &str,
    lines: &mut BTreeSet<String>,
    seen: &mut BTreeSet<String>,
) {
    if !seen.insert(format!("{id}@{path}")) {
        return;
    }
    let Some(module) = item(doc, id) else { return };
    let Some(("module", inner)) = kind(module) else {
        return;
    };
    for child in ids(inner.get("items")) {
        let Some(it) = item(doc, &child) else {
            continue;
        };
        if !is_public(it) || is_hidden(it) {
            continue;
        }
        let name = it.get("name").and_then(Value::as_str).unwrap_or("_");
        let Some((k, body)) = kind(it) else { continue };
        let here = format!("{path}::{name}");
        match k {
            "module" => {
                lines.insert(format!("{here}: mod"));
                walk_module(doc, &child, &here, lines, seen);
            }
            "use" => {
                let source = body.get("source").and_then(Value::as_str).unwrap_or("?");
                let glob = body.get("is_glob").and_then(Value::as_bool) == Some(true);
                let used = body.get("name").and_then(Value::as_str).unwrap_or(name);
                let target = body.get("id").filter(|v| !v.is_null()).map(id_key);
                let local = target.as_deref().and_then(|t| item(doc, t));
                match (local, glob) {
                    // A local item re-exported: list it where users name it.
                    (Some(target_item), false) if kind(target_item).is_some() => {
                        let at = format!("{path}::{used}");
                        describe(
                            doc,
                            target.as_deref().unwrap_or(""),
                            target_item,
                            &at,
                            lines,
                            seen,
                        );
                    }
                    (Some(_), true) => {
                        if let Some(t) = target.as_deref() {
                            walk_module(doc, t, path, lines, seen);
                        }
                    }
                    _ => {
                        let star = if glob { "::*" } else { "" };
                        lines.insert(format!("{path}::{used}{star}: use {source}{star}"));
                    }
                }
            }
            _ => describe(doc, &child, it, &here, lines, seen),
        }
    }
}

fn describe(
    doc: &Value,
    id: &str,
    it: &Value,
    here: &str,
    lines: &mut BTreeSet<String>,
    seen: &mut BTreeSet<String>,
) {
    let Some((k, body)) = kind(it) else { return };
    let deprecated = if it.get("deprecation").is_some_and(|d| !d.is_null()) {
        " #[deprecated]"
    } else {
        ""
    };
    match k {
        "module" => {
            lines.insert(format!("{here}: mod"));
            walk_module(doc, id, here, lines, seen);
        }
        "struct" => {
            lines.insert(format!(
                "{here}: struct{}{deprecated}",
                generics(body.get("generics"))
            ));
            if let Some(fields) = body
                .get("kind")
                .and_then(|k| k.get("plain"))
                .and_then(|p| p.get("fields"))
            {
                for f in ids(Some(fields)) {
                    if let Some(field) = item(doc, &f).filter(|f| is_public(f)) {
                        let fname = field.get("name").and_then(Value::as_str).unwrap_or("_");
                        let ty = field
                            .get("inner")
                            .and_then(|i| i.get("struct_field"))
                            .map(ty)
                            .unwrap_or_default();
                        lines.insert(format!("{here}::{fname}: field {ty}"));
                    }
                }
            }
            impls(doc, body, here, lines);
        }
        "enum" => {
            lines.insert(format!(
                "{here}: enum{}{deprecated}",
                generics(body.get("generics"))
            ));
            for v in ids(body.get("variants")) {
                if let Some(var) = item(doc, &v) {
                    let vname = var.get("name").and_then(Value::as_str).unwrap_or("_");
                    let vdep = if var.get("deprecation").is_some_and(|d| !d.is_null()) {
                        " #[deprecated]"
                    } else {
                        ""
                    };
                    lines.insert(format!("{here}::{vname}: variant{vdep}"));
                }
            }
            impls(doc, body, here, lines);
        }
        "function" => {
            lines.insert(format!("{here}: fn{}{deprecated}", signature(body)));
        }
        "trait" => {
            lines.insert(format!("{here}: trait{}", generics(body.get("generics"))));
            for m in ids(body.get("items")) {
                if let Some(mi) = item(doc, &m) {
                    let mname = mi.get("name").and_then(Value::as_str).unwrap_or("_");
                    if let Some(("function", f)) = kind(mi) {
                        lines.insert(format!("{here}::{mname}: trait fn{}", signature(f)));
                    }
                }
            }
        }
        "type_alias" => {
            let target = body.get("type").map(ty).unwrap_or_default();
            lines.insert(format!(
                "{here}: type{} = {target}",
                generics(body.get("generics"))
            ));
        }
        "constant" => {
            let t = body.get("type").map(ty).unwrap_or_default();
            lines.insert(format!("{here}: const {t}"));
        }
        "static" => {
            let t = body.get("type").map(ty).unwrap_or_default();
            lines.insert(format!("{here}: static {t}"));
        }
        "macro" => {
            lines.insert(format!("{here}: macro"));
        }
        other => {
            lines.insert(format!("{here}: {other}"));
        }
    }
}

fn impls(doc: &Value, body: &Value, here: &str, lines: &mut BTreeSet<String>) {
    for imp in ids(body.get("impls")) {
        let Some(it) = item(doc, &imp) else { continue };
        let Some(("impl", im)) = kind(it) else {
            continue;
        };
        let synthetic = im.get("is_synthetic").and_then(Value::as_bool) == Some(true);
        let blanket = im.get("blanket_impl").is_some_and(|b| !b.is_null());
        if synthetic || blanket {
            continue;
        }
        match im.get("trait").filter(|t| !t.is_null()) {
            Some(tr) => {
                let name = tr.get("path").and_then(Value::as_str).unwrap_or("?");
                // The compiler's marker for derived equality, not API.
                if name != "StructuralPartialEq" {
                    let args = tr.get("args").map(generic_args).unwrap_or_default();
                    lines.insert(format!("{here}: impl {name}{args}"));
                }
            }
            None => {
                for m in ids(im.get("items")) {
                    let Some(mi) = item(doc, &m) else { continue };
                    if !is_public(mi) || is_hidden(mi) {
                        continue;
                    }
                    let mname = mi.get("name").and_then(Value::as_str).unwrap_or("_");
                    let dep = if mi.get("deprecation").is_some_and(|d| !d.is_null()) {
                        " #[deprecated]"
                    } else {
                        ""
                    };
                    match kind(mi) {
                        Some(("function", f)) => {
                            lines.insert(format!("{here}::{mname}: fn{}{dep}", signature(f)));
                        }
                        // rustdoc's JSON names an impl's constant `assoc_const`.
                        Some(("constant" | "assoc_const", c)) => {
                            let t = c.get("type").map(ty).unwrap_or_default();
                            lines.insert(format!("{here}::{mname}: const {t}"));
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

fn generics(g: Option<&Value>) -> String {
    let Some(params) = g.and_then(|g| g.get("params")).and_then(Value::as_array) else {
        return String::new();
    };
    let names: Vec<String> = params
        .iter()
        .filter(|p| {
            // `impl Trait` arguments show up as synthetic parameters.
            p.pointer("/kind/type/is_synthetic")
                .and_then(Value::as_bool)
                != Some(true)
        })
        .filter_map(|p| {
            let name = p.get("name").and_then(Value::as_str)?;
            let bounds = p
                .pointer("/kind/type/bounds")
                .and_then(Value::as_array)
                .map(|b| b.iter().map(bound).collect::<Vec<_>>().join(" + "))
                .unwrap_or_default();
            Some(if bounds.is_empty() {
                name.to_owned()
            } else {
                format!("{name}: {bounds}")
            })
        })
        .collect();
    if names.is_empty() {
        String::new()
    } else {
        format!("<{}>", names.join(", "))
    }
}

fn signature(f: &Value) -> String {
    let sig = f.get("sig").or_else(|| f.get("decl"));
    let inputs = sig
        .and_then(|s| s.get("inputs"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|pair| {
                    let name = pair.get(0).and_then(Value::as_str).unwrap_or("_");
                    let t = pair.get(1).map(ty).unwrap_or_default();
                    match (name, t.as_str()) {
                        ("self", "Self") => "self".to_owned(),
                        ("self", "&Self") => "&self".to_owned(),
                        ("self", "&mut Self") => "&mut self".to_owned(),
                        _ => format!("{name}: {t}"),
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let output = sig
        .and_then(|s| s.get("output"))
        .filter(|o| !o.is_null())
        .map(|o| format!(" -> {}", ty(o)))
        .unwrap_or_default();
    let asyncness = f
        .pointer("/header/is_async")
        .and_then(Value::as_bool)
        .filter(|a| *a)
        .map(|_| "async ")
        .unwrap_or("");
    format!(
        "{}({inputs}){output}{}",
        generics(f.get("generics")),
        if asyncness.is_empty() { "" } else { " [async]" }
    )
}

fn bound(b: &Value) -> String {
    if let Some(t) = b.get("trait_bound") {
        let tr = t.get("trait").cloned().unwrap_or(Value::Null);
        let name = tr.get("path").and_then(Value::as_str).unwrap_or("?");
        let args = tr.get("args").map(generic_args).unwrap_or_default();
        return format!("{name}{args}");
    }
    if let Some(l) = b.get("outlives").and_then(Value::as_str) {
        return l.to_owned();
    }
    "?".into()
}

fn generic_args(a: &Value) -> String {
    if let Some(ab) = a.get("angle_bracketed") {
        let mut parts: Vec<String> = ab
            .get("args")
            .and_then(Value::as_array)
            .map(|args| {
                args.iter()
                    .map(|arg| {
                        if let Some(t) = arg.get("type") {
                            ty(t)
                        } else if let Some(l) = arg.get("lifetime").and_then(Value::as_str) {
                            l.to_owned()
                        } else if let Some(c) = arg.get("const") {
                            c.get("expr")
                                .and_then(Value::as_str)
                                .unwrap_or("_")
                                .to_owned()
                        } else {
                            "_".into()
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        if let Some(cs) = ab.get("constraints").and_then(Value::as_array) {
            for c in cs {
                let name = c.get("name").and_then(Value::as_str).unwrap_or("?");
                let t = c
                    .pointer("/binding/equality/type")
                    .map(ty)
                    .unwrap_or_else(|| "?".into());
                parts.push(format!("{name} = {t}"));
            }
        }
        return if parts.is_empty() {
            String::new()
        } else {
            format!("<{}>", parts.join(", "))
        };
    }
    if let Some(p) = a.get("parenthesized") {
        let inputs = p
            .get("inputs")
            .and_then(Value::as_array)
            .map(|i| i.iter().map(ty).collect::<Vec<_>>().join(", "))
            .unwrap_or_default();
        let output = p
            .get("output")
            .filter(|o| !o.is_null())
            .map(|o| format!(" -> {}", ty(o)))
            .unwrap_or_default();
        return format!("({inputs}){output}");
    }
    String::new()
}

/// A type as Rust source, near enough for review.
fn ty(t: &Value) -> String {
    let Some(obj) = t.as_object() else {
        return "?".into();
    };
    let Some((k, v)) = obj.iter().next() else {
        return "?".into();
    };
    match k.as_str() {
        "resolved_path" => {
            let path = v.get("path").and_then(Value::as_str).unwrap_or("?");
            let args = v.get("args").map(generic_args).unwrap_or_default();
            format!("{path}{args}")
        }
        "generic" => v.as_str().unwrap_or("?").to_owned(),
        "primitive" => v.as_str().unwrap_or("?").to_owned(),
        "borrowed_ref" => {
            let lt = v
                .get("lifetime")
                .and_then(Value::as_str)
                .map(|l| format!("{l} "))
                .unwrap_or_default();
            let m = if v.get("is_mutable").and_then(Value::as_bool) == Some(true) {
                "mut "
            } else {
                ""
            };
            format!("&{lt}{m}{}", v.get("type").map(ty).unwrap_or_default())
        }
        "tuple" => {
            let parts: Vec<String> = v
                .as_array()
                .map(|a| a.iter().map(ty).collect())
                .unwrap_or_default();
            format!("({})", parts.join(", "))
        }
        "slice" => format!("[{}]", ty(v)),
        "array" => format!(
            "[{}; {}]",
            v.get("type").map(ty).unwrap_or_default(),
            v.get("len").and_then(Value::as_str).unwrap_or("_")
        ),
        "impl_trait" => {
            let bounds: Vec<String> = v
                .as_array()
                .map(|a| a.iter().map(bound).collect())
                .unwrap_or_default();
            format!("impl {}", bounds.join(" + "))
        }
        "dyn_trait" => {
            let traits: Vec<String> = v
                .get("traits")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|p| {
                            let tr = p.get("trait").cloned().unwrap_or(Value::Null);
                            let name = tr.get("path").and_then(Value::as_str).unwrap_or("?");
                            let args = tr.get("args").map(generic_args).unwrap_or_default();
                            format!("{name}{args}")
                        })
                        .collect()
                })
                .unwrap_or_default();
            let lt = v
                .get("lifetime")
                .and_then(Value::as_str)
                .map(|l| format!(" + {l}"))
                .unwrap_or_default();
            format!("dyn {}{lt}", traits.join(" + "))
        }
        "qualified_path" => {
            let name = v.get("name").and_then(Value::as_str).unwrap_or("?");
            let self_ty = v.get("self_type").map(ty).unwrap_or_default();
            match v.get("trait").filter(|t| !t.is_null()) {
                Some(tr) => format!(
                    "<{self_ty} as {}>::{name}",
                    tr.get("path").and_then(Value::as_str).unwrap_or("?")
                ),
                None => format!("{self_ty}::{name}"),
            }
        }
        "raw_pointer" => {
            let m = if v.get("is_mutable").and_then(Value::as_bool) == Some(true) {
                "mut"
            } else {
                "const"
            };
            format!("*{m} {}", v.get("type").map(ty).unwrap_or_default())
        }
        "function_pointer" => "fn(..)".into(),
        "infer" => "_".into(),
        other => other.to_owned(),
    }
}

/// Where the snapshot of `package` is committed.
pub fn snapshot_path(dir: &str) -> String {
    format!("{dir}/public-api.txt")
}
