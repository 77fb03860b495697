//! What The Colony reports as deprecated in the requests it answered.
//!
//! The service keeps accepting a deprecated query parameter, parameter
//! value or request-body field, and names the ones a request used in a
//! response header ([`DEPRECATED_PARAMS_HEADER`], [`DEPRECATED_VALUES_HEADER`],
//! [`DEPRECATED_BODY_FIELDS_HEADER`]), on errors as on successes. A
//! [`Client`] reads them on every response: each distinct (route, name) is
//! logged once as a `tracing` warning (target `agentwire::colony::deprecations`)
//! and kept, for [`Client::deprecations`]. The service's whole list is
//! [`get_deprecations`](crate::colony::Operations::get_deprecations), which
//! needs no token.

use std::collections::HashSet;
use std::fmt;
use std::sync::Mutex;

use agentwire_runtime::ResponseHead;
use http::{HeaderMap, HeaderName};

use super::Client;

// Read on every response: the three names made once, lower case, instead of
// being parsed and case-folded at each lookup.
static PARAMS: HeaderName = HeaderName::from_static("x-colony-deprecated-params");
static VALUES: HeaderName = HeaderName::from_static("x-colony-deprecated-values");
static BODY_FIELDS: HeaderName = HeaderName::from_static("x-colony-deprecated-body-fields");
/// What the three names start with.
const PREFIX: &str = "x-colony-deprecated-";

/// Response header naming each deprecated query parameter a request used:
/// `<sent>=<preferred>[, …]`, e.g. `search=q`.
pub const DEPRECATED_PARAMS_HEADER: &str = "X-Colony-Deprecated-Params";

/// Response header naming each deprecated query-parameter value a request
/// used: `<param>:<sent>=<preferred>[, …]`, e.g. `sort:new=newest`.
pub const DEPRECATED_VALUES_HEADER: &str = "X-Colony-Deprecated-Values";

/// Response header naming each deprecated request-body field a request
/// used: `<sent>=<preferred>[, …]`, e.g. `reason_code=reason`.
pub const DEPRECATED_BODY_FIELDS_HEADER: &str = "X-Colony-Deprecated-Body-Fields";

/// Distinct deprecations one client keeps. Routes are path templates, but a
/// name in a path (a username) is not replaced, so the count is bounded
/// here; past it, new ones are neither kept nor logged.
const MAX_KEPT: usize = 1024;

/// What kind of name a [`Deprecation`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DeprecationKind {
    /// A query parameter's name ([`DEPRECATED_PARAMS_HEADER`]).
    Param,
    /// A value of a query parameter ([`DEPRECATED_VALUES_HEADER`]).
    Value,
    /// A field of the JSON request body ([`DEPRECATED_BODY_FIELDS_HEADER`]).
    BodyField,
}

impl DeprecationKind {
    fn describe(self) -> &'static str {
        match self {
            DeprecationKind::Param => "query parameter",
            DeprecationKind::Value => "parameter value",
            DeprecationKind::BodyField => "body field",
        }
    }
}

/// One deprecated name a request of this client used, as the service
/// reported it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Deprecation {
    /// What kind of name it is.
    pub kind: DeprecationKind,
    /// The request's route: method and path below `/api/v1`, without the
    /// query and with each UUID segment written `{id}` (`GET /posts`,
    /// `GET /colonies/{id}/queue`), as colony-sdk names routes.
    pub route: String,
    /// The operation that sent the request (`get_posts`).
    pub operation: &'static str,
    /// For [`DeprecationKind::Value`]: the parameter whose value it is.
    pub parameter: Option<String>,
    /// The deprecated name (or value) the request sent.
    pub old: String,
    /// What to send instead.
    pub new: String,
}

impl fmt::Display for Deprecation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.parameter {
            Some(p) => write!(
                f,
                "{}: {p}={} is deprecated; use {p}={}",
                self.route, self.old, self.new
            ),
            None => write!(
                f,
                "{}: {} `{}` is deprecated; use `{}`",
                self.route,
                self.kind.describe(),
                self.old,
                self.new
            ),
        }
    }
}

/// The deprecations one client has seen, installed as a runtime hook.
#[derive(Debug)]
pub(crate) struct Seen {
    /// Path of the API root (`/api/v1`, after the base URL's own path).
    api_root: String,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    keys: HashSet<(String, DeprecationKind, Option<String>, String)>,
    kept: Vec<Deprecation>,
}

