//! TLS: the operator's certificate, a self-signed one made on first start and kept, or one
//! from ACME. Whatever the source, the listeners (HTTPS and TURN over TLS) present the
//! certificate a [`CertResolver`] holds, so a renewed one is served by all of them at once.

mod resolver;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use rustls::sign::CertifiedKey;

pub use resolver::{certified_key, CertResolver, ACME_TLS_ALPN};

use crate::config::TlsSource;

struct CertPaths {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// How long a generated certificate is valid, and how long before its end it is replaced.
const SELF_SIGNED_DAYS: i64 = 365;
const RENEW_DAYS_BEFORE: i64 = 30;

/// What the generated certificate was made for, kept beside it (`self-signed.json`), so a
/// change of the configured names or an approaching expiry makes a new one.
#[derive(serde::Serialize, serde::Deserialize, PartialEq, Eq, Debug)]
struct SelfSignedMeta {
    names: Vec<String>,
    not_after: i64,
}

fn self_signed_names(extra_names: &[String]) -> Vec<String> {
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    for n in extra_names {
        if !n.is_empty() && !names.contains(n) {
            names.push(n.clone());
        }
    }
    names
}

/// Whether the certificate in `dir` must be (re)made: missing, made for other names, from
/// before the metadata existed, or within [`RENEW_DAYS_BEFORE`] of its end.
fn needs_new_certificate(dir: &Path, names: &[String], now: i64) -> bool {
    let paths = [dir.join("cert.pem"), dir.join("key.pem")];
    if !paths.iter().all(|p| p.exists()) {
        return true;
    }
    let meta: Option<SelfSignedMeta> =
        std::fs::read(dir.join("self-signed.json")).ok().and_then(|b| serde_json::from_slice(&b).ok());
    match meta {
        Some(m) => m.names != names || m.not_after - now < RENEW_DAYS_BEFORE * 86400,
        None => true,
    }
}

/// A self-signed server certificate for `names`, valid from a day ago for a year, with
/// Subject and Authority Key Identifiers and `CA:FALSE` (what browsers and TLS libraries
/// expect of a leaf certificate).
pub(crate) fn generate_self_signed(names: &[String], now: i64) -> Result<(rcgen::CertifiedKey, i64)> {
    let mut params = rcgen::CertificateParams::new(names.to_vec()).context("certificate names")?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, names.last().cloned().unwrap_or_default());
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "mywebrtc (self-signed)");
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.use_authority_key_identifier_extension = true;
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    let not_after = now + SELF_SIGNED_DAYS * 86400;
    params.not_before = time::OffsetDateTime::from_unix_timestamp(now - 86400).context("clock")?;
    params.not_after = time::OffsetDateTime::from_unix_timestamp(not_after).context("clock")?;
    let key_pair = rcgen::KeyPair::generate().context("generating a key")?;
    let cert = params.self_signed(&key_pair).context("signing the certificate")?;
    Ok((rcgen::CertifiedKey { cert, key_pair }, not_after))
}

/// Returns the paths of the self-signed certificate in `dir`, (re)generating it when needed.
/// Names: localhost, 127.0.0.1, ::1 and `extra_names` (host names or IP addresses).
fn load_or_create_self_signed(dir: &Path, extra_names: &[String]) -> Result<CertPaths> {
    let paths = CertPaths { cert: dir.join("cert.pem"), key: dir.join("key.pem") };
    let names = self_signed_names(extra_names);
    let now = crate::unix_now();
    if !needs_new_certificate(dir, &names, now) {
        return Ok(paths);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let (cert, not_after) = generate_self_signed(&names, now)?;
    write_private(&paths.key, cert.key_pair.serialize_pem().as_bytes())?;
    std::fs::write(&paths.cert, cert.cert.pem()).with_context(|| format!("writing {}", paths.cert.display()))?;
    let meta = serde_json::to_vec_pretty(&SelfSignedMeta { names, not_after }).context("certificate metadata")?;
    std::fs::write(dir.join("self-signed.json"), meta).context("writing self-signed.json")?;
    tracing::info!(path = %paths.cert.display(), valid_days = SELF_SIGNED_DAYS, "generated a self-signed TLS certificate");
    Ok(paths)
}

/// How often a running server checks whether its self-signed certificate is due.
pub const RENEW_CHECK: std::time::Duration = std::time::Duration::from_secs(12 * 3600);

/// Writes a file only its owner can read (mode 0600 on Unix), synced to disk.
pub fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).with_context(|| format!("writing {}", path.display()))?;
    f.write_all(data)?;
    f.sync_all()?;
    Ok(())
}

