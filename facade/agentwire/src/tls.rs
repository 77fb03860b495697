//! The TLS stack of every HTTP client this crate builds: the backend chosen
//! by the cargo features, the roots it trusts and the extra roots a caller
//! adds with `add_root_certificate`.
//!
//! - `rustls` (default): reqwest's `rustls` feature, whose crypto provider is
//!   aws-lc-rs (built with a C compiler only: no cmake on Linux x86_64 and
//!   aarch64), and Mozilla's roots bundled by `webpki-roots`, so HTTPS works
//!   the same in a `scratch` container that has no CA store. The rustls
//!   configuration is built here and handed to reqwest whole
//!   (`tls_backend_preconfigured`), on the process-default `CryptoProvider`
//!   when the application installed one, else aws-lc-rs; nothing is
//!   installed process-wide.
//!
//!   Not `ring` through reqwest's `rustls-no-provider`: that feature unifies
//!   into the application's single reqwest, and from then on any
//!   `reqwest::Client::new()` without a process-default provider panics
//!   (reqwest's `default_rustls_crypto_provider`), including a client an
//!   application builds to pass to `http_client`. Not reqwest's platform
//!   verifier: it reads the OS store at every client build and fails the
//!   build outright ("No CA certificates were loaded from the system") where
//!   there is none.
//! - `rustls-ring`: the same with the `ring` provider, for whom build time
//!   matters more; the application then owns the panic above for its other
//!   reqwest clients (install a process-default provider first).
//! - `native-tls`: the platform's TLS library and the operating system's
//!   trust store, extra roots merged in. On with a `rustls` feature,
//!   `native-tls` wins, as it does in reqwest.
//!
//! All advertise HTTP/1.1 only over ALPN: the Mycel inbox is a WebSocket
//! reached by an HTTP/1.1 upgrade through the same client, which an HTTP/2
//! connection cannot carry. Asking for HTTP/1.1 explicitly keeps that true
//! even when another crate of the application turns reqwest's `http2` on.

use agentwire_runtime::{Error, Result};

/// The TLS setup of a service client, made once and applied to each HTTP
/// client it builds (the one for requests and the one for streams): the
/// extra roots are parsed and the root store is built a single time.
#[derive(Clone)]
pub(crate) struct Tls(backend::Prepared);

impl Tls {
    /// Prepares the TLS backend with `extra_roots` (each PEM text holding
    /// one or more certificates).
    ///
    /// Invalid PEM, a PEM without any certificate, or a certificate that
    /// does not parse fail with [`Error::Config`]; the messages never quote
    /// the input (a private key pasted by mistake must not end up in a log).
    pub(crate) fn new(extra_roots: &[Vec<u8>]) -> Result<Tls> {
        backend::prepare(extra_roots).map(Tls)
    }

    /// Applies the prepared backend to `builder`, HTTP/1.1 only.
    pub(crate) fn apply(&self, builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        backend::apply(&self.0, builder.http1_only())
    }
}

/// One certificate of the extra roots, and where it came from for messages.
#[cfg(any(feature = "rustls", feature = "rustls-ring", feature = "native-tls"))]
struct Root {
    der: rustls_pki_types::CertificateDer<'static>,
    /// `add_root_certificate #N, certificate M`.
    origin: String,
}

/// The refusal of a certificate that is PEM but not a usable CA certificate.
#[cfg(any(feature = "rustls", feature = "rustls-ring", feature = "native-tls"))]
fn invalid(origin: &str) -> Error {
    Error::Config(format!("{origin}: not a valid X.509 CA certificate"))
}

/// The DER certificates of every PEM text, in order.
#[cfg(any(feature = "rustls", feature = "rustls-ring", feature = "native-tls"))]
fn parse_roots(extra_roots: &[Vec<u8>]) -> Result<Vec<Root>> {
    use rustls_pki_types::pem::{self, PemObject};
    use rustls_pki_types::CertificateDer;

    let mut certs = Vec::new();
    for (i, text) in extra_roots.iter().enumerate() {
        let which = i + 1;
        let mut found = 0usize;
        for cert in CertificateDer::pem_slice_iter(text) {
            let cert = cert.map_err(|e| {
                let why = match e {
                    pem::Error::MissingSectionEnd { .. } => "a section has no END line",
                    pem::Error::IllegalSectionStart { .. } => "a BEGIN line is malformed",
                    pem::Error::Base64Decode(_) => "a section is not valid base64",
                    pem::Error::SectionTooLarge => "a section is too large",
                    _ => "it cannot be read",
                };
                Error::Config(format!(
                    "add_root_certificate #{which} is not valid PEM: {why}"
                ))
            })?;
            found += 1;
            certs.push(Root {
                der: cert,
                origin: format!("add_root_certificate #{which}, certificate {found}"),
            });
        }
        if found == 0 {
            return Err(Error::Config(format!(
                "add_root_certificate #{which} holds no PEM CERTIFICATE section"
            )));
        }
    }
    Ok(certs)
}