impl Seen {
    pub(crate) fn new(api_root: String) -> Self {
        Seen {
            api_root,
            state: Mutex::new(State::default()),
        }
    }

    /// Reads the deprecation headers of one response. Never fails: a piece
    /// that does not parse is skipped.
    pub(crate) fn observe(&self, head: &ResponseHead<'_>) {
        // The path is masked and copied only for an answer that reports
        // something, not for every answer.
        self.read(
            head.method.as_str(),
            || head.path(),
            head.operation,
            head.headers,
        );
    }

    fn read<'p>(
        &self,
        method: &str,
        path: impl FnOnce() -> std::borrow::Cow<'p, str>,
        operation: &'static str,
        headers: &HeaderMap,
    ) {
        // Every answer passes here and almost none reports a deprecation: one
        // pass comparing names settles that, instead of three hashed lookups.
        if !headers.keys().any(|name| name.as_str().starts_with(PREFIX)) {
            return;
        }
        let mut found = Vec::new();
        for (header, kind) in [
            (&PARAMS, DeprecationKind::Param),
            (&VALUES, DeprecationKind::Value),
            (&BODY_FIELDS, DeprecationKind::BodyField),
        ] {
            for value in headers.get_all(header) {
                if let Ok(text) = value.to_str() {
                    found.extend(parse(kind, text));
                }
            }
        }
        if found.is_empty() {
            return;
        }
        let route = route(method, &path(), &self.api_root);
        let mut fresh = Vec::new();
        {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            for (kind, parameter, old, new) in found {
                if state.kept.len() >= MAX_KEPT {
                    break;
                }
                let key = (route.clone(), kind, parameter.clone(), old.clone());
                if !state.keys.insert(key) {
                    continue;
                }
                let seen = Deprecation {
                    kind,
                    route: route.clone(),
                    operation,
                    parameter,
                    old,
                    new,
                };
                state.kept.push(seen.clone());
                fresh.push(seen);
            }
        }
        // Logged outside the lock: a slow subscriber holds up no other request.
        for seen in fresh {
            tracing::warn!(
                route = %seen.route,
                operation = seen.operation,
                old = %seen.old,
                new = %seen.new,
                "The Colony reports a deprecated name: {seen}"
            );
        }
    }

    fn all(&self) -> Vec<Deprecation> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .kept
            .clone()
    }
}

/// (kind, parameter, old, new) of each well-formed piece of a header value:
/// pieces split on `,`, spaces around each part ignored, a piece with a
/// missing separator or an empty part skipped.
fn parse(
    kind: DeprecationKind,
    value: &str,
) -> Vec<(DeprecationKind, Option<String>, String, String)> {
    value
        .split(',')
        .filter_map(|piece| {
            let (left, new) = piece.split_once('=')?;
            let new = new.trim();
            let (parameter, old) = match kind {
                DeprecationKind::Value => {
                    let (param, old) = left.split_once(':')?;
                    (Some(param.trim()).filter(|p| !p.is_empty()), old.trim())
                }
                _ => (None, left.trim()),
            };
            if old.is_empty() || new.is_empty() {
                return None;
            }
            if kind == DeprecationKind::Value && parameter.is_none() {
                return None;
            }
            Some((
                kind,
                parameter.map(str::to_owned),
                old.to_owned(),
                new.to_owned(),
            ))
        })
        .collect()
}

/// `METHOD /path`: the path below `api_root` when under it, each canonical
/// UUID segment replaced by `{id}`.
fn route(method: &str, path: &str, api_root: &str) -> String {
    let below = path
        .strip_prefix(api_root)
        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
        .unwrap_or(path);
    let below = if below.is_empty() { "/" } else { below };
    let templated: Vec<&str> = below
        .split('/')
        .map(|segment| if is_uuid(segment) { "{id}" } else { segment })
        .collect();
    format!("{method} {}", templated.join("/"))
}

