//! Binding the listeners and running the HTTPS server (plus the optional HTTP redirect).

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use store::Store;

use crate::config::WebConfig;
use crate::state::AppState;
use crate::{api, assets, redirect, security, tls};

pub struct Server {
    state: AppState,
    https: std::net::TcpListener,
    http: Option<std::net::TcpListener>,
    tls: Arc<rustls::ServerConfig>,
    /// Where the listeners take their certificate from.
    certs: tls::CertResolver,
    /// With ACME: the task that gets and renews the certificate.
    acme: Option<crate::acme::Acme>,
}

fn bind(addr: SocketAddr, what: &str) -> Result<std::net::TcpListener> {
    let l = std::net::TcpListener::bind(addr).with_context(|| format!("cannot listen for {what} on {addr}"))?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// `https://host:port` for a bound address; an unspecified address is shown as `localhost`.
pub fn derive_public_url(addr: SocketAddr) -> String {
    match addr.ip() {
        ip if ip.is_unspecified() => format!("https://localhost:{}", addr.port()),
        IpAddr::V6(ip) => format!("https://[{ip}]:{}", addr.port()),
        IpAddr::V4(ip) => format!("https://{ip}:{}", addr.port()),
    }
}

impl Server {
    /// Loads TLS material and binds the listeners, so errors surface before anything runs.
    pub fn bind(config: WebConfig, store: Arc<dyn Store>) -> Result<Self> {
        let certs = tls::CertResolver::default();
        let acme = match &config.tls {
            crate::config::TlsSource::Acme(cfg) => {
                Some(crate::acme::Acme::new(cfg.clone(), certs.clone()).map_err(|e| anyhow::anyhow!(e))?)
            }
            source => {
                certs.install(tls::current_key(source)?);
                None
            }
        };
        let tls = tls::server_config(certs.clone())?;
        let https = bind(config.listen, "HTTPS")?;
        let http = config.http_redirect_listen.map(|a| bind(a, "the HTTP redirect")).transpose()?;
        let public_url = match &config.public_url {
            Some(u) => u.clone(),
            None => derive_public_url(https.local_addr()?),
        };
        let state = AppState::new(store, config, public_url).context("cannot open the attachments directory")?;
        Ok(Self { state, https, http, tls, certs, acme })
    }

    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.https.local_addr()?)
    }

    pub fn http_redirect_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The server's metrics, for the metrics listener and extra sources (TURN).
    /// The conference server's media address, when group calls are on.
    pub fn conference_media_addr(&self) -> Option<std::net::SocketAddr> {
        self.state.conference.as_ref().map(|c| c.media_addr())
    }

    /// Where browsers send conference media: the TURN server relays there for everyone, and
    /// only there for meeting guests.
    pub fn conference_candidates(&self) -> Vec<std::net::SocketAddr> {
        self.state.conference.as_ref().map(|c| c.candidates()).unwrap_or_default()
    }

    pub fn metrics(&self) -> crate::metrics::MetricsHandle {
        self.state.metrics.clone()
    }

    /// The certificate the web server uses (TURN over TLS reuses it).
    pub fn tls_config(&self) -> Arc<rustls::ServerConfig> {
        self.tls.clone()
    }

    /// Hands out time-limited credentials for this TURN server from `GET /api/v1/ice-servers`.
    /// Call before [`Server::run`].
    pub fn set_turn(&mut self, turn: crate::TurnRest) {
        Arc::make_mut(&mut self.state.config).turn = Some(turn);
    }

    pub fn public_url(&self) -> &str {
        &self.state.public_url
    }

    /// The first-admin link, if no administrator exists yet (a fresh one on every start).
    pub fn setup_link(&self) -> Result<Option<auth::invites::Link>> {
        Ok(auth::invites::ensure_setup_link(
            self.state.store.as_ref(),
            &self.state.public_url,
            self.state.config.setup_link_ttl,
            crate::unix_now(),
        )?)
    }

    pub fn router(&self) -> Router {
        router(self.state.clone())
    }

    /// Serves until `shutdown` completes, then lets open requests finish (up to 10 s).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let app = router(self.state.clone());
        let handle = axum_server::Handle::new();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        {
            let handle = handle.clone();
            let state = self.state.clone();
            tokio::spawn(async move {
                shutdown.await;
                state.drain(Duration::from_secs(5)).await;
                let _ = stop_tx.send(true);
                handle.graceful_shutdown(Some(Duration::from_secs(10)));
            });
        }
        let challenges = self.acme.is_some().then(|| self.certs.clone());
        if let Some(acme) = self.acme {
            tokio::spawn(acme.run());
        }
        let redirect_task = match self.http {
            Some(l) => {
                let listener = tokio::net::TcpListener::from_std(l)?;
                let app = redirect::router(self.state.public_url.to_string(), challenges);
                let mut stop = stop_rx.clone();
                Some(tokio::spawn(async move {
                    axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            let _ = stop.wait_for(|s| *s).await;
                        })
                        .await
                }))
            }
            None => None,
        };
        let rustls = axum_server::tls_rustls::RustlsConfig::from_config(self.tls);
        if let crate::config::TlsSource::SelfSigned { .. } = &self.state.config.tls {
            // The generated certificate is valid for a year: a server that runs that long
            // gets a new one a month before the end, served at once by every listener.
            let (certs, source) = (self.certs.clone(), self.state.config.tls.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(tls::RENEW_CHECK);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let source = source.clone();
                    match tokio::task::spawn_blocking(move || tls::current_key(&source)).await {
                        Ok(Ok(key)) => certs.install(key),
                        Ok(Err(e)) => tracing::error!(error = %e, "renewing the self-signed certificate failed"),
                        Err(e) => tracing::error!(error = %e, "renewing the self-signed certificate failed"),
                    }
                }
            });
        }
        // TCP_NODELAY: signaling frames are small and latency-bound; with Nagle's algorithm a
        // relayed offer or answer waited ~40 ms for the peer's delayed ACK (bench/README.md).
        let acceptor =
            axum_server::tls_rustls::RustlsAcceptor::new(rustls).acceptor(axum_server::accept::NoDelayAcceptor::new());
        let mut server = axum_server::from_tcp(self.https).acceptor(acceptor).handle(handle);
        // HTTP/2 flow control: with small windows an upload stalls waiting for window updates
        // (attachments reached half of HTTP/1.1's rate, bench/README.md).
        server
            .http_builder()
            .http2()
            .initial_stream_window_size(4 * 1024 * 1024)
            .initial_connection_window_size(8 * 1024 * 1024)
            .max_frame_size(256 * 1024);
        server.serve(app.into_make_service_with_connect_info::<SocketAddr>()).await.context("HTTPS server failed")?;
        if let Some(t) = redirect_task {
            t.await.context("redirect server task")?.context("HTTP redirect server failed")?;
        }
        Ok(())
    }
}

