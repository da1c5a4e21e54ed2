//! TLS: the operator's certificate, or a self-signed one made on first start and kept.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsSource;

struct CertPaths {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Returns the paths of the self-signed certificate in `dir`, generating it if absent.
/// Names: localhost, 127.0.0.1, ::1 and `extra_names` (host names or IP addresses).
fn load_or_create_self_signed(dir: &Path, extra_names: &[String]) -> Result<CertPaths> {
    let paths = CertPaths { cert: dir.join("cert.pem"), key: dir.join("key.pem") };
    if paths.cert.exists() && paths.key.exists() {
        return Ok(paths);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    names.extend(extra_names.iter().filter(|n| !n.is_empty()).cloned());
    names.dedup();
    let cert = rcgen::generate_simple_self_signed(names).context("generating self-signed certificate")?;
    write_private(&paths.key, cert.key_pair.serialize_pem().as_bytes())?;
    std::fs::write(&paths.cert, cert.cert.pem()).with_context(|| format!("writing {}", paths.cert.display()))?;
    tracing::info!(path = %paths.cert.display(), "generated a self-signed TLS certificate");
    Ok(paths)
}

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

pub fn server_config(source: &TlsSource) -> Result<Arc<rustls::ServerConfig>> {
    let paths = match source {
        TlsSource::Files { cert, key } => CertPaths { cert: cert.clone(), key: key.clone() },
        TlsSource::SelfSigned { dir, extra_names } => load_or_create_self_signed(dir, extra_names)?,
    };
    let certs = read_certs(&paths.cert)?;
    let key = read_key(&paths.key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("TLS certificate and key do not match or are unsupported")?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = std::fs::read(path).with_context(|| format!("reading TLS certificate {}", path.display()))?;
    let certs = rustls_pemfile_certs(&pem)?;
    if certs.is_empty() {
        return Err(anyhow!("{}: no certificate found", path.display()));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    PrivateKeyDer::from_pem_file(path).map_err(|e| anyhow!("reading TLS key {}: {e}", path.display()))
}

fn rustls_pemfile_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>().map_err(|e| anyhow!("bad PEM certificate: {e}"))
}