/// The server configuration of every TLS listener: the certificate is whatever `resolver`
/// holds at each handshake (and TLS-ALPN-01 challenges are answered while ACME runs).
pub fn server_config(resolver: CertResolver) -> Result<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec(), ACME_TLS_ALPN.to_vec()];
    Ok(Arc::new(cfg))
}

/// The certificate and key of a file or self-signed source (the self-signed one is made or
/// remade first when due). ACME certificates come from the ACME task instead.
pub fn current_key(source: &TlsSource) -> Result<Arc<CertifiedKey>> {
    let paths = match source {
        TlsSource::Files { cert, key } => CertPaths { cert: cert.clone(), key: key.clone() },
        TlsSource::SelfSigned { dir, extra_names } => load_or_create_self_signed(dir, extra_names)?,
        TlsSource::Acme(_) => return Err(anyhow!("ACME certificates come from the ACME task")),
    };
    let read = |p: &Path, what: &str| {
        std::fs::read_to_string(p).with_context(|| format!("reading TLS {what} {}", p.display()))
    };
    certified_key(&read(&paths.cert, "certificate")?, &read(&paths.key, "key")?)
        .map_err(|e| anyhow!("TLS certificate {} and key {}: {e}", paths.cert.display(), paths.key.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_certificates_are_remade_for_new_names_and_before_they_expire() {
        let dir = tempfile::tempdir().unwrap();
        let names = self_signed_names(&["chat.example.org".to_owned()]);
        assert!(needs_new_certificate(dir.path(), &names, 0));
        load_or_create_self_signed(dir.path(), &["chat.example.org".to_owned()]).unwrap();
        let now = crate::unix_now();
        assert!(!needs_new_certificate(dir.path(), &names, now));
        assert!(needs_new_certificate(dir.path(), &self_signed_names(&["other.example.org".to_owned()]), now));
        assert!(needs_new_certificate(dir.path(), &names, now + (SELF_SIGNED_DAYS - RENEW_DAYS_BEFORE + 1) * 86400));

        // The certificate itself: a year's validity, key identifiers, not a CA, the names.
        use rustls::pki_types::pem::PemObject;
        let der = rustls::pki_types::CertificateDer::from_pem_file(dir.path().join("cert.pem")).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let validity = cert.validity();
        let days = (validity.not_after.timestamp() - validity.not_before.timestamp()) / 86400;
        assert!((365..=367).contains(&days), "{days} days");
        let san = format!("{:?}", cert.subject_alternative_name().unwrap().unwrap().value.general_names);
        assert!(san.contains("chat.example.org") && san.contains("localhost"), "{san}");
        assert_eq!(cert.basic_constraints().unwrap().map(|b| b.value.ca), Some(false));
        // SKI (2.5.29.14) and AKI (2.5.29.35) are in the DER.
        let has = |oid: &[u8]| der.windows(oid.len()).any(|w| w == oid);
        assert!(has(&[0x06, 0x03, 0x55, 0x1d, 0x0e]), "subject key identifier");
        assert!(has(&[0x06, 0x03, 0x55, 0x1d, 0x23]), "authority key identifier");
    }

    #[test]
    fn a_certificate_with_someone_elses_key_is_refused() {
        let (a, _) = generate_self_signed(&["a.test".to_owned()], crate::unix_now()).unwrap();
        let (b, _) = generate_self_signed(&["a.test".to_owned()], crate::unix_now()).unwrap();
        assert!(certified_key(&a.cert.pem(), &a.key_pair.serialize_pem()).is_ok());
        let err = certified_key(&a.cert.pem(), &b.key_pair.serialize_pem()).err().unwrap();
        assert!(err.contains("do not match"), "{err}");
    }
}
