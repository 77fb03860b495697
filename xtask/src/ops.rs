//! Rewrites progenitor's builder-style output so that every operation goes
//! through agentwire's runtime once.
//!
//! progenitor gives each operation a builder whose `send` builds the
//! `reqwest::Request`, runs it through `ClientHooks` and decodes the answer.
//! agentwire wants the runtime to own everything after the request is built
//! (retries, breaker, cache, reading the body once, decoding, errors), so each
//! `send` is split:
//!
//! - `build_request(self)` keeps progenitor's statements up to the built
//!   request (argument checks, URL, query, headers, body);
//! - `IntoFuture` hands that request to `agentwire_runtime::Runtime` with a
//!   static [`Operation`](agentwire_runtime::Operation) description (id,
//!   method, path template, documented success statuses, kind of answer,
//!   parameter names) read off the rest of progenitor's `send`;
//! - `send(self)` awaits the same future, for those who like oxide's spelling.
//!
//! The descriptions are also collected in `operations::ALL`, which the tests
//! walk to call every kept operation.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::{Expr, FnArg, ImplItem, Item, Pat, ReturnType, Stmt, Type};

/// What a successful answer of an operation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reply {
    Json,
    Empty,
    Stream,
    Upgrade,
}

impl Reply {
    fn tokens(self) -> TokenStream {
        match self {
            Reply::Json => quote!(agentwire_runtime::Reply::Json),
            Reply::Empty => quote!(agentwire_runtime::Reply::Empty),
            Reply::Stream => quote!(agentwire_runtime::Reply::Stream),
            Reply::Upgrade => quote!(agentwire_runtime::Reply::Upgrade),
        }
    }
}

/// What awaiting an operation's builder gives on success.
fn answer_type(reply: Reply, json: &Type) -> TokenStream {
    match reply {
        Reply::Json => json.to_token_stream(),
        Reply::Empty => quote!(()),
        Reply::Stream | Reply::Upgrade => quote!(::reqwest::Response),
    }
}

/// One operation, as read off its builder.
struct Op {
    id: String,
    method: String,
    path: String,
    success: Vec<(u16, u16)>,
    reply: Reply,
    params: Vec<String>,
    /// The decoded type of a JSON answer.
    output: Type,
    /// What a conformance call sets: the required parameters and the body.
    args: Vec<(String, Type)>,
}

/// Rewrites the generated file in place and appends the `operations` and
/// `conformance` modules; `contract` gives the example arguments.
pub fn rewrite(file: &mut syn::File, contract: &serde_json::Value) -> Result<usize, String> {
    let mut ops = Vec::new();
    for item in &mut file.items {
        let Item::Mod(module) = item else { continue };
        if module.ident != "builder" {
            continue;
        }
        let Some((_, items)) = module.content.as_mut() else {
            continue;
        };
        let mut extra = Vec::new();
        let structs = struct_fields(items);
        for item in items.iter_mut() {
            let Item::Impl(block) = item else { continue };
            if block.trait_.is_some() {
                continue;
            }
            let Some(pos) = block
                .items
                .iter()
                .position(|i| matches!(i, ImplItem::Fn(f) if f.sig.ident == "send"))
            else {
                continue;
            };
            let ImplItem::Fn(send) = block.items.remove(pos) else {
                unreachable!("position found a fn")
            };
            let name = match &*block.self_ty {
                Type::Path(p) => p
                    .path
                    .segments
                    .last()
                    .map(|s| s.ident.to_string())
                    .unwrap_or_default(),
                _ => String::new(),
            };
            let fields = structs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, f)| f.clone())
                .unwrap_or_default();
            let required = required_fields(block);
            let params = fields.iter().map(|(n, _)| n.clone()).collect();
            let optional: Vec<String> = fields
                .iter()
                .filter(|(_, ty)| is_option(ty))
                .map(|(n, _)| n.clone())
                .collect();
            let (mut op, build, send_new) = split_send(send, params, &optional)?;
            op.args = fields
                .into_iter()
                .filter(|(n, _)| n == "body" || required.contains(n))
                .collect();
            let op_ident = const_ident(&op.id);
            let self_ty = &block.self_ty;
            let (impl_generics, _, where_clause) = block.generics.split_for_impl();
            let output = answer_type(op.reply, &op.output);
            let call = match op.reply {
                Reply::Json => quote!(json),
                Reply::Empty => quote!(empty),
                Reply::Stream | Reply::Upgrade => quote!(response),
            };
            block.items.insert(pos, build);
            block.items.insert(pos + 1, send_new);
            extra.push(syn::parse_quote! {
                impl #impl_generics ::std::future::IntoFuture for #self_ty #where_clause {
                    type Output = agentwire_runtime::Result<#output>;
                    type IntoFuture = agentwire_runtime::BoxFuture<'a, Self::Output>;
                    fn into_future(self) -> Self::IntoFuture {
                        let client = self.client;
                        let built = self.build_request();
                        ::std::boxed::Box::pin(client.inner.#call(
                            &client.client,
                            built,
                            &super::operations::#op_ident,
                        ))
                    }
                }
            });
            ops.push(op);
        }
        items.extend(extra);
    }
    if ops.is_empty() {
        return Err("no operation builder found in progenitor's output".into());
    }
    ops.sort_by(|a, b| a.id.cmp(&b.id));
    let count = ops.len();
    file.items.push(operations_module(&ops));
    file.items.push(conformance_module(&ops, contract)?);
    Ok(count)
}

