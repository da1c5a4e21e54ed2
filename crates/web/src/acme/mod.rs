//! Certificates from an ACME certificate authority (Let's Encrypt, or any RFC 8555 server):
//! issued at start when none is stored, renewed in the background before they expire, and
//! swapped into the running listeners without a restart. Challenges: TLS-ALPN-01 (answered
//! on the HTTPS port) or HTTP-01 (answered on the plain-HTTP listener, port 80 in production).
//!
//! Until the first certificate arrives the server presents a self-signed one for the names,
//! so it starts at once; the ACME task retries with backoff while the CA cannot be reached.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount, NewOrder, OrderStatus,
    RetryPolicy,
};

use crate::tls::{certified_key, CertResolver};

/// Which challenge proves control of the names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// On the HTTPS port itself (RFC 8737): nothing else needs to be reachable.
    TlsAlpn01,
    /// `http://NAME/.well-known/acme-challenge/…` on the plain-HTTP listener (port 80).
    Http01,
}

#[derive(Debug, Clone)]
pub struct AcmeConfig {
    /// The names of the certificate (DNS names that point at this server).
    pub domains: Vec<String>,
    /// Contact URLs for the CA, e.g. `mailto:admin@example.org`.
    pub contact: Vec<String>,
    /// The CA's directory URL.
    pub directory_url: String,
    /// PEM of a CA to trust for talking to the ACME server (a private CA, or Pebble in tests);
    /// `None`: the usual web PKI roots.
    pub ca_file: Option<PathBuf>,
    pub challenge: Challenge,
    /// Where the account, certificate and key are kept.
    pub dir: PathBuf,
    /// Renew when the certificate has less than this left.
    pub renew_before: Duration,
    /// How often expiry is checked.
    pub check_every: Duration,
    /// First wait after a failed attempt (doubles up to an hour).
    pub retry_after: Duration,
}

fn now_unix() -> i64 {
    crate::unix_now()
}

/// The `notAfter` of the first certificate in a PEM chain.
fn not_after(chain_pem: &str) -> Option<i64> {
    use rustls::pki_types::pem::PemObject;
    let der = rustls::pki_types::CertificateDer::pem_slice_iter(chain_pem.as_bytes()).next()?.ok()?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).ok()?;
    Some(cert.validity().not_after.timestamp())
}

fn write_private(path: &Path, text: &str) -> Result<(), String> {
    crate::tls::write_private(path, text.as_bytes()).map_err(|e| format!("{e:#}"))
}

/// A self-signed stand-in for the names until the CA's certificate arrives.
fn placeholder(domains: &[String]) -> Result<Arc<rustls::sign::CertifiedKey>, String> {
    let (ck, _) = crate::tls::generate_self_signed(domains, now_unix()).map_err(|e| format!("{e:#}"))?;
    certified_key(&ck.cert.pem(), &ck.key_pair.serialize_pem())
}

/// The task that keeps a valid certificate installed in `resolver`.
pub struct Acme {
    cfg: AcmeConfig,
    resolver: CertResolver,
}

impl Acme {
    /// Installs the stored certificate (or a placeholder) at once; [`Acme::run`] does the rest.
    pub fn new(cfg: AcmeConfig, resolver: CertResolver) -> Result<Self, String> {
        if cfg.domains.is_empty() {
            return Err("tls.acme.domains: at least one name is needed".into());
        }
        std::fs::create_dir_all(&cfg.dir).map_err(|e| format!("{}: {e}", cfg.dir.display()))?;
        let me = Self { cfg, resolver };
        match me.stored() {
            Some((chain, key, _)) => me.resolver.install(certified_key(&chain, &key)?),
            None => me.resolver.install(placeholder(&me.cfg.domains)?),
        }
        Ok(me)
    }

    fn cert_path(&self) -> PathBuf {
        self.cfg.dir.join("cert.pem")
    }

    fn key_path(&self) -> PathBuf {
        self.cfg.dir.join("key.pem")
    }

    /// The stored certificate, its key and its end, if there is a usable one.
    fn stored(&self) -> Option<(String, String, i64)> {
        let chain = std::fs::read_to_string(self.cert_path()).ok()?;
        let key = std::fs::read_to_string(self.key_path()).ok()?;
        let end = not_after(&chain)?;
        (end > now_unix()).then_some((chain, key, end))
    }

    /// Seconds until the stored certificate is due for renewal (0: now).
    fn due_in(&self) -> u64 {
        match self.stored() {
            Some((_, _, end)) => (end - self.cfg.renew_before.as_secs() as i64 - now_unix()).max(0) as u64,
            None => 0,
        }
    }

