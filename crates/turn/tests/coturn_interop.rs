//! Our TURN server against independent clients: coturn's `turnutils_stunclient` and
//! `turnutils_uclient` (Debian package `coturn`, installed by `.ci/run`), as real processes
//! over real sockets, on UDP, TCP and TLS.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use turn::credentials::Credentials;
use turn::driver::{start, Bound, Listeners};
use turn::policy::PeerPolicy;
use turn::{Config, Server};

fn tls_config() -> Arc<rustls::ServerConfig> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let cfg = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    Arc::new(cfg)
}

async fn serve(allow_loopback: bool) -> Bound {
    let mut credentials = Credentials::default();
    credentials.static_users.insert("tester".into(), "s3cret-pw".into());
    let policy = PeerPolicy { allow: if allow_loopback { vec!["127.0.0.0/8".parse().unwrap()] } else { vec![] } };
    let cfg = Config { credentials, policy, ..Config::default() };
    let server = Server::new(cfg, b"interop-seed", Duration::from_secs(600));
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let l = Listeners {
        udp: Some(any),
        tcp: Some(any),
        tls: Some((any, tls_config())),
        relay_ip: any.ip(),
        advertised_ip: None,
    };
    start(server, l).await.unwrap().bound
}

/// Runs a coturn client to completion (bounded by `timeout`) and returns its output.
async fn run(program: &str, args: Vec<String>) -> String {
    let program = program.to_owned();
    tokio::task::spawn_blocking(move || {
        let out = Command::new("timeout")
            .arg("60")
            .arg(&program)
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("{program} must be installed (Debian package coturn): {e}"));
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    })
    .await
    .unwrap()
}

fn uclient_args(port: u16, extra: &[&str], password: &str) -> Vec<String> {
    let mut a: Vec<String> =
        ["-c", "-y", "-m", "2", "-n", "30", "-l", "160", "-u", "tester", "-w", password, "-e", "127.0.0.1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a.extend(["-p".into(), port.to_string(), "127.0.0.1".into()]);
    a
}

/// (sent, received) from uclient's summary line, and the lost-packet count.
fn totals(out: &str) -> (u64, u64, Option<u64>) {
    let grab = |key: &str| {
        out.lines().rev().find_map(|l| l.split(key).nth(1)?.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
    };
    (grab("tot_send_msgs=").unwrap_or(0), grab("tot_recv_msgs=").unwrap_or(0), grab("Total lost packets "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stunclient_gets_its_reflexive_address() {
    let b = serve(false).await;
    let out =
        run("turnutils_stunclient", vec!["-p".into(), b.udp.unwrap().port().to_string(), "127.0.0.1".into()]).await;
    assert!(out.contains("UDP reflexive addr: 127.0.0.1:"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uclient_relays_over_udp_tcp_and_tls_with_channels_and_send_indications() {
    let b = serve(true).await;
    let udp = b.udp.unwrap().port();
    let tcp = b.tcp.unwrap().port();
    let tls = b.tls.unwrap().port();
    for (what, port, extra) in [
        ("udp, channels", udp, vec![]),
        ("udp, send indications", udp, vec!["-s"]),
        ("tcp, channels", tcp, vec!["-t"]),
        ("tls, channels", tls, vec!["-t", "-S"]),
    ] {
        let out = run("turnutils_uclient", uclient_args(port, &extra, "s3cret-pw")).await;
        let (sent, recv, lost) = totals(&out);
        assert_eq!((sent, recv, lost), (60, 60, Some(0)), "{what}: every packet relayed both ways\n{out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uclient_is_refused_with_a_wrong_password_or_a_loopback_peer() {
    let b = serve(true).await;
    let out = run("turnutils_uclient", uclient_args(b.udp.unwrap().port(), &[], "wrong")).await;
    assert_eq!(totals(&out).1, 0, "{out}");
    assert!(out.contains("Cannot complete Allocation") || out.contains("401"), "{out}");
    // Default policy: relaying to 127.0.0.1 is refused (403 on the permission).
    let b = serve(false).await;
    let out = run("turnutils_uclient", uclient_args(b.udp.unwrap().port(), &[], "s3cret-pw")).await;
    assert_eq!(totals(&out).1, 0, "{out}");
    assert!(out.contains("403"), "{out}");
}
