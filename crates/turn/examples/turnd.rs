//! A standalone TURN server for experiments and benchmarks:
//! `cargo run --release -p turn --example turnd -- 127.0.0.1:3478 user:password [allow-cidr]`
use std::time::Duration;

use turn::credentials::Credentials;
use turn::driver::{start, Listeners};
use turn::policy::PeerPolicy;
use turn::{Config, Server};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr: std::net::SocketAddr =
        args.next().unwrap_or("127.0.0.1:3478".into()).parse().map_err(std::io::Error::other)?;
    let user = args.next().unwrap_or("user:password".into());
    let (u, p) = user.split_once(':').ok_or_else(|| std::io::Error::other("user:password"))?;
    let allow = args.next().map(|c| c.parse().map_err(std::io::Error::other)).transpose()?;
    let mut credentials = Credentials::default();
    credentials.static_users.insert(u.into(), p.into());
    let cfg = Config {
        credentials,
        policy: PeerPolicy { allow: allow.into_iter().collect() },
        user_quota: 100_000,
        max_allocations: 100_000,
        bandwidth_bytes_per_sec: 1 << 30,
        ..Config::default()
    };
    let seed: Vec<u8> = (0..32).map(|i| (std::process::id() as u8).wrapping_mul(i)).collect();
    let server = Server::new(cfg, &seed, Duration::from_secs(600));
    let svc = start(
        server,
        Listeners { udp: Some(addr), tcp: Some(addr), tls: None, relay_ip: addr.ip(), advertised_ip: None },
    )
    .await?;
    println!("turnd listening on udp {:?} tcp {:?}", svc.bound.udp, svc.bound.tcp);
    tokio::signal::ctrl_c().await?;
    Ok(())
}