/// The fields of every builder struct: the operation's parameters, each
/// with the type its `Result<T, String>` holds.
fn struct_fields(items: &[Item]) -> Vec<(String, Vec<(String, Type)>)> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Struct(s) => Some((
                s.ident.to_string(),
                s.fields
                    .iter()
                    .filter_map(|f| {
                        let name = f.ident.as_ref()?.to_string();
                        let ty = first_generic(&f.ty)?;
                        (name != "client").then_some((name, ty))
                    })
                    .collect(),
            )),
            _ => None,
        })
        .collect()
}

/// The fields `new` leaves unset (`Err(..)`): the required parameters.
fn required_fields(block: &syn::ItemImpl) -> Vec<String> {
    let Some(new) = block.items.iter().find_map(|i| match i {
        ImplItem::Fn(f) if f.sig.ident == "new" => Some(f),
        _ => None,
    }) else {
        return Vec::new();
    };
    let Some(Stmt::Expr(Expr::Struct(init), _)) = new.block.stmts.last() else {
        return Vec::new();
    };
    init.fields
        .iter()
        .filter_map(|f| {
            let syn::Member::Named(name) = &f.member else {
                return None;
            };
            let unset =
                matches!(&f.expr, Expr::Call(c) if c.func.to_token_stream().to_string() == "Err");
            unset.then(|| name.to_string())
        })
        .collect()
}

fn const_ident(id: &str) -> syn::Ident {
    syn::Ident::new(&id.to_ascii_uppercase(), Span::call_site())
}

/// Splits progenitor's `send` into `build_request` and a `send` that awaits
/// the runtime's future, and reads the operation's description off it.
fn split_send(
    send: syn::ImplItemFn,
    params: Vec<String>,
    optional: &[String],
) -> Result<(Op, ImplItem, ImplItem), String> {
    let doc = send
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .map(|a| a.to_token_stream().to_string())
        .collect::<String>();
    let (method, path) = method_and_path(&doc)
        .ok_or_else(|| format!("no method and path in the doc of a builder's send: {doc}"))?;
    if !matches!(send.sig.inputs.first(), Some(FnArg::Receiver(_))) {
        return Err("a builder's send does not take self".into());
    }
    let output = success_type(&send.sig.output)
        .ok_or_else(|| format!("unexpected return type of send for {path}"))?;

    let stmts = send.block.stmts;
    let info_at = stmts
        .iter()
        .position(|s| stmt_binds(s, "info"))
        .ok_or_else(|| format!("no `let info` in send for {path}"))?;
    let id = operation_id(&stmts[info_at])
        .ok_or_else(|| format!("no operation_id in send for {path}"))?;
    let arms = stmts[info_at..]
        .iter()
        .find_map(status_match)
        .ok_or_else(|| format!("no status match in send of {id}"))?;
    let mut success = Vec::new();
    let mut reply = None;
    for arm in &arms.arms {
        let body = arm.body.to_token_stream().to_string();
        let kind = if body.starts_with("Err") {
            continue;
        } else if body.contains("ResponseValue :: from_response") {
            Reply::Json
        } else if body.contains("ResponseValue :: empty") {
            Reply::Empty
        } else if body.contains("ResponseValue :: stream") {
            Reply::Stream
        } else if body.contains("ResponseValue :: upgrade") {
            Reply::Upgrade
        } else {
            return Err(format!("unknown success arm in {id}: {body}"));
        };
        if reply.is_some_and(|r| r != kind) {
            return Err(format!("{id} has success answers of two kinds"));
        }
        reply = Some(kind);
        success.extend(status_ranges(&arm.pat).ok_or_else(|| {
            format!(
                "unexpected status pattern in {id}: {}",
                arm.pat.to_token_stream()
            )
        })?);
    }
    let reply = reply.ok_or_else(|| format!("{id} has no success answer"))?;

    let mut kept = stmts[..info_at].to_vec();
    drop_api_version(&mut kept, &id)?;
    one_pass_query(&mut kept, &id, optional)?;
    let build: ImplItem = syn::parse_quote! {
        /// Checks the arguments and builds the HTTP request, without sending it.
        fn build_request(
            self,
        ) -> ::std::result::Result<::reqwest::Request, Error<()>> {
            #(#kept)*
            Ok(request)
        }
    };
    let attrs = &send.attrs;
    let out = answer_type(reply, &output);
    let send_new: ImplItem = syn::parse_quote! {
        #(#attrs)*
        ///
        /// Same as awaiting the builder itself.
        pub async fn send(self) -> agentwire_runtime::Result<#out> {
            ::std::future::IntoFuture::into_future(self).await
        }
    };
    let op = Op {
        id,
        method,
        path,
        success,
        reply,
        params,
        output,
        args: Vec::new(),
    };
    Ok((op, build, send_new))
}

