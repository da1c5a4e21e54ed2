//! Prometheus metrics, served on their own listener (default `127.0.0.1:9464`, plain HTTP,
//! `GET /metrics`), never on the public HTTPS port.
//!
//! Counters and histograms are updated where things happen (requests, chat commits, store
//! calls, finished calls); the hub's and the TURN server's state and the process figures are
//! read at scrape time from snapshots, so collecting costs the hot paths nothing.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;
type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;

/// TURN counters as the binary reads them from its TURN service.
#[derive(Debug, Clone, Copy, Default)]
pub struct TurnFigures {
    pub allocations: u64,
    pub packets_to_peers: u64,
    pub packets_to_clients: u64,
    pub bytes_to_peers: u64,
    pub bytes_to_clients: u64,
    pub dropped: u64,
}

type TurnSource = Box<dyn Fn() -> TurnFigures + Send + Sync>;
type SfuSource = Box<dyn Fn() -> sfu::SfuStats + Send + Sync>;

fn latency_seconds() -> Histogram {
    // 0.5 ms .. ~16 s
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// Every metric of the server.
pub struct Metrics {
    registry: Registry,
    pub(crate) http_requests: Family<Labels, Counter>,
    pub(crate) http_seconds: HistogramFamily,
    pub(crate) calls_ended: Family<Labels, Counter>,
    pub(crate) call_setup_seconds: Histogram,
    pub(crate) chat_writes: Counter,
    pub(crate) chat_commit_seconds: Histogram,
    pub(crate) store_seconds: Histogram,
}

/// What is read at scrape time.
#[derive(Default)]
struct Snapshots {
    hub: Mutex<hub::HubStats>,
    turn: Mutex<Option<TurnSource>>,
    sfu: Mutex<Option<SfuSource>>,
    cluster: Mutex<Option<Arc<crate::cluster::BusStats>>>,
}

#[derive(Clone)]
struct SnapshotCollector(Arc<Snapshots>);

impl std::fmt::Debug for SnapshotCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SnapshotCollector")
    }
}

fn gauge(e: &mut DescriptorEncoder, name: &str, help: &str, v: f64) -> Result<(), std::fmt::Error> {
    let g = ConstGauge::new(v);
    let m = e.encode_descriptor(name, help, None, g.metric_type())?;
    g.encode(m)
}

fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> Result<(), std::fmt::Error> {
    let c = ConstCounter::new(v);
    let m = e.encode_descriptor(name, help, None, c.metric_type())?;
    c.encode(m)
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let h = *self.0.hub.lock().unwrap_or_else(|p| p.into_inner());
        gauge(&mut e, "mywebrtc_ws_connections", "Open signaling WebSockets", h.connections as f64)?;
        gauge(
            &mut e,
            "mywebrtc_devices",
            "Devices (tabs) signed in, including those waiting to resume",
            h.devices as f64,
        )?;
        gauge(&mut e, "mywebrtc_online_users", "Users with at least one device", h.online_users as f64)?;
        gauge(&mut e, "mywebrtc_active_calls", "1:1 calls ringing or running", h.active_calls as f64)?;
        counter(&mut e, "mywebrtc_presence_changes", "Presence changes pushed to contacts", h.presence_changes)?;
        counter(&mut e, "mywebrtc_calls_started", "1:1 calls placed", h.calls_started)?;
        let turn = self.0.turn.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|f| f());
        if let Some(t) = turn {
            gauge(&mut e, "mywebrtc_turn_allocations", "TURN allocations", t.allocations as f64)?;
            counter(
                &mut e,
                "mywebrtc_turn_relayed_packets_to_peers",
                "Packets relayed from clients to peers",
                t.packets_to_peers,
            )?;
            counter(
                &mut e,
                "mywebrtc_turn_relayed_packets_to_clients",
                "Packets relayed from peers to clients",
                t.packets_to_clients,
            )?;
            counter(
                &mut e,
                "mywebrtc_turn_relayed_bytes_to_peers",
                "Payload bytes relayed from clients to peers",
                t.bytes_to_peers,
            )?;
            counter(
                &mut e,
                "mywebrtc_turn_relayed_bytes_to_clients",
                "Payload bytes relayed from peers to clients",
                t.bytes_to_clients,
            )?;
            counter(
                &mut e,
                "mywebrtc_turn_dropped_packets",
                "Packets the TURN server refused or could not relay",
                t.dropped,
            )?;
        }
        let sfu = self.0.sfu.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|f| f());
        if let Some(s) = sfu {
            gauge(&mut e, "mywebrtc_sfu_rooms", "Group calls running", s.rooms as f64)?;
            gauge(&mut e, "mywebrtc_sfu_participants", "Devices in group calls", s.participants as f64)?;
            gauge(
                &mut e,
                "mywebrtc_sfu_tcp_connections",
                "ICE-over-TCP media connections open",
                s.tcp_connections as f64,
            )?;
            counter(&mut e, "mywebrtc_sfu_packets_in", "Media packets received by the SFU", s.packets_in)?;
            counter(&mut e, "mywebrtc_sfu_bytes_in", "Media bytes received by the SFU", s.bytes_in)?;
            counter(&mut e, "mywebrtc_sfu_packets_out", "Media packets sent by the SFU", s.packets_out)?;
            counter(&mut e, "mywebrtc_sfu_bytes_out", "Media bytes sent by the SFU", s.bytes_out)?;
            counter(
                &mut e,
                "mywebrtc_sfu_dropped_packets",
                "Media packets dropped because a worker or a TCP connection could not keep up",
                s.dropped,
            )?;
        }
        let cluster = self.0.cluster.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(c) = cluster {
            use std::sync::atomic::Ordering::Relaxed;
            gauge(&mut e, "mywebrtc_cluster_nodes", "Other nodes heard on the bus", c.nodes.load(Relaxed) as f64)?;
            gauge(
                &mut e,
                "mywebrtc_cluster_bus_connected",
                "Whether this node is connected to NATS (1) or not (0)",
                c.connected.load(Relaxed) as f64,
            )?;
            counter(&mut e, "mywebrtc_cluster_messages_out", "Messages published on the bus", c.sent.load(Relaxed))?;
            counter(&mut e, "mywebrtc_cluster_messages_in", "Messages from other nodes", c.received.load(Relaxed))?;
            counter(
                &mut e,
                "mywebrtc_cluster_messages_dropped",
                "Messages to other nodes dropped (queue full) or refused (malformed)",
                c.dropped.load(Relaxed),
            )?;
        }
        let p = crate::process_stats::read();
        gauge(&mut e, "process_resident_memory_bytes", "Resident memory size in bytes", p.rss_bytes as f64)?;
        gauge(&mut e, "process_virtual_memory_bytes", "Virtual memory size in bytes", p.vsize_bytes as f64)?;
        let cpu = ConstCounter::new(p.cpu_seconds);
        cpu.encode(e.encode_descriptor(
            "process_cpu_seconds",
            "User and system CPU time spent in seconds",
            None,
            cpu.metric_type(),
        )?)?;
        gauge(&mut e, "process_open_fds", "Open file descriptors", p.open_fds as f64)?;
        gauge(&mut e, "process_threads", "Threads", p.threads as f64)?;
        gauge(
            &mut e,
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch",
            p.start_time_seconds,
        )?;
        Ok(())
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let http_requests = Family::<Labels, Counter>::default();
        registry.register("mywebrtc_http_requests", "HTTP requests by route, method and status", http_requests.clone());
        let http_seconds: HistogramFamily = Family::new_with_constructor(latency_seconds);
        registry.register(
            "mywebrtc_http_request_duration_seconds",
            "HTTP request latency by route",
            http_seconds.clone(),
        );
        let calls_ended = Family::<Labels, Counter>::default();
        registry.register(
            "mywebrtc_calls_ended",
            "1:1 calls ended, by reason and whether answered",
            calls_ended.clone(),
        );
        let call_setup_seconds = Histogram::new(exponential_buckets(0.25, 2.0, 10));
        registry.register(
            "mywebrtc_call_setup_seconds",
            "Time from placing a 1:1 call to its answer",
            call_setup_seconds.clone(),
        );
        let chat_writes = Counter::default();
        registry.register(
            "mywebrtc_chat_writes",
            "Chat writes committed (messages, edits, deletions, receipts)",
            chat_writes.clone(),
        );
        let chat_commit_seconds = latency_seconds();
        registry.register(
            "mywebrtc_chat_commit_seconds",
            "Time to commit one batch of chat writes to disk",
            chat_commit_seconds.clone(),
        );
        let store_seconds = latency_seconds();
        registry.register(
            "mywebrtc_store_query_seconds",
            "Time of store calls made by requests",
            store_seconds.clone(),
        );
        Self {
            registry,
            http_requests,
            http_seconds,
            calls_ended,
            call_setup_seconds,
            chat_writes,
            chat_commit_seconds,
            store_seconds,
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        out
    }

    pub(crate) fn call_finished(&self, r: &hub::CallRecord) {
        let reason =
            serde_json::to_value(r.reason).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        self.calls_ended.get_or_create(&vec![("reason", reason), ("answered", r.answered.to_string())]).inc();
        if r.answered {
            self.call_setup_seconds.observe(r.ring.as_secs_f64());
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The metrics and their scrape-time sources, shared by the server's parts.
#[derive(Clone)]
pub struct MetricsHandle {
    pub(crate) metrics: Arc<Metrics>,
    snapshots: Arc<Snapshots>,
}

impl MetricsHandle {
    pub fn new() -> Self {
        let mut metrics = Metrics::new();
        let snapshots = Arc::new(Snapshots::default());
        metrics.registry.register_collector(Box::new(SnapshotCollector(snapshots.clone())));
        Self { metrics: Arc::new(metrics), snapshots }
    }

    /// Called by the hub task as its state changes.
    pub(crate) fn publish_hub(&self, stats: hub::HubStats) {
        *self.snapshots.hub.lock().unwrap_or_else(|p| p.into_inner()) = stats;
    }

    /// Where the TURN figures come from (the binary's TURN service).
    pub fn set_turn_source(&self, source: impl Fn() -> TurnFigures + Send + Sync + 'static) {
        *self.snapshots.turn.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(source));
    }

    /// Where the conference figures come from (the SFU).
    pub(crate) fn set_sfu_source(&self, source: impl Fn() -> sfu::SfuStats + Send + Sync + 'static) {
        *self.snapshots.sfu.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(source));
    }

    /// Where the cluster figures come from (the bus).
    pub(crate) fn set_cluster_source(&self, stats: Arc<crate::cluster::BusStats>) {
        *self.snapshots.cluster.lock().unwrap_or_else(|p| p.into_inner()) = Some(stats);
    }

    pub fn render(&self) -> String {
        self.metrics.render()
    }
}

