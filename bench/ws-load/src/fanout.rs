//! Presence fan-out: broadcasters toggle their presence at offered rates; every watcher
//! (each has every broadcaster as a contact) timestamps each `presence` event.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};
use testkit::bench::{summary, wait_for_slot};
use testkit::ws::Ws;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

/// Runs each offered rate for `secs` and prints a row per rate: latency from a
/// broadcaster's change to its arrival at a watcher (p50, p99) and deliveries per second.
/// Broadcasters must be given in the order of their user ids.
pub async fn fanout(mut bcast: Vec<Ws>, watchers: Vec<Ws>, rates: &[u32], secs: u64) {
    let n_watchers = watchers.len();
    // Each watcher records when it received the k-th presence change of each broadcaster.
    type Arrivals = Arc<Mutex<Vec<HashMap<i64, Vec<Instant>>>>>;
    let arrivals: Arrivals = Arc::new(Mutex::new(vec![HashMap::new(); watchers.len()]));
    let mut readers = Vec::new();
    for (wi, mut w) in watchers.into_iter().enumerate() {
        let arrivals = arrivals.clone();
        readers.push(tokio::spawn(async move {
            while let Some(Ok(m)) = w.stream.next().await {
                if let Message::Text(t) = m {
                    let now = Instant::now();
                    let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                    if v["type"] == "presence" {
                        let user = v["user"].as_i64().unwrap_or(0);
                        arrivals.lock().await[wi].entry(user).or_default().push(now);
                    }
                }
            }
        }));
    }
    // When each broadcaster sent its k-th change. Broadcasters were seeded first, in order,
    // so sorting a watcher's senders by user id gives the broadcaster index.
    let mut sent: Vec<Vec<Instant>> = vec![Vec::new(); bcast.len()];
    // Let the readers take in what arrived before the measurement (broadcasters coming online).
    tokio::time::sleep(Duration::from_millis(1000)).await;
    println!("presence fan-out to {} watchers (each change is delivered {} times):", n_watchers, n_watchers);
    println!("{:>14} {:>12} {:>12} {:>12} {:>16}", "offered ch/s", "changes", "p50 ms", "p99 ms", "delivered msg/s");
    let mut toggle = false;
    for &rate in rates {
        for s in sent.iter_mut() {
            s.clear();
        }
        for w in arrivals.lock().await.iter_mut() {
            w.clear();
        }
        let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
        let total = (u64::from(rate) * secs) as usize;
        let t0 = Instant::now();
        for k in 0..total {
            wait_for_slot(t0, interval, k).await;
            let bi = k % bcast.len();
            if bi == 0 {
                toggle = !toggle;
            }
            let status = if toggle { "away" } else { "online" };
            sent[bi].push(Instant::now());
            bcast[bi].send(json!({"type": "set_presence", "status": status})).await;
        }
        let elapsed_send = t0.elapsed();
        tokio::time::sleep(Duration::from_secs(3)).await;
        // Match the k-th arrival at each watcher with the k-th change of that broadcaster.
        let arr = arrivals.lock().await;
        let mut lat = Vec::new();
        let mut delivered = 0usize;
        let mut last = t0;
        for w in arr.iter() {
            let mut users: Vec<&i64> = w.keys().collect();
            users.sort();
            for (bi, u) in users.into_iter().enumerate() {
                let times = &w[u];
                for (k, t) in times.iter().enumerate() {
                    if let Some(s) = sent.get(bi).and_then(|s| s.get(k)) {
                        lat.push(t.duration_since(*s).as_secs_f64() * 1000.0);
                    }
                    delivered += 1;
                    last = last.max(*t);
                }
            }
        }
        let (p50, p99, _) = summary(&mut lat);
        let span = last.duration_since(t0).max(elapsed_send).as_secs_f64();
        println!("{:>14} {:>12} {:>12.2} {:>12.2} {:>16.0}", rate, total, p50, p99, delivered as f64 / span);
    }
    for r in readers {
        r.abort();
    }
    // Closed cleanly, so the broadcasters' devices go at once (a broken socket would keep
    // them for the resume grace, showing online, and hide the next round's changes).
    for mut b in bcast {
        let _ = b.stream.close(None).await;
    }
}