/// Removes the `api-version` header progenitor adds to every request (the
/// document's `info.version`). None of the services reads it and none of
/// their own clients (colony-sdk 1.38, mycel-sdk 0.1.83, promptev 1.3.0)
/// sends it; each request would pay a header map allocated for it alone.
/// The header map goes too when nothing else is put in it.
fn drop_api_version(stmts: &mut Vec<Stmt>, id: &str) -> Result<(), String> {
    let tokens = |s: &Stmt| s.to_token_stream().to_string();
    let at = stmts
        .iter()
        .position(|s| {
            let t = tokens(s);
            t.starts_with("header_map . append") && t.contains("\"api-version\"")
        })
        .ok_or_else(|| format!("no api-version header in {id}"))?;
    stmts.remove(at);
    let map_at = stmts
        .iter()
        .position(|s| stmt_binds(s, "header_map"))
        .ok_or_else(|| format!("no `let header_map` in {id}"))?;
    let request_at = stmts
        .iter()
        .position(|s| stmt_binds(s, "request"))
        .ok_or_else(|| format!("no `let request` in {id}"))?;
    let other_uses = stmts
        .iter()
        .enumerate()
        .filter(|(i, s)| *i != map_at && *i != request_at && tokens(s).contains("header_map"))
        .count();
    if other_uses > 0 {
        // One header fewer to make room for.
        let Expr::Call(call) = bound_value(stmts, map_at, "header_map", id)? else {
            return Err(format!("unexpected header map in {id}"));
        };
        let Some(Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(n),
            ..
        })) = call.args.first_mut()
        else {
            return Err(format!("unexpected header map capacity in {id}"));
        };
        let fewer = n.base10_parse::<usize>().map_err(|e| e.to_string())? - 1;
        *n = syn::LitInt::new(&format!("{fewer}usize"), n.span());
        return Ok(());
    }
    if !strip_headers_call(bound_value(stmts, request_at, "request", id)?) {
        return Err(format!("no `.headers(header_map)` in {id}"));
    }
    stmts.remove(map_at);
    Ok(())
}

/// Takes `.headers(header_map)` out of a method chain; says whether it was
/// there.
fn strip_headers_call(expr: &mut Expr) -> bool {
    match expr {
        Expr::Try(t) => strip_headers_call(&mut t.expr),
        Expr::MethodCall(call) => {
            let this = call.method == "headers"
                && call.args.len() == 1
                && call.args.to_token_stream().to_string() == "header_map";
            if !this {
                return strip_headers_call(&mut call.receiver);
            }
            let receiver =
                std::mem::replace(&mut *call.receiver, Expr::Verbatim(TokenStream::new()));
            *expr = receiver;
            true
        }
        _ => false,
    }
}

