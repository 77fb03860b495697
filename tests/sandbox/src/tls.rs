//! HTTPS for the sandbox: a throw-away CA and a server certificate it signs,
//! both made when the sandbox starts, so tests can trust the CA the way a
//! user trusts a private one.

use std::net::IpAddr;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// The server side of the sandbox's TLS.
pub(crate) struct ServerTls {
    pub(crate) acceptor: TlsAcceptor,
    /// The CA that signed the server certificate, PEM.
    pub(crate) ca_pem: String,
}

fn error(what: &str, e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("sandbox TLS: {what}: {e}"))
}

/// A fresh CA and a server certificate for `localhost`, `127.0.0.1`, `::1`
/// and `ip` (the address the sandbox listens on, when it is another one).
pub(crate) fn generate(ip: IpAddr) -> std::io::Result<ServerTls> {
    let ca_key = KeyPair::generate().map_err(|e| error("CA key", e))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(|e| error("CA", e))?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "agentwire sandbox CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(|e| error("CA", e))?;

    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if !ip.is_unspecified() && !ip.is_loopback() {
        names.push(ip.to_string());
    }
    let key = KeyPair::generate().map_err(|e| error("server key", e))?;
    let mut params = CertificateParams::new(names).map_err(|e| error("server certificate", e))?;
    params
        .distinguished_name
        .push(DnType::CommonName, "agentwire sandbox");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let cert = params
        .signed_by(&key, &ca)
        .map_err(|e| error("server certificate", e))?;

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| error("protocol versions", e))?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone(), ca.der().clone()], key_der)
        .map_err(|e| error("server configuration", e))?;
    // The server speaks HTTP/1.1 only (the inbox WebSocket is an upgrade).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(ServerTls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        ca_pem: ca.pem(),
    })
}
