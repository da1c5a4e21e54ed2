use std::sync::{Arc, Mutex};

use auth::ratelimit::LoginLimiter;
use axum::http::StatusCode;
use store::Store;
use tokio::sync::Semaphore;

use crate::config::WebConfig;
use crate::error::HttpError;

/// Shared by every request.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<WebConfig>,
    /// The resolved public base URL (`https://host:port`, no trailing slash).
    pub public_url: Arc<str>,
    pub limiter: Arc<Mutex<LoginLimiter>>,
    /// The bus to the other nodes, when this node is one of a cluster.
    pub cluster: Option<crate::cluster::Bus>,
    /// Bounds concurrent argon2 computations (19 MiB each) so a login flood cannot exhaust memory.
    pub hashing: Arc<Semaphore>,
    /// The signaling hub's task.
    pub hub: crate::signaling::HubHandle,
    /// The chat writer's queue (REST posts; WebSocket posts come through the hub).
    pub(crate) chat: crate::chat::ChatQueue,
    /// Posting rate of REST chat posts per user (WebSocket posts are limited in the hub).
    chat_limits: Arc<crate::budget::Buckets<i64>>,
    /// Files posted to conversations.
    pub attachments: crate::attachments::Attachments,
    /// Request budgets of the endpoints that create or search.
    pub(crate) budgets: Arc<crate::budget::Budgets>,
    pub metrics: crate::metrics::MetricsHandle,
    /// Group calls, when configured.
    pub conference: Option<Arc<crate::conference::Conference>>,
    /// Meet-by-code waiting rooms and the guess limiter for links and codes.
    pub meetings: Arc<crate::meetings::Meetings>,
}

impl AppState {
    /// Also recovers what a crash left of uploads (hence the I/O error).
    pub fn new(store: Arc<dyn Store>, config: WebConfig, public_url: String) -> std::io::Result<Self> {
        let permits = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2) * 2;
        let attachments = crate::attachments::Attachments::open(config.attachments.clone(), store.as_ref())?;
        attachments.spawn_sweeper(store.clone());
        let (chat, chat_rx) = tokio::sync::mpsc::channel(crate::chat::QUEUE);
        let metrics = crate::metrics::MetricsHandle::new();
        let (conference, sfu_events) = match &config.sfu {
            Some(cfg) => {
                let (c, rx) = crate::conference::start(cfg.clone())?;
                let stats = c.clone();
                metrics.set_sfu_source(move || stats.stats());
                (Some(c), Some(rx))
            }
            None => (None, None),
        };
        let limiter = Arc::new(Mutex::new(LoginLimiter::default()));
        let (cluster, remote) = match config.cluster.clone() {
            Some(cfg) => {
                let (bus, remote) = crate::cluster::Bus::start(cfg, limiter.clone());
                metrics.set_cluster_source(bus.stats.clone());
                if let Some(c) = &conference {
                    c.join_cluster(bus.clone(), store.clone());
                }
                (Some(bus), Some(remote))
            }
            None => (None, None),
        };
        let hub = crate::signaling::spawn_hub(
            config.hub.clone(),
            config.session_recheck,
            store.clone(),
            chat.clone(),
            metrics.clone(),
            conference.clone(),
            cluster.clone().zip(remote),
        );
        if let (Some(rx), Some(c)) = (sfu_events, &conference) {
            let wiring =
                crate::meetings::Wiring { store: store.clone(), hub: hub.clone(), conference: Some(c.clone()) };
            let end_without_hosts = config.meetings.end_when_hosts_leave.then_some(config.meetings.host_grace);
            tokio::spawn(crate::conference::bridge(c.clone(), rx, wiring, end_without_hosts));
        }
        crate::meetings::Wiring { store: store.clone(), hub: hub.clone(), conference: conference.clone() }
            .spawn_sweeper(config.meetings.sweep_every);
        if let Some(dir) = &config.directory {
            crate::directory_sync::spawn(dir.clone(), store.clone(), hub.clone());
        }
        if let Err(e) = crate::chat::spawn_writer(
            chat_rx,
            store.clone(),
            hub.clone(),
            attachments.sweep_now.clone(),
            metrics.metrics.clone(),
        ) {
            tracing::error!(error = %e, "cannot start the chat writer thread; chat is unavailable");
        }
        Ok(Self {
            meetings: Arc::new(crate::meetings::Meetings::new(&config.meetings)),
            conference,
            attachments,
            hub,
            chat,
            chat_limits: Arc::default(),
            budgets: Arc::default(),
            metrics,
            store,
            config: Arc::new(config),
            public_url: public_url.trim_end_matches('/').into(),
            limiter,
            cluster,
            hashing: Arc::new(Semaphore::new(permits)),
        })
    }

    /// Runs database work on the blocking pool.
    pub async fn blocking<T, F>(&self, f: F) -> Result<T, HttpError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> Result<T, HttpError> + Send + 'static,
    {
        let store = self.store.clone();
        let timing = self.metrics.metrics.clone();
        tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let out = f(store.as_ref());
            timing.store_seconds.observe(started.elapsed().as_secs_f64());
            out
        })
        .await
        .map_err(|e| HttpError::internal("blocking task", e))?
    }

    /// Runs password hashing or verification on the blocking pool, a bounded number at a time.
    pub async fn hashing<T, F>(&self, f: F) -> Result<T, HttpError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let _permit = self.hashing.acquire().await.map_err(|_| {
            HttpError::new(StatusCode::SERVICE_UNAVAILABLE, proto::ErrorCode::Internal, "server is shutting down")
        })?;
        tokio::task::spawn_blocking(f).await.map_err(|e| HttpError::internal("hashing task", e))
    }

    /// Takes one chat post from the user's REST posting budget.
    pub fn chat_rate(&self, user: i64) -> Result<(), HttpError> {
        let (rate, burst) = (self.config.hub.chat_rate_per_sec, self.config.hub.chat_burst);
        self.chat_limits.take(user, rate, burst, std::time::Instant::now()).map_err(HttpError::rate_limited)
    }

    /// Before the process stops: the other nodes of a cluster are told this one is leaving
    /// (they place nothing here any more and move what it held), every chat write queued so
    /// far is committed and its acknowledgement handed to the hub, then every signaling
    /// socket is closed with 1012 ("restarting"), so clients reconnect to the next server.
    /// Bounded by `limit`.
    pub async fn drain(&self, limit: std::time::Duration) {
        if let Some(bus) = &self.cluster {
            bus.leave();
        }
        let work = async {
            let (done, flushed) = tokio::sync::oneshot::channel();
            let barrier =
                crate::chat::Job { user: 0, op: crate::chat::Op::Barrier(done), origin: crate::chat::Origin::Internal };
            if self.chat.send(barrier).await.is_ok() {
                let _ = flushed.await;
            }
            self.hub.close_all_restarting().await;
        };
        if tokio::time::timeout(limit, work).await.is_err() {
            tracing::warn!("draining took too long; stopping anyway");
        }
    }

    /// Records a sign-in attempt's outcome here and on every other node of a cluster, so an
    /// account's backoff holds whichever node the attempts reach.
    pub fn login_outcome(&self, account: &str, ip: std::net::IpAddr, ok: bool) {
        if ok {
            self.limiter().record_success(account);
        } else {
            self.limiter().record_failure(account, ip, std::time::Instant::now());
        }
        if let Some(bus) = &self.cluster {
            bus.publish_login(account, ip, ok);
        }
    }

    pub fn limiter(&self) -> std::sync::MutexGuard<'_, LoginLimiter> {
        self.limiter.lock().unwrap_or_else(|p| p.into_inner())
    }
}