/// Replaces progenitor's one `.query(..)` call per parameter on the request
/// builder (each reopens the URL's query, set or not) with one
/// `agentwire_runtime::QueryString` that encodes the parameters in the same
/// order onto the end of `url` before the request is built.
///
/// A parameter the builder holds as an `Option` is encoded only when it is
/// set: `Some(v)` encodes exactly as `v` does and `None` as nothing, so the
/// bytes are the same, and the unset ones (most of `get_posts`' 22) cost a
/// test instead of a pass through the serializer.
fn one_pass_query(stmts: &mut Vec<Stmt>, id: &str, optional: &[String]) -> Result<(), String> {
    let Some(at) = stmts.iter().position(|s| stmt_binds(s, "request")) else {
        return Ok(());
    };
    let mut params = Vec::new();
    strip_query_calls(bound_value(stmts, at, "request", id)?, &mut params, id)?;
    if params.is_empty() {
        return Ok(());
    }
    if !stmts[..at].iter().any(|s| stmt_binds(s, "url")) {
        return Err(format!("{id} sets query parameters but binds no `url`"));
    }
    let pushes = params
        .iter()
        .map(|(name, arg)| match query_param_value(arg) {
            Some(value) if optional.contains(&value) => {
                let value = syn::Ident::new(&value, Span::call_site());
                quote! {
                    if let ::std::option::Option::Some(value) = &#value {
                        query.push(#name, &progenitor_client::QueryParam::new(#name, value))?;
                    }
                }
            }
            _ => quote!(query.push(#name, #arg)?;),
        });
    let stmt: Stmt = syn::parse_quote! {
        let url = {
            let mut query = agentwire_runtime::QueryString::new(url);
            #(#pushes)*
            query.finish()
        };
    };
    stmts.insert(at, stmt);
    Ok(())
}

/// Takes every `.query(&progenitor_client::QueryParam::new("name", &v))` out
/// of a method chain, in source order, with the parameter's name.
fn strip_query_calls(
    expr: &mut Expr,
    out: &mut Vec<(syn::LitStr, Expr)>,
    id: &str,
) -> Result<(), String> {
    match expr {
        Expr::Try(t) => strip_query_calls(&mut t.expr, out, id),
        Expr::MethodCall(call) => {
            strip_query_calls(&mut call.receiver, out, id)?;
            if call.method != "query" {
                return Ok(());
            }
            let arg = match call.args.first() {
                Some(arg) if call.args.len() == 1 => arg.clone(),
                _ => return Err(format!("a query call in {id} without one argument")),
            };
            let name = query_param_name(&arg).ok_or_else(|| {
                format!(
                    "unexpected query argument in {id}: {}",
                    arg.to_token_stream()
                )
            })?;
            out.push((name, arg));
            let receiver =
                std::mem::replace(&mut *call.receiver, Expr::Verbatim(TokenStream::new()));
            *expr = receiver;
            Ok(())
        }
        _ => Ok(()),
    }
}

/// `"name"` of `&progenitor_client::QueryParam::new("name", &v)`.
fn query_param_name(arg: &Expr) -> Option<syn::LitStr> {
    let Expr::Reference(r) = arg else { return None };
    let Expr::Call(call) = &*r.expr else {
        return None;
    };
    let Expr::Path(f) = &*call.func else {
        return None;
    };
    let segments: Vec<String> = f
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    if segments != ["progenitor_client", "QueryParam", "new"] || call.args.len() != 2 {
        return None;
    }
    match call.args.first() {
        Some(Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(name),
            ..
        })) => Some(name.clone()),
        _ => None,
    }
}

/// `v` of `&progenitor_client::QueryParam::new("name", &v)`.
fn query_param_value(arg: &Expr) -> Option<String> {
    let Expr::Reference(r) = arg else { return None };
    let Expr::Call(call) = &*r.expr else {
        return None;
    };
    let Some(Expr::Reference(value)) = call.args.iter().nth(1) else {
        return None;
    };
    let Expr::Path(path) = &*value.expr else {
        return None;
    };
    path.path.get_ident().map(|i| i.to_string())
}

/// Whether `ty` is `Option<..>` (however it is spelled).
fn is_option(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.qself.is_none()
        && p.path.segments.last().is_some_and(|s| s.ident == "Option"))
}

