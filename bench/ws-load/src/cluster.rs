//! `--cluster`: the signaling figures over two nodes on PostgreSQL and NATS (both started
//! here, PostgreSQL without fsync like the tests: presence and calls do not write), beside
//! one node on the same database:
//!
//! 1. idle connections spread over the two nodes, held by child processes of this program
//!    (one process may hold about 18,000 on this machine, and so may each node);
//! 2. presence fan-out with the broadcasters on node 1 and the watchers half on each node
//!    (half the deliveries cross the bus), against all of them on node 1 alone;
//! 3. 1:1 call setup with both users on node 1, then with the callee on node 2.

use std::time::Duration;

use anyhow::Result;
use testkit::bench::{rss_kib, Seeder, ServerProcess};

use crate::idle::{self, PER_PROCESS};
use crate::{calls, fanout, seed, sources, Args};

pub async fn run(a: &Args) -> Result<()> {
    let (pg, nats) = tokio::task::spawn_blocking(|| -> Result<_> {
        Ok((testkit::postgres::Postgres::start()?, testkit::nats::Nats::start()?))
    })
    .await??;
    let db = pg.fresh_database()?;
    let opts = store::PgOptions { url: db.clone(), ca_file: None, pool_size: 4 };
    println!("seeding PostgreSQL ({} watchers x {} broadcasters)...", a.watchers, a.broadcasters);
    let seeded = tokio::task::spawn_blocking({
        let a = a.clone();
        move || -> Result<_> { seed(&Seeder::on(Box::new(store::PgStore::connect_postgres(&opts)?))?, &a) }
    })
    .await??;
    let base = std::env::temp_dir().join(format!("ws-load-cluster-{}", std::process::id()));
    let node =
        |name: &str| format!("[store]\nurl = {db:?}\n[cluster]\nnats_url = {:?}\nnode_name = {name:?}\n", nats.url());
    let (d1, d2) = (base.join("n1"), base.join("n2"));
    std::fs::create_dir_all(&d1)?;
    std::fs::create_dir_all(&d2)?;
    let n1 = ServerProcess::start(&a.server_bin, &d1, &node("n1")).await?;
    let n2 = ServerProcess::start(&a.server_bin, &d2, &node("n2")).await?;
    println!("nodes {} (pid {}) and {} (pid {}) on PostgreSQL and NATS", n1.url, n1.pid, n2.url, n2.pid);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let sources = sources(a);

    // --- 1. idle connections over both nodes, from child processes
    let rss0 = [rss_kib(n1.pid)?, rss_kib(n2.pid)?];
    let per_node = a.idle / 2;
    let mut workers = Vec::new();
    let started = std::time::Instant::now();
    for n in [&n1, &n2] {
        let mut left = per_node;
        while left > 0 {
            let count = left.min(PER_PROCESS);
            workers.push(idle::Child::spawn(&n.url, count, a.sources, &seeded.idle, &base, workers.len()).await?);
            left -= count;
        }
    }
    let (mut open, mut failed) = (0, 0);
    for w in &mut workers {
        let (o, f) = w.opened().await?;
        open += o;
        failed += f;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss1 = [rss_kib(n1.pid)?, rss_kib(n2.pid)?];
    println!(
        "idle connections over two nodes: {open} open ({failed} failed) in {:.1} s from {} processes; RSS node 1 {} -> {} KiB, node 2 {} -> {} KiB: {:.1} KiB per connection",
        started.elapsed().as_secs_f64(),
        workers.len(),
        rss0[0],
        rss1[0],
        rss0[1],
        rss1[1],
        (rss1[0] + rss1[1]).saturating_sub(rss0[0] + rss0[1]) as f64 / open.max(1) as f64
    );
    for w in workers {
        w.stop().await;
    }

    // --- 2. presence fan-out: one node, then across two
    println!("-- all on node 1:");
    let watchers = idle::connect_all(&[&n1], &seeded.watchers, &sources).await?;
    let bcast = idle::connect_all(&[&n1], &seeded.broadcasters, &sources).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    fanout::fanout(bcast, watchers, &a.rates, a.secs).await;
    // Their sockets are closed; let both nodes see them go before the next round.
    tokio::time::sleep(Duration::from_secs(3)).await;
    println!("-- broadcasters on node 1, watchers half on each node:");
    let watchers = idle::connect_all(&[&n1, &n2], &seeded.watchers, &sources).await?;
    let bcast = idle::connect_all(&[&n1], &seeded.broadcasters, &sources).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    fanout::fanout(bcast, watchers, &a.rates, a.secs).await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    // --- 3. call setup: one node, then across two
    let [(_, caller), (callee_id, callee)] = &seeded.callers[..] else { anyhow::bail!("two callers seeded") };
    println!("1:1 call setup (invite to answer relayed), {} calls each, p50 / p99 ms:", a.calls);
    for (label, callee_node) in [("both on node 1", &n1), ("callee on node 2", &n2)] {
        let mut c1 = n1.ws(sources[0], caller).await?;
        let mut c2 = callee_node.ws(sources[1], callee).await?;
        // The callee's device must be known on node 1 before a call can ring it there.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (p50, p99) = calls::setup_times(&mut c1, &mut c2, *callee_id, a.calls).await?;
        println!("{label:>18}: {p50:>8.2} {p99:>8.2}");
        drop((c1, c2));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    n1.stop().await;
    n2.stop().await;
    let _ = std::fs::remove_dir_all(&base);
    drop((pg, nats));
    Ok(())
}
