//! `mywebrtc serve`: open the store, bind, announce, run until SIGINT/SIGTERM.

use anyhow::{Context, Result};

use crate::config::Config;

pub fn run(cfg: Config) -> Result<()> {
    crate::logging::init(&cfg.log);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    rt.block_on(serve(cfg))
}

async fn serve(cfg: Config) -> Result<()> {
    let started = std::time::Instant::now();
    let _lock = crate::datadir::lock(&cfg.data_dir)?;
    let database = cfg.database()?;
    let store = database.open()?.into_shared();
    println!("database: {}", database.describe());
    let web_cfg = cfg.web_config()?;
    let ice_tcp = web_cfg.sfu.as_ref().is_some_and(|s| s.room.ice_tcp);
    let mut server = web::Server::bind(web_cfg, store)?;
    // Kept alive for the life of the process; its tasks run on this runtime.
    let _turn = if cfg.turn.enabled {
        let (service, rest) = crate::turn_service::start(
            &cfg.turn,
            &cfg.data_dir,
            server.local_addr()?,
            server.public_url(),
            server.tls_config(),
            server.conference_candidates(),
        )
        .await?;
        let b = service.bound;
        let show = |a: Option<std::net::SocketAddr>| a.map_or("off".to_owned(), |a| a.to_string());
        println!("STUN/TURN on udp {}, tcp {}, tls {}", show(b.udp), show(b.tcp), show(b.tls));
        server.set_turn(rest);
        let stats = service.clone();
        server.metrics().set_turn_source(move || {
            let s = stats.stats();
            web::metrics::TurnFigures {
                allocations: s.allocations as u64,
                packets_to_peers: s.relayed_to_peers,
                packets_to_clients: s.relayed_to_clients,
                bytes_to_peers: s.bytes_to_peers,
                bytes_to_clients: s.bytes_to_clients,
                dropped: s.dropped,
            }
        });
        Some(service)
    } else {
        None
    };
    match server.conference_media_addr() {
        Some(a) if ice_tcp => println!("group calls: conference media on udp and tcp {a}"),
        Some(a) => println!("group calls: conference media on udp {a}"),
        None => println!("group calls: off"),
    }
    if let Some(link) = server.setup_link()? {
        let minutes = cfg.session.setup_link_minutes;
        println!();
        println!("No administrator exists yet. Open this link in a browser within {minutes} minutes");
        println!("to create the first admin account (it works once; restart for a new one):");
        println!();
        println!("    {}", link.url);
        println!();
        println!("(or create one on the command line: mywebrtc user add NAME --admin)");
        println!();
    }
    let _metrics = match cfg.metrics_addr()? {
        Some(addr) => {
            let (bound, task) = web::metrics::serve(addr, server.metrics()).await.with_context(|| {
                format!("cannot listen for metrics on {addr} (metrics.listen; \"off\" disables it)")
            })?;
            println!("Prometheus metrics on http://{bound}/metrics");
            Some(task)
        }
        None => None,
    };
    if let Some(addr) = server.http_redirect_addr() {
        println!("plain HTTP on http://{addr} redirects to HTTPS");
    }
    // Printed last: once this line is out, the server accepts connections.
    println!("mywebrtc {} listening on {}", env!("CARGO_PKG_VERSION"), server.public_url());
    tracing::info!(startup_ms = started.elapsed().as_millis() as u64, "ready");
    server.run(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
