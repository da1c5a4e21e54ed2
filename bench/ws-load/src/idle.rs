//! Idle connections: opened from this process, or (past one process's open-files limit) from
//! child processes of this program (`--idle-worker`), each holding its share until its
//! standard input closes.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use testkit::bench::{rss_kib, ws_to, ServerProcess};
use testkit::ws::Ws;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Most connections one process opens (this machine's open-files limit is 20,000).
pub const PER_PROCESS: usize = 18_000;

/// Opens `count` connections to `url` with `cookies` (in turn), 200 at a time, within 15
/// minutes; the connections and how many failed.
pub async fn open(url: &str, cookies: &[String], count: usize, sources: &[IpAddr]) -> (Vec<Ws>, usize) {
    let mut held = Vec::with_capacity(count);
    let deadline = Instant::now() + Duration::from_secs(900);
    let mut failures = 0usize;
    for chunk in (0..count).collect::<Vec<_>>().chunks(200) {
        if Instant::now() > deadline {
            eprintln!("idle: stopped at the 15-minute bound");
            break;
        }
        let opens = chunk.iter().map(|i| {
            let cookie = cookies[i % cookies.len()].clone();
            let src = sources[i % sources.len()];
            async move { ws_to(url, src, &cookie).await }
        });
        for r in futures_util::future::join_all(opens).await {
            match r {
                Ok(ws) => held.push(ws),
                Err(_) => failures += 1,
            }
        }
    }
    (held, failures)
}

/// Idle connections to one server from this process, with its RSS per connection.
pub async fn open_here(
    server: &ServerProcess,
    cookies: &[String],
    count: usize,
    sources: &[IpAddr],
) -> Result<Vec<Ws>> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss0 = rss_kib(server.pid)?;
    let started = Instant::now();
    let (held, failures) = open(&server.url, cookies, count, sources).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss1 = rss_kib(server.pid)?;
    println!(
        "idle connections: {} open ({} failed) in {:.1} s; server RSS {} KiB -> {} KiB: {:.1} KiB per connection",
        held.len(),
        failures,
        started.elapsed().as_secs_f64(),
        rss0,
        rss1,
        (rss1.saturating_sub(rss0)) as f64 / held.len().max(1) as f64
    );
    Ok(held)
}

/// One connection per cookie, spread over `servers` in turn (cookie i to server i mod n).
pub async fn connect_all(servers: &[&ServerProcess], cookies: &[String], sources: &[IpAddr]) -> Result<Vec<Ws>> {
    let mut out = Vec::with_capacity(cookies.len());
    for (i, c) in cookies.iter().enumerate() {
        out.push(servers[i % servers.len()].ws(sources[i % sources.len()], c).await?);
    }
    Ok(out)
}

/// A child process holding idle connections (this program run as
/// `--idle-worker URL,COUNT,SOURCES,COOKIE_FILE`).
pub struct Child {
    proc: tokio::process::Child,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Child {
    /// Starts this program as a worker opening `count` connections to `url`.
    pub async fn spawn(
        url: &str,
        count: usize,
        sources: u8,
        cookies: &[String],
        dir: &std::path::Path,
        n: usize,
    ) -> Result<Self> {
        let file = dir.join(format!("idle-cookies-{n}"));
        std::fs::write(&file, cookies.join("\n"))?;
        let spec = format!("{url},{count},{sources},{}", file.display());
        let mut proc = tokio::process::Command::new(std::env::current_exe()?)
            .args(["--idle-worker", &spec])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let lines = BufReader::new(proc.stdout.take().context("stdout")?).lines();
        Ok(Self { proc, lines })
    }

    /// Waits for the worker's report: (open, failed).
    pub async fn opened(&mut self) -> Result<(usize, usize)> {
        let line =
            tokio::time::timeout(Duration::from_secs(960), self.lines.next_line()).await??.context("worker ended")?;
        let mut it = line.split_whitespace().filter_map(|w| w.parse::<usize>().ok());
        Ok((it.next().context("report")?, it.next().context("report")?))
    }

    /// Closes the worker's connections and waits for it to end.
    pub async fn stop(mut self) {
        drop(self.proc.stdin.take());
        let _ = tokio::time::timeout(Duration::from_secs(30), self.proc.wait()).await;
        let _ = self.proc.start_kill();
    }
}

/// The worker's side (`--idle-worker`): opens its connections, says "open N failed M", holds them until its
/// standard input closes (or an hour passed).
pub async fn worker(spec: &str) -> Result<()> {
    let parts: Vec<&str> = spec.splitn(4, ',').collect();
    let [url, count, sources, file] = parts[..] else { anyhow::bail!("bad worker spec") };
    let cookies: Vec<String> = std::fs::read_to_string(file)?.lines().map(str::to_owned).collect();
    let sources: Vec<IpAddr> =
        (0..sources.parse::<u8>()?).map(|i| IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2 + i))).collect();
    let (held, failed) = open(url, &cookies, count.parse()?, &sources).await;
    println!("open {} failed {failed}", held.len());
    let eof = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink)
    });
    let _ = tokio::time::timeout(Duration::from_secs(3600), eof).await;
    drop(held);
    Ok(())
}