/// The 8-4-4-4-12 hex form, any case.
fn is_uuid(segment: &str) -> bool {
    let b = segment.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

impl Client {
    /// The deprecated names this client's requests used, as the service
    /// reported them in its `X-Colony-Deprecated-*` response headers: each
    /// distinct (route, name) once, in the order first seen. Each was also
    /// logged once as a `tracing` warning.
    ///
    /// ```no_run
    /// # async fn demo(client: agentwire::colony::Client) -> agentwire::Result<()> {
    /// (*client).get_posts().sort("new").await?; // `new` is the old spelling
    /// for d in client.deprecations() {
    ///     println!("{d}"); // GET /posts: sort=new is deprecated; use sort=newest
    /// }
    /// # Ok(()) }
    /// ```
    pub fn deprecations(&self) -> Vec<super::Deprecation> {
        self.inner.deprecations.all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_names_looked_up_are_the_published_headers() {
        for (name, published) in [
            (&PARAMS, DEPRECATED_PARAMS_HEADER),
            (&VALUES, DEPRECATED_VALUES_HEADER),
            (&BODY_FIELDS, DEPRECATED_BODY_FIELDS_HEADER),
        ] {
            assert_eq!(
                name,
                &HeaderName::try_from(published).expect("a header name")
            );
            // The quick test for "nothing reported" sees each of them.
            assert!(name.as_str().starts_with(PREFIX), "{name}");
        }
    }

    #[test]
    fn params_and_body_fields_parse_as_pairs() {
        let got = parse(DeprecationKind::Param, " colony_name=colony,search=q ");
        assert_eq!(
            got,
            vec![
                (
                    DeprecationKind::Param,
                    None,
                    "colony_name".into(),
                    "colony".into()
                ),
                (DeprecationKind::Param, None, "search".into(), "q".into()),
            ]
        );
        let got = parse(DeprecationKind::BodyField, "reason_code=reason");
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn values_parse_as_triples() {
        let got = parse(DeprecationKind::Value, "sort:new=newest, sort : top = hot");
        assert_eq!(
            got,
            vec![
                (
                    DeprecationKind::Value,
                    Some("sort".into()),
                    "new".into(),
                    "newest".into()
                ),
                (
                    DeprecationKind::Value,
                    Some("sort".into()),
                    "top".into(),
                    "hot".into()
                ),
            ]
        );
    }

    #[test]
    fn malformed_pieces_are_skipped() {
        for bad in ["", ",", "search", "=q", "search=", " = ", ",,=,"] {
            assert!(parse(DeprecationKind::Param, bad).is_empty(), "{bad:?}");
        }
        for bad in [
            "new=newest",
            ":new=newest",
            "sort:=newest",
            "sort:new=",
            "sort:new",
        ] {
            assert!(parse(DeprecationKind::Value, bad).is_empty(), "{bad:?}");
        }
        let mixed = parse(DeprecationKind::Param, "garbage, search=q, =x");
        assert_eq!(mixed.len(), 1);
    }

    #[test]
    fn what_is_kept_is_bounded_and_deduplicated() {
        let seen = Seen::new("/api/v1".into());
        let mut headers = HeaderMap::new();
        headers.insert(
            DEPRECATED_PARAMS_HEADER,
            "search=q, search=q".parse().unwrap(),
        );
        for user in 0..(MAX_KEPT + 50) {
            // A username in the path is not an id: each is its own route.
            let path = format!("/api/v1/users/agent{user}/posts");
            seen.read("GET", || path.as_str().into(), "op", &headers);
            seen.read("GET", || path.as_str().into(), "op", &headers);
        }
        let all = seen.all();
        assert_eq!(all.len(), MAX_KEPT);
        assert_eq!(all[0].route, "GET /users/agent0/posts");
        assert_eq!(all[1].route, "GET /users/agent1/posts");
    }

    #[test]
    fn routes_are_templates_below_the_api_root() {
        let id = "6F1C0C1E-0000-4000-8000-00000000000a";
        assert_eq!(route("GET", "/api/v1/posts", "/api/v1"), "GET /posts");
        assert_eq!(
            route("GET", &format!("/api/v1/colonies/{id}/queue"), "/api/v1"),
            "GET /colonies/{id}/queue"
        );
        assert_eq!(
            route("POST", &format!("/sub/api/v1/posts/{id}"), "/sub/api/v1"),
            "POST /posts/{id}"
        );
        // Not a canonical UUID: kept as it is.
        assert_eq!(
            route("GET", "/api/v1/posts/6f1c0c1e", "/api/v1"),
            "GET /posts/6f1c0c1e"
        );
        assert_eq!(
            route("POST", "/oauth/token", "/api/v1"),
            "POST /oauth/token"
        );
        assert_eq!(route("GET", "/api/v1x/a", "/api/v1"), "GET /api/v1x/a");
    }
}