    /// Runs forever: renews when due, retries with backoff when it fails.
    pub async fn run(self) {
        let mut backoff = self.cfg.retry_after;
        loop {
            let due = Duration::from_secs(self.due_in());
            if due > Duration::ZERO {
                tokio::time::sleep(due.min(self.cfg.check_every)).await;
                continue;
            }
            match self.issue().await {
                Ok(end) => {
                    tracing::info!(domains = ?self.cfg.domains, not_after = end, "ACME certificate installed");
                    backoff = self.cfg.retry_after;
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_secs = backoff.as_secs(), "ACME certificate request failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(3600));
                }
            }
            self.resolver.clear_challenges();
        }
    }

    async fn account(&self) -> Result<Account, String> {
        let builder = || match &self.cfg.ca_file {
            Some(ca) => Account::builder_with_root(ca).map_err(|e| format!("ACME client: {e}")),
            None => Account::builder().map_err(|e| format!("ACME client: {e}")),
        };
        let path = self.cfg.dir.join("account.json");
        if let Ok(text) = std::fs::read_to_string(&path) {
            if let Ok(creds) = serde_json::from_str::<AccountCredentials>(&text) {
                return builder()?.from_credentials(creds).await.map_err(|e| format!("ACME account: {e}"));
            }
        }
        let contact: Vec<&str> = self.cfg.contact.iter().map(String::as_str).collect();
        let new = NewAccount { contact: &contact, terms_of_service_agreed: true, only_return_existing: false };
        let (account, creds) = builder()?
            .create(&new, self.cfg.directory_url.clone(), None)
            .await
            .map_err(|e| format!("creating the ACME account at {}: {e}", self.cfg.directory_url))?;
        let text = serde_json::to_string(&creds).map_err(|e| e.to_string())?;
        write_private(&path, &text)?;
        Ok(account)
    }

    /// One order: prove control of the names, get the certificate, store it, install it.
    async fn issue(&self) -> Result<i64, String> {
        let account = self.account().await?;
        let ids: Vec<Identifier> = self.cfg.domains.iter().map(|d| Identifier::Dns(d.clone())).collect();
        let mut order = account.new_order(&NewOrder::new(&ids)).await.map_err(|e| format!("new order: {e}"))?;
        let kind = match self.cfg.challenge {
            Challenge::TlsAlpn01 => ChallengeType::TlsAlpn01,
            Challenge::Http01 => ChallengeType::Http01,
        };
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.map_err(|e| format!("authorization: {e}"))?;
            match authz.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                other => return Err(format!("authorization is {other:?}")),
            }
            let mut challenge = authz
                .challenge(kind.clone())
                .ok_or_else(|| format!("the CA offers no {:?} challenge", self.cfg.challenge))?;
            let domain = challenge.identifier().to_string();
            let key_auth = challenge.key_authorization();
            match self.cfg.challenge {
                Challenge::Http01 => self.resolver.set_http_challenge(&challenge.token, key_auth.as_str()),
                Challenge::TlsAlpn01 => {
                    let digest = key_auth.digest();
                    let mut params = rcgen::CertificateParams::new(vec![domain.clone()]).map_err(|e| e.to_string())?;
                    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest.as_ref())];
                    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
                    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
                    self.resolver.set_alpn_challenge(&domain, certified_key(&cert.pem(), &key.serialize_pem())?);
                }
            }
            challenge.set_ready().await.map_err(|e| format!("challenge for {domain}: {e}"))?;
        }
        let retries = RetryPolicy::new().initial_delay(Duration::from_millis(250)).timeout(Duration::from_secs(90));
        let status = order.poll_ready(&retries).await.map_err(|e| format!("waiting for validation: {e}"))?;
        if status != OrderStatus::Ready {
            return Err(format!("the CA did not validate the names (order {status:?})"));
        }
        let key_pem = order.finalize().await.map_err(|e| format!("finalizing: {e}"))?;
        let chain_pem = order.poll_certificate(&retries).await.map_err(|e| format!("downloading: {e}"))?;
        let end = not_after(&chain_pem).ok_or("the CA's certificate cannot be read")?;
        let key = certified_key(&chain_pem, &key_pem)?;
        write_private(&self.key_path(), &key_pem)?;
        write_private(&self.cert_path(), &chain_pem)?;
        self.resolver.install(key);
        Ok(end)
    }
}
