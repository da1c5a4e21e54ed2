//! Certificates from a real ACME server (Pebble, started by the test): issued through
//! TLS-ALPN-01 and HTTP-01, renewed while the server runs, kept across a restart.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use testkit::pebble::Pebble;
use testkit::process::free_port;
use web::acme::{AcmeConfig, Challenge};

const NAME: &str = "chat.mywebrtc.test";

/// The root Pebble issues under (from its management interface, over its own HTTPS).
async fn pebble_root(p: &Pebble) -> String {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&p.ca_file).unwrap()).unwrap();
    let http = reqwest::Client::builder().add_root_certificate(ca).build().unwrap();
    http.get(&p.roots_url).send().await.unwrap().text().await.unwrap()
}

/// The leaf certificate served at `addr` for `NAME`, if it verifies against `root_pem`.
async fn verified_leaf(addr: SocketAddr, root_pem: &str) -> Option<Vec<u8>> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(root_pem.as_bytes()) {
        roots.add(c.ok()?).ok()?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
    let name = rustls::pki_types::ServerName::try_from(NAME).ok()?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg)).connect(name, tcp).await.ok()?;
    tls.get_ref().1.peer_certificates()?.first().map(|c| c.to_vec())
}

async fn wait_for_leaf(addr: SocketAddr, root: &str, not: Option<&[u8]>) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(leaf) = verified_leaf(addr, root).await {
            if not != Some(leaf.as_slice()) {
                return leaf;
            }
        }
        assert!(Instant::now() < deadline, "no (new) certificate from the ACME server in time");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn acme_config(p: &Pebble, dir: &std::path::Path, challenge: Challenge, renew_before: Duration) -> AcmeConfig {
    AcmeConfig {
        domains: vec![NAME.to_owned()],
        contact: vec!["mailto:ops@mywebrtc.test".to_owned()],
        directory_url: p.directory_url.clone(),
        ca_file: Some(p.ca_file.clone()),
        challenge,
        dir: dir.to_owned(),
        renew_before,
        check_every: Duration::from_millis(500),
        retry_after: Duration::from_millis(500),
    }
}

#[tokio::test]
async fn tls_alpn_01_issues_renews_while_running_and_the_certificate_outlives_a_restart() {
    let (https, http) = (free_port().unwrap(), free_port().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let pebble = Pebble::start(tmp.path(), http, https).unwrap();
    let root = pebble_root(&pebble).await;
    let acme_dir = tmp.path().join("acme");
    let addr: SocketAddr = format!("127.0.0.1:{https}").parse().unwrap();
    // Renewal is always due here: the server keeps renewing, each time without a restart.
    let cfg = acme_config(&pebble, &acme_dir, Challenge::TlsAlpn01, Duration::from_secs(100 * 365 * 86400));
    let s = common::start_with(move |c| {
        c.listen = addr;
        c.tls = web::TlsSource::Acme(cfg);
    })
    .await;
    let first = wait_for_leaf(addr, &root, None).await;
    let second = wait_for_leaf(addr, &root, Some(&first)).await;
    assert_ne!(first, second, "renewed in place");
    // The API is served with it.
    assert_eq!(verified_leaf(addr, &root).await.map(|l| l.is_empty()), Some(false));
    drop(s);
    drop(pebble);

    // Restarted with the CA gone: the stored certificate is served at once. (The stopped
    // server lets go of its port once it has drained; wait for that, however long it takes
    // on a loaded machine.)
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpListener::bind(addr).is_err() {
        assert!(Instant::now() < deadline, "the stopped server keeps its port");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cfg = AcmeConfig { renew_before: Duration::from_secs(86400), ..acme_config_stub(&acme_dir) };
    let _s = common::start_with(move |c| {
        c.listen = addr;
        c.tls = web::TlsSource::Acme(cfg);
    })
    .await;
    assert!(verified_leaf(addr, &root).await.is_some(), "the stored ACME certificate");
}

/// Settings pointing at a CA that is not there.
fn acme_config_stub(dir: &std::path::Path) -> AcmeConfig {
    AcmeConfig {
        domains: vec![NAME.to_owned()],
        contact: Vec::new(),
        directory_url: "https://127.0.0.1:9/dir".into(),
        ca_file: None,
        challenge: Challenge::TlsAlpn01,
        dir: dir.to_owned(),
        renew_before: Duration::from_secs(86400),
        check_every: Duration::from_secs(3600),
        retry_after: Duration::from_secs(3600),
    }
}

#[tokio::test]
async fn http_01_issues_through_the_plain_http_listener() {
    let (https, http) = (free_port().unwrap(), free_port().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let pebble = Pebble::start(tmp.path(), http, https).unwrap();
    let root = pebble_root(&pebble).await;
    let addr: SocketAddr = format!("127.0.0.1:{https}").parse().unwrap();
    let cfg = acme_config(&pebble, &tmp.path().join("acme"), Challenge::Http01, Duration::from_secs(86400));
    let _s = common::start_with(move |c| {
        c.listen = addr;
        c.http_redirect_listen = Some(format!("127.0.0.1:{http}").parse().unwrap());
        c.tls = web::TlsSource::Acme(cfg);
    })
    .await;
    wait_for_leaf(addr, &root, None).await;
}
