//! Keeps the generated transports affordable to compile.
//!
//! typify gives every struct a builder (`types::builder::X`, with a fallible
//! setter per field and conversions both ways), which is almost half of the
//! generated code. Only the operation builders use them, for request bodies
//! (`body_map`); a model the service only sends back is decoded, never built
//! field by field. So the type builders of the models no request body uses
//! are removed, with their `X::builder()` constructors.

use std::collections::BTreeSet;

use quote::ToTokens;

/// Removes the type builders no operation builder refers to. Returns how many
/// were removed and how many kept.
pub fn prune_type_builders(file: &mut syn::File) -> Result<(usize, usize), String> {
    let mut used = used_type_builders(file);
    let types = crate::types_module(file)?;
    close_over_fields(types, &mut used);
    let mut removed = 0;
    let mut kept = 0;
    for item in types.iter_mut() {
        match item {
            syn::Item::Mod(m) if m.ident == "builder" => {
                if let Some((_, items)) = m.content.as_mut() {
                    items.retain(|item| match item {
                        syn::Item::Struct(s) => {
                            let keep = used.contains(&s.ident.to_string());
                            if keep {
                                kept += 1;
                            } else {
                                removed += 1;
                            }
                            keep
                        }
                        syn::Item::Impl(i) => {
                            self_name(&i.self_ty).is_none_or(|name| used.contains(&name))
                        }
                        _ => true,
                    });
                }
            }
            syn::Item::Impl(i) if i.trait_.is_none() => {
                let Some(name) = self_name(&i.self_ty) else {
                    continue;
                };
                if !used.contains(&name) {
                    i.items.retain(|member| {
                        !matches!(member, syn::ImplItem::Fn(f) if f.sig.ident == "builder")
                    });
                }
            }
            _ => {}
        }
    }
    // An inherent impl that only held `builder()` is now empty.
    types.retain(
        |item| !matches!(item, syn::Item::Impl(i) if i.trait_.is_none() && i.items.is_empty()),
    );
    Ok((removed, kept))
}

/// The names `X` of every `types::builder::X` the operation builders (the
/// top-level `builder` module) mention.
fn used_type_builders(file: &syn::File) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for item in &file.items {
        if let syn::Item::Mod(m) = item {
            if m.ident == "builder" {
                let text = m.to_token_stream().to_string();
                let mut rest = text.as_str();
                const NEEDLE: &str = "types :: builder :: ";
                while let Some(at) = rest.find(NEEDLE) {
                    rest = &rest[at + NEEDLE.len()..];
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    used.insert(name);
                }
            }
        }
    }
    used
}

/// A request body's model may hold other models (a thread's bind mounts):
/// their builders stay too, so a body can be built all the way down.
fn close_over_fields(types: &[syn::Item], used: &mut BTreeSet<String>) {
    let builders: Vec<&syn::ItemStruct> = types
        .iter()
        .find_map(|item| match item {
            syn::Item::Mod(m) if m.ident == "builder" => m.content.as_ref(),
            _ => None,
        })
        .map(|(_, items)| {
            items
                .iter()
                .filter_map(|item| match item {
                    syn::Item::Struct(s) => Some(s),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let known: BTreeSet<String> = builders.iter().map(|s| s.ident.to_string()).collect();
    loop {
        let before = used.len();
        for s in &builders {
            if !used.contains(&s.ident.to_string()) {
                continue;
            }
            let text = s.fields.to_token_stream().to_string();
            for word in text.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
                if known.contains(word) {
                    used.insert(word.to_owned());
                }
            }
        }
        if used.len() == before {
            break;
        }
    }
}

/// The last path segment of an impl's self type (`super::X` → `X`).
fn self_name(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}