/// "Sends a `POST` request to `/a/{b}`" → ("POST", "/a/{b}").
fn method_and_path(doc: &str) -> Option<(String, String)> {
    let rest = doc.split("Sends a `").nth(1)?;
    let (method, rest) = rest.split_once('`')?;
    let rest = rest.split_once('`')?.1;
    let (path, _) = rest.split_once('`')?;
    Some((method.to_owned(), path.to_owned()))
}

/// `Result<ResponseValue<T>, Error<E>>` → `T`.
fn success_type(output: &ReturnType) -> Option<Type> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let inner = first_generic(ty)?;
    first_generic(&inner)
}

fn first_generic(ty: &Type) -> Option<Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    args.args.iter().find_map(|a| match a {
        syn::GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    })
}

/// The value of the `let <name> = ..` at `at` (found with [`stmt_binds`]).
fn bound_value<'s>(
    stmts: &'s mut [Stmt],
    at: usize,
    name: &str,
    id: &str,
) -> Result<&'s mut Expr, String> {
    let Stmt::Local(local) = &mut stmts[at] else {
        unreachable!("stmt_binds matched a let")
    };
    local
        .init
        .as_mut()
        .map(|init| &mut *init.expr)
        .ok_or_else(|| format!("`let {name}` without a value in {id}"))
}

fn stmt_binds(stmt: &Stmt, name: &str) -> bool {
    let Stmt::Local(local) = stmt else {
        return false;
    };
    matches!(&local.pat, Pat::Ident(p) if p.ident == name)
}

fn operation_id(stmt: &Stmt) -> Option<String> {
    let Stmt::Local(local) = stmt else {
        return None;
    };
    let Expr::Struct(init) = &*local.init.as_ref()?.expr else {
        return None;
    };
    init.fields.iter().find_map(|f| match &f.expr {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => Some(s.value()),
        _ => None,
    })
}

fn status_match(stmt: &Stmt) -> Option<syn::ExprMatch> {
    match stmt {
        Stmt::Expr(Expr::Match(m), _) => Some(m.clone()),
        _ => None,
    }
}

/// `200u16` → [(200, 200)]; `200u16..=299u16` → [(200, 299)]; `a | b` → both.
fn status_ranges(pat: &Pat) -> Option<Vec<(u16, u16)>> {
    match pat {
        Pat::Lit(l) => {
            let n = lit_u16(&l.lit)?;
            Some(vec![(n, n)])
        }
        Pat::Range(r) => {
            let lo = lit_u16(&expr_lit(r.start.as_deref()?)?)?;
            let hi = lit_u16(&expr_lit(r.end.as_deref()?)?)?;
            let hi = match r.limits {
                syn::RangeLimits::Closed(_) => hi,
                syn::RangeLimits::HalfOpen(_) => hi.checked_sub(1)?,
            };
            Some(vec![(lo, hi)])
        }
        Pat::Or(o) => {
            let mut all = Vec::new();
            for case in &o.cases {
                all.extend(status_ranges(case)?);
            }
            Some(all)
        }
        _ => None,
    }
}

fn expr_lit(e: &Expr) -> Option<syn::Lit> {
    match e {
        Expr::Lit(l) => Some(l.lit.clone()),
        _ => None,
    }
}

fn lit_u16(lit: &syn::Lit) -> Option<u16> {
    match lit {
        syn::Lit::Int(i) => i.base10_parse().ok(),
        _ => None,
    }
}

