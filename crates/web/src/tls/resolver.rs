//! The certificate the HTTPS (and TURN-over-TLS) listeners present, swappable while they run,
//! and the answers to ACME challenges: TLS-ALPN-01 certificates (RFC 8737) for handshakes that
//! offer only `acme-tls/1`, HTTP-01 key authorizations for `/.well-known/acme-challenge/`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// ALPN protocol of TLS-ALPN-01 validation handshakes.
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

#[derive(Default)]
struct Inner {
    current: Option<Arc<CertifiedKey>>,
    /// Domain → the TLS-ALPN-01 challenge certificate.
    alpn: HashMap<String, Arc<CertifiedKey>>,
    /// Token → key authorization (HTTP-01).
    http: HashMap<String, String>,
}

/// Shared by the TLS listeners, the HTTP listener and the ACME task.
#[derive(Clone, Default)]
pub struct CertResolver {
    inner: Arc<RwLock<Inner>>,
}

impl std::fmt::Debug for CertResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CertResolver")
    }
}

impl CertResolver {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Serves `cert` from the next handshake on.
    pub fn install(&self, cert: Arc<CertifiedKey>) {
        self.write().current = Some(cert);
    }

    pub fn set_alpn_challenge(&self, domain: &str, cert: Arc<CertifiedKey>) {
        self.write().alpn.insert(domain.to_ascii_lowercase(), cert);
    }

    pub fn set_http_challenge(&self, token: &str, key_authorization: &str) {
        self.write().http.insert(token.to_owned(), key_authorization.to_owned());
    }

    pub fn clear_challenges(&self) {
        let mut w = self.write();
        w.alpn.clear();
        w.http.clear();
    }

    /// The key authorization for an HTTP-01 token, if a challenge is under way.
    pub fn http_challenge(&self, token: &str) -> Option<String> {
        self.read().http.get(token).cloned()
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let inner = self.read();
        let acme_only = hello.alpn().is_some_and(|mut protocols| protocols.all(|p| p == ACME_TLS_ALPN));
        if acme_only {
            let name = hello.server_name()?.to_ascii_lowercase();
            return inner.alpn.get(&name).cloned();
        }
        inner.current.clone()
    }
}

/// A [`CertifiedKey`] from PEM text (chain first, then the key).
pub fn certified_key(chain_pem: &str, key_pem: &str) -> Result<Arc<CertifiedKey>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("certificate chain: {e}"))?;
    if chain.is_empty() {
        return Err("certificate chain: empty".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| format!("private key: {e}"))?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&key).map_err(|e| format!("private key: {e}"))?;
    let certified = CertifiedKey::new(chain, signing);
    // A certificate whose key is not the given one would fail every handshake; say so now.
    // (Only a definite mismatch counts: the check cannot read every certificate, e.g. not
    // the TLS-ALPN-01 one with its critical acmeIdentifier extension.)
    if let Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) = certified.keys_match() {
        return Err("the certificate and key do not match".into());
    }
    Ok(Arc::new(certified))
}