#[cfg(feature = "native-tls")]
mod backend {
    use super::*;

    /// The extra roots, parsed.
    pub(super) type Prepared = Vec<reqwest::Certificate>;

    pub(super) fn prepare(extra_roots: &[Vec<u8>]) -> Result<Prepared> {
        parse_roots(extra_roots)?
            .iter()
            .map(|root| {
                reqwest::Certificate::from_der(&root.der).map_err(|_| invalid(&root.origin))
            })
            .collect()
    }

    pub(super) fn apply(
        certs: &Prepared,
        builder: reqwest::ClientBuilder,
    ) -> reqwest::ClientBuilder {
        builder
            .tls_backend_native()
            .tls_certs_merge(certs.iter().cloned())
    }
}

#[cfg(all(
    any(feature = "rustls", feature = "rustls-ring"),
    not(feature = "native-tls")
))]
mod backend {
    use std::sync::Arc;

    use super::*;

    /// The whole rustls configuration; each client gets a copy.
    pub(super) type Prepared = rustls::ClientConfig;

    pub(super) fn prepare(extra_roots: &[Vec<u8>]) -> Result<Prepared> {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for Root { der, origin } in parse_roots(extra_roots)? {
            roots.add(der).map_err(|_| invalid(&origin))?;
        }
        let provider = rustls::crypto::CryptoProvider::get_default()
            .cloned()
            .unwrap_or_else(provider);
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Config(format!("cannot set up TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        // reqwest leaves ALPN of a preconfigured backend alone: say it here.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }

    pub(super) fn apply(
        config: &Prepared,
        builder: reqwest::ClientBuilder,
    ) -> reqwest::ClientBuilder {
        builder.tls_backend_preconfigured(config.clone())
    }

    /// The provider of the enabled feature; aws-lc-rs when both are on.
    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        #[cfg(feature = "rustls")]
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        #[cfg(not(feature = "rustls"))]
        let provider = rustls::crypto::ring::default_provider();
        Arc::new(provider)
    }
}

#[cfg(not(any(feature = "rustls", feature = "rustls-ring", feature = "native-tls")))]
mod backend {
    use super::*;

    /// Nothing: plain HTTP only.
    #[derive(Clone)]
    pub(super) struct Prepared;

    pub(super) fn prepare(extra_roots: &[Vec<u8>]) -> Result<Prepared> {
        if extra_roots.is_empty() {
            Ok(Prepared)
        } else {
            Err(Error::Config(
                "add_root_certificate needs TLS: enable the `rustls` or `native-tls` feature \
                 of agentwire"
                    .into(),
            ))
        }
    }

    pub(super) fn apply(_: &Prepared, builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        builder
    }
}

#[cfg(all(
    test,
    any(feature = "rustls", feature = "rustls-ring", feature = "native-tls")
))]
mod tests {
    use super::*;

    #[test]
    fn pem_that_is_not_a_certificate_is_a_config_error() {
        let key =
            b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n";
        for bad in [
            &b""[..],
            b"not pem at all",
            key,
            b"-----BEGIN CERTIFICATE-----\nAAAA\n",
            b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        ] {
            let got = parse_roots(&[bad.to_vec()]);
            match got {
                Err(Error::Config(msg)) => {
                    assert!(msg.starts_with("add_root_certificate #1 "), "{msg}");
                    assert!(!msg.contains("c2VjcmV0"), "{msg}");
                }
                Err(other) => panic!("{:?}: {other:?}", String::from_utf8_lossy(bad)),
                Ok(roots) => panic!(
                    "{:?} accepted as {} root(s)",
                    String::from_utf8_lossy(bad),
                    roots.len()
                ),
            }
        }
    }

    #[test]
    fn garbage_der_is_refused_when_the_client_is_configured() {
        let pem = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let got = Tls::new(&[pem.to_vec()]);
        assert!(matches!(got, Err(Error::Config(_))), "{:?}", got.err());
    }

    #[test]
    fn no_extra_roots_builds_a_client() {
        let builder = Tls::new(&[]).unwrap().apply(reqwest::Client::builder());
        builder.build().unwrap();
    }
}