fn operations_module(ops: &[Op]) -> Item {
    let consts = ops.iter().map(|op| {
        let ident = const_ident(&op.id);
        let id = &op.id;
        let method = &op.method;
        let path = &op.path;
        let reply = op.reply.tokens();
        let success = op.success.iter().map(|(lo, hi)| quote!((#lo, #hi)));
        let params = &op.params;
        let doc = format!("`{method} {path}`");
        quote! {
            #[doc = #doc]
            pub static #ident: Operation = Operation::new(
                #id,
                #method,
                #path,
                &[#(#success),*],
                #reply,
                &[#(#params),*],
            );
        }
    });
    let all = ops.iter().map(|op| {
        let ident = const_ident(&op.id);
        quote!(&#ident)
    });
    let count = ops.len();
    syn::parse_quote! {
        /// What the runtime knows about each operation of this transport.
        pub mod operations {
            use agentwire_runtime::Operation;
            #(#consts)*
            /// Every operation, by id.
            pub static ALL: [&Operation; #count] = [#(#all),*];
        }
    }
}

/// `postId` → `post_id`, `type` → `type_`: progenitor's names for parameters.
fn rust_name(name: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = false;
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else {
            if !out.ends_with('_') {
                out.push('_');
            }
            prev_lower = false;
        }
    }
    let out = out.trim_matches('_').to_owned();
    const KEYWORDS: &[&str] = &[
        "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
        "extern", "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move",
        "mut", "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true",
        "type", "unsafe", "use", "where", "while",
    ];
    if KEYWORDS.contains(&out.as_str()) {
        format!("{out}_")
    } else {
        out
    }
}

/// The contract's operation with this id.
fn contract_operation<'a>(
    contract: &'a serde_json::Value,
    id: &str,
) -> Option<&'a serde_json::Value> {
    contract
        .get("paths")?
        .as_object()?
        .values()
        .filter_map(serde_json::Value::as_object)
        .flat_map(|item| item.values())
        .find(|op| op.get("operationId").and_then(serde_json::Value::as_str) == Some(id))
}

/// An example argument for `field` of the operation, as JSON text.
fn example_arg(
    contract: &serde_json::Value,
    op: &serde_json::Value,
    field: &str,
) -> Option<String> {
    use agentwire_contract::example::{example, Fill};
    let schema = if field == "body" {
        let content = op.pointer("/requestBody/content")?.as_object()?;
        content.values().next()?.get("schema")?.clone()
    } else {
        op.get("parameters")?
            .as_array()?
            .iter()
            .find(|p| {
                p.get("name")
                    .and_then(serde_json::Value::as_str)
                    .is_some_and(|n| rust_name(n) == field)
            })?
            .get("schema")?
            .clone()
    };
    Some(example(contract, &schema, Fill::Required).to_string())
}

/// `#[cfg(feature = "conformance")]` calls of every operation with example
/// arguments, for the test that reaches each kept operation.
fn conformance_module(ops: &[Op], contract: &serde_json::Value) -> Result<Item, String> {
    let mut fns = Vec::new();
    let mut arms = Vec::new();
    for op in ops {
        let contract_op = contract_operation(contract, &op.id)
            .ok_or_else(|| format!("operation {} is not in the contract", op.id))?;
        let fn_ident = syn::Ident::new(&format!("call_{}", op.id), Span::call_site());
        let method = syn::Ident::new(&op.id, Span::call_site());
        let mut setters = Vec::new();
        for (field, ty) in &op.args {
            let json = example_arg(contract, contract_op, field)
                .ok_or_else(|| format!("{}: no schema for its argument `{field}`", op.id))?;
            // A body is set as the contract's type, not its builder.
            let ty = if field == "body" {
                let text = ty.to_token_stream().to_string().replace("builder :: ", "");
                syn::parse_str::<Type>(&text).map_err(|e| format!("{}: {e}", op.id))?
            } else {
                ty.clone()
            };
            let setter = syn::Ident::new(field, Span::call_site());
            setters.push(quote! {
                .#setter(arg::<#ty>(#field, #json)?)
            });
        }
        let id = &op.id;
        fns.push(quote! {
            async fn #fn_ident(client: &super::Client) -> agentwire_runtime::Result<()> {
                client.#method() #(#setters)* .await.map(drop)
            }
        });
        arms.push(quote!(#id => #fn_ident(client).await,));
    }
    Ok(syn::parse_quote! {
        /// Calls of every operation with example arguments made from the
        /// contract (required parameters and body only), for the tests that
        /// check each kept operation is reachable and its answer decodes.
        #[cfg(feature = "conformance")]
        #[doc(hidden)]
        pub mod conformance {
            #[allow(unused_imports)]
            use super::types;

            #[allow(dead_code)]
            fn arg<T: ::serde::de::DeserializeOwned>(
                name: &'static str,
                json: &str,
            ) -> agentwire_runtime::Result<T> {
                ::serde_json::from_str(json).map_err(|e| agentwire_runtime::Error::InvalidArgument {
                    name,
                    message: e.to_string(),
                })
            }

            #(#fns)*

            /// Calls operation `id` once; `None` when there is no such operation.
            pub async fn call(
                client: &super::Client,
                id: &str,
            ) -> ::std::option::Option<agentwire_runtime::Result<()>> {
                Some(match id {
                    #(#arms)*
                    _ => return None,
                })
            }
        }
    })
}
