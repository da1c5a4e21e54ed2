//! 1:1 call setup through signaling alone: invite, ring, accept, the caller's offer and the
//! callee's answer relayed (what a browser call needs of the server before its media flows
//! peer to peer), then hang-up. Media setup itself does not involve the server, so it is the
//! same whether the two users are on one node or two; this is what differs.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{json, Value};
use testkit::bench::{summary, wait_for_slot};
use testkit::ws::Ws;

/// The next message of type `ty` within 10 s.
async fn next(ws: &mut Ws, ty: &str) -> Result<Value> {
    ws.wait_for(Duration::from_secs(10), |v| v["type"] == ty).await.with_context(|| format!("no {ty}"))
}

/// Calls started per second: each side's socket stays within the server's signaling rate
/// limit (30 messages/s), which is left as it is.
const CALLS_PER_SEC: f64 = 5.0;

/// Runs `n` calls one after another from `caller` to `callee` (user id `callee_id`) and
/// returns (p50, p99) in ms from the invite to the answer's arrival at the caller.
pub async fn setup_times(caller: &mut Ws, callee: &mut Ws, callee_id: i64, n: usize) -> Result<(f64, f64)> {
    let mut times = Vec::with_capacity(n);
    let start = Instant::now();
    for k in 0..n as u64 {
        wait_for_slot(start, Duration::from_secs_f64(1.0 / CALLS_PER_SEC), k as usize).await;
        let t0 = Instant::now();
        caller.send(json!({"type": "call_invite", "id": k, "callee": callee_id, "media": "audio"})).await;
        let call = next(callee, "call_incoming").await?["call_id"].as_u64().context("call id")?;
        callee.send(json!({"type": "call_accept", "call_id": call})).await;
        next(caller, "call_accepted").await?;
        caller.send(json!({"type": "call_signal", "call_id": call, "data": {"sdp": "offer"}})).await;
        next(callee, "call_signal").await?;
        callee.send(json!({"type": "call_signal", "call_id": call, "data": {"sdp": "answer"}})).await;
        next(caller, "call_signal").await?;
        times.push(t0.elapsed().as_secs_f64() * 1000.0);
        caller.send(json!({"type": "call_hangup", "call_id": call})).await;
        next(callee, "call_ended").await?;
    }
    let (p50, p99, _) = summary(&mut times);
    Ok((p50, p99))
}
