//! A WebSocket client for the signaling protocol, over TLS that trusts the test server's
//! self-signed certificate.
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_rustls::rustls;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
pub use tokio_tungstenite::tungstenite::protocol::frame;
pub use tokio_tungstenite::tungstenite::Message;

pub type Stream = tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// TLS settings that accept the server's self-signed certificate.
pub fn insecure_tls() -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        .with_no_client_auth();
    Arc::new(cfg)
}

/// Opens `wss://…/api/v1/ws`. `Err(status)` if the upgrade was refused.
pub async fn connect(base: &str, cookie: Option<&str>, origin: Option<&str>) -> Result<Ws, u16> {
    let host = base.trim_start_matches("https://").to_owned();
    let tcp = tokio::net::TcpStream::connect(&host).await.map_err(|_| 0u16)?;
    connect_over(tcp, &insecure_tls(), base, cookie, origin).await
}

/// Like [`connect`], over a TCP stream the caller opened (e.g. bound to a chosen source address).
pub async fn connect_over(
    tcp: tokio::net::TcpStream,
    tls: &Arc<rustls::ClientConfig>,
    base: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> Result<Ws, u16> {
    let host = base.trim_start_matches("https://").to_owned();
    let mut req = format!("wss://{host}/api/v1/ws").into_client_request().unwrap();
    if let Some(c) = cookie {
        req.headers_mut().insert("cookie", c.parse().unwrap());
    }
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("static name");
    let tls = tokio_rustls::TlsConnector::from(tls.clone()).connect(name, tcp).await.map_err(|_| 0u16)?;
    match tokio_tungstenite::client_async(req, tls).await {
        Ok((stream, _)) => Ok(Ws { stream, seq: 0 }),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(_) => Err(0),
    }
}

/// A frame as tests look at it.
#[derive(Debug)]
pub enum Frame {
    Text(Value),
    /// The close frame's code (1005 without one).
    Close(u16),
}

pub struct Ws {
    pub stream: Stream,
    /// Highest `seq` seen.
    pub seq: u64,
}

impl Ws {
    pub async fn send(&mut self, v: Value) {
        self.stream.send(Message::Text(v.to_string().into())).await.unwrap();
    }

    pub async fn send_raw(&mut self, m: Message) {
        let _ = self.stream.send(m).await;
    }

    /// The next protocol message (pings are answered by tungstenite). `None` on close/timeout.
    pub async fn recv(&mut self) -> Option<Value> {
        loop {
            let m = tokio::time::timeout(Duration::from_secs(5), self.stream.next()).await.ok()??.ok()?;
            match m {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if let Some(s) = v["seq"].as_u64() {
                        self.seq = self.seq.max(s);
                    }
                    return Some(v);
                }
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// The first message `want` accepts within `within` (others skipped); `None` if none
    /// came. Quiet spells (longer than [`Ws::recv`] waits) do not end the wait; a closed
    /// socket ends it at the deadline.
    pub async fn wait_for(&mut self, within: Duration, want: impl Fn(&Value) -> bool) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < deadline {
            match self.recv().await {
                Some(v) if want(&v) => return Some(v),
                Some(_) => {}
                None => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        None
    }

    /// Skips messages until one of type `ty` arrives.
    pub async fn expect(&mut self, ty: &str) -> Value {
        loop {
            let v = self.recv().await.unwrap_or_else(|| panic!("closed while waiting for {ty}"));
            if v["type"] == ty {
                return v;
            }
        }
    }

    /// The next text or close frame (pings and pongs skipped); `None` when the stream ends
    /// or fails. Waits as long as it takes: bound it with a timeout.
    pub async fn next_frame(&mut self) -> Option<Frame> {
        loop {
            match self.stream.next().await?.ok()? {
                Message::Text(t) => return serde_json::from_str(&t).ok().map(Frame::Text),
                Message::Close(f) => return Some(Frame::Close(f.map_or(1005, |f| f.code.into()))),
                _ => continue,
            }
        }
    }

    /// Waits for the close frame and returns its code.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            let m = tokio::time::timeout(Duration::from_secs(5), self.stream.next()).await.ok()??;
            match m {
                Ok(Message::Close(Some(f))) => return Some(f.code.into()),
                Ok(Message::Close(None)) => return Some(1005),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }

    /// Asserts nothing of type `ty` arrives within `ms` milliseconds.
    pub async fn quiet(&mut self, ty: &str, ms: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
        while let Ok(Some(Ok(m))) = tokio::time::timeout_at(deadline, self.stream.next()).await {
            if let Message::Text(t) = m {
                let v: Value = serde_json::from_str(&t).unwrap();
                assert_ne!(v["type"], ty, "unexpected {v}");
            }
        }
    }

    pub async fn hello(&mut self) -> Value {
        self.send(json!({"type": "hello", "v": 1})).await;
        self.expect("welcome").await
    }
}