impl Default for MetricsHandle {
    fn default() -> Self {
        Self::new()
    }
}

/// The route a request matched, left on the response for the outer request layer.
#[derive(Clone)]
pub(crate) struct RouteLabel(pub String);

/// Inner layer (on matched API routes): records the route template, e.g.
/// `/api/v1/conversations/{id}/messages` (bounded: never a raw path).
pub(crate) async fn label_route(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned());
    let mut resp = next.run(req).await;
    if let Some(r) = route {
        resp.extensions_mut().insert(RouteLabel(r));
    }
    resp
}

/// Outer layer: counts and times every request.
pub(crate) fn observe_request(m: &Metrics, method: &str, resp: &Response, started: Instant) {
    let route = match resp.extensions().get::<RouteLabel>() {
        Some(RouteLabel(r)) => r.clone(),
        // The browser client's files, health checks and unknown paths.
        None => "other".to_owned(),
    };
    let status = resp.status().as_u16().to_string();
    m.http_requests
        .get_or_create(&vec![("route", route.clone()), ("method", method.to_owned()), ("status", status)])
        .inc();
    m.http_seconds.get_or_create(&vec![("route", route)]).observe(started.elapsed().as_secs_f64());
}

async fn serve_metrics(State(m): State<MetricsHandle>) -> Response {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], m.render()).into_response()
}

/// Serves `GET /metrics` on `addr` (plain HTTP: bind it to loopback or a private network).
pub async fn serve(addr: SocketAddr, m: MetricsHandle) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = axum::Router::new().route("/metrics", axum::routing::get(serve_metrics)).with_state(m);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "metrics listener failed");
        }
    });
    Ok((bound, task))
}