fn router(state: AppState) -> Router {
    let max_body = state.config.max_body_bytes;
    let log_ip = state.config.log_client_ip;
    let metrics = state.metrics.metrics.clone();
    Router::new()
        .route("/healthz", get(api::health::healthz))
        .route("/readyz", get(api::health::readyz))
        .nest("/api/v1", api::routes().route_layer(middleware::from_fn(crate::metrics::label_route)))
        .fallback(assets::serve)
        .with_state(state)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn(security::same_origin))
        .layer(middleware::from_fn(security::security_headers))
        .layer(middleware::from_fn(move |req: Request, next: Next| log_request(req, next, log_ip, metrics.clone())))
}

/// One log line per request: method, path (never the query), status, duration.
/// The client address only when the operator opted in.
async fn log_request(req: Request, next: Next, log_ip: bool, metrics: Arc<crate::metrics::Metrics>) -> Response {
    let method = req.method().clone();
    let path: String = req.uri().path().chars().take(200).collect();
    let ip =
        if log_ip { req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()) } else { None };
    let start = Instant::now();
    let resp = next.run(req).await;
    crate::metrics::observe_request(&metrics, method.as_str(), &resp, start);
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let status = resp.status().as_u16();
    match ip {
        Some(ip) => tracing::info!(%method, path, status, ms, client = ip, "request"),
        None => tracing::info!(%method, path, status, ms, "request"),
    }
    resp
}
