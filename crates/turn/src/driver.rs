//! The tokio driver around the sans-IO [`Server`]: a UDP listener, TCP and TLS listeners
//! (STUN and ChannelData framed on the stream), and one UDP socket per allocation's relay.
//!
//! Every socket task hands what it receives to the core under one mutex and carries out the
//! outputs before releasing it. Sends never wait: UDP uses `try_send_to` (a full socket buffer
//! drops the packet, as a router would), streams have a bounded queue per connection (a client
//! that does not read is disconnected). Binding a relay socket is a non-blocking syscall, done
//! inline, so an Allocate is answered in the same pass.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use crate::server::{Client, Output, Server, Transport};
use crate::stun;

/// Where to listen and relay.
#[derive(Clone)]
pub struct Listeners {
    pub udp: Option<SocketAddr>,
    pub tcp: Option<SocketAddr>,
    /// TLS listener and its certificate (often the web server's).
    pub tls: Option<(SocketAddr, Arc<rustls::ServerConfig>)>,
    /// Address relay sockets bind to.
    pub relay_ip: IpAddr,
    /// Address clients are told their relay has (XOR-RELAYED-ADDRESS), when the server sits
    /// behind a 1:1 NAT; `None`: the bound address.
    pub advertised_ip: Option<IpAddr>,
}

/// The addresses actually bound (ports chosen by the OS when 0 was asked).
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub udp: Option<SocketAddr>,
    pub tcp: Option<SocketAddr>,
    pub tls: Option<SocketAddr>,
}

/// Stream connections get this many queued packets before they are cut off.
const STREAM_QUEUE: usize = 1024;
/// Largest STUN or ChannelData message on a stream (length field is 16 bits).
const MAX_FRAME: usize = 4 + 65_535 + 3;

struct Shared {
    server: Server,
    udp: Option<Arc<UdpSocket>>,
    relays: HashMap<SocketAddr, (Arc<UdpSocket>, AbortHandle)>,
    streams: HashMap<Client, mpsc::Sender<Vec<u8>>>,
    relay_ip: IpAddr,
    advertised_ip: Option<IpAddr>,
    me: std::sync::Weak<Mutex<Shared>>,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Shared {
    /// Carries out everything the core wants done.
    fn carry_out(&mut self, now: Instant) {
        while let Some(out) = self.server.poll_output() {
            match out {
                Output::ToClient { to, data } => match to.transport {
                    Transport::Udp => {
                        if let Some(sock) = &self.udp {
                            let _ = sock.try_send_to(&data, to.remote);
                        }
                    }
                    Transport::Tcp | Transport::Tls => {
                        if let Some(tx) = self.streams.get(&to) {
                            if tx.try_send(data).is_err() {
                                // Too slow to read: dropping its sender ends its writer.
                                self.streams.remove(&to);
                            }
                        }
                    }
                },
                Output::ToPeer { relay, peer, data } => {
                    if let Some((sock, _)) = self.relays.get(&relay) {
                        let _ = sock.try_send_to(&data, peer);
                    }
                }
                Output::BindRelay { alloc, even } => {
                    let bound = self.bind_relay(even);
                    if let Err(e) = &bound {
                        tracing::warn!(error = %e, "cannot bind a relay socket");
                    }
                    self.server.relay_bound(alloc, bound.ok(), now);
                }
                Output::ReleaseRelay { relay } => {
                    if let Some((_, task)) = self.relays.remove(&relay) {
                        task.abort();
                    }
                }
            }
        }
    }

    fn bind_relay(&mut self, even: bool) -> io::Result<SocketAddr> {
        let mut std_sock = std::net::UdpSocket::bind(SocketAddr::new(self.relay_ip, 0))?;
        // An even port, if asked: the OS hands out ports in no particular parity, so retry.
        let mut tries = 0;
        while even && !std_sock.local_addr()?.port().is_multiple_of(2) {
            tries += 1;
            if tries > 64 {
                return Err(io::Error::other("no even port found"));
            }
            std_sock = std::net::UdpSocket::bind(SocketAddr::new(self.relay_ip, 0))?;
        }
        std_sock.set_nonblocking(true)?;
        let sock = Arc::new(UdpSocket::from_std(std_sock)?);
        let local = sock.local_addr()?;
        // The core only ever sees the advertised address; this map translates it back.
        let addr = SocketAddr::new(self.advertised_ip.unwrap_or(local.ip()), local.port());
        let shared = self.me.upgrade().ok_or_else(|| io::Error::other("shutting down"))?;
        let reader = sock.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            loop {
                let Ok((n, peer)) = reader.recv_from(&mut buf).await else {
                    // A transient error (e.g. ICMP feedback); do not spin on it.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let now = Instant::now();
                let mut sh = lock(&shared);
                sh.server.peer_packet(addr, peer, &buf[..n], now);
                sh.carry_out(now);
            }
        });
        self.relays.insert(addr, (sock, task.abort_handle()));
        Ok(addr)
    }
}

fn lock(m: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    // A panic in a socket task cannot leave the core half-updated in a way that matters more
    // than losing the relay service; keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running TURN service; dropping it does not stop it (the runtime's shutdown does).
#[derive(Clone)]
pub struct TurnService {
    shared: Arc<Mutex<Shared>>,
    pub bound: Bound,
}

impl TurnService {
    /// Counters of the core.
    pub fn stats(&self) -> crate::server::Stats {
        lock(&self.shared).server.stats()
    }
}

/// Binds every listener and starts serving.
pub async fn start(server: Server, listeners: Listeners) -> io::Result<TurnService> {
    let shared = Arc::new_cyclic(|me| {
        Mutex::new(Shared {
            server,
            udp: None,
            relays: HashMap::new(),
            streams: HashMap::new(),
            relay_ip: listeners.relay_ip,
            advertised_ip: listeners.advertised_ip,
            me: me.clone(),
        })
    });
    let mut bound = Bound { udp: None, tcp: None, tls: None };
    if let Some(addr) = listeners.udp {
        let sock = Arc::new(UdpSocket::bind(addr).await?);
        let local = sock.local_addr()?;
        bound.udp = Some(local);
        lock(&shared).udp = Some(sock.clone());
        tokio::spawn(serve_udp(sock, local, shared.clone()));
    }
    if let Some(addr) = listeners.tcp {
        let l = TcpListener::bind(addr).await?;
        bound.tcp = Some(l.local_addr()?);
        tokio::spawn(serve_tcp(l, None, shared.clone()));
    }
    if let Some((addr, tls)) = listeners.tls {
        let l = TcpListener::bind(addr).await?;
        bound.tls = Some(l.local_addr()?);
        tokio::spawn(serve_tcp(l, Some(tokio_rustls::TlsAcceptor::from(tls)), shared.clone()));
    }
    tokio::spawn(tick(shared.clone()));
    Ok(TurnService { shared, bound })
}

async fn tick(shared: Arc<Mutex<Shared>>) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    loop {
        every.tick().await;
        let now = Instant::now();
        let mut sh = lock(&shared);
        sh.server.handle_timeout(now);
        sh.carry_out(now);
    }
}

async fn serve_udp(sock: Arc<UdpSocket>, local: SocketAddr, shared: Arc<Mutex<Shared>>) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, remote) = match sock.recv_from(&mut buf).await {
            Ok(r) => r,
            // ICMP errors surface here on some systems; they concern one peer, not the socket.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let now = Instant::now();
        let mut sh = lock(&shared);
        sh.server.client_packet(Client { transport: Transport::Udp, remote, local }, &buf[..n], now, unix_now());
        sh.carry_out(now);
    }
}

async fn serve_tcp(l: TcpListener, tls: Option<tokio_rustls::TlsAcceptor>, shared: Arc<Mutex<Shared>>) {
    loop {
        let Ok((stream, remote)) = l.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        let Ok(local) = stream.local_addr() else { continue };
        let shared = shared.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => serve_stream(stream, Client { transport: Transport::Tcp, remote, local }, shared).await,
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await;
                    if let Ok(Ok(s)) = handshake {
                        serve_stream(s, Client { transport: Transport::Tls, remote, local }, shared).await;
                    }
                }
            }
        });
    }
}

/// One stream connection: frames in, a bounded queue out. The allocation ends with it.
async fn serve_stream<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: S,
    client: Client,
    shared: Arc<Mutex<Shared>>,
) {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(STREAM_QUEUE);
    lock(&shared).streams.insert(client, tx);
    let writer = tokio::spawn(async move {
        while let Some(data) = rx.recv().await {
            if wr.write_all(&data).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 16 * 1024];
    'read: loop {
        let n = match rd.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            let len = match stun::frame_len(&buf) {
                Ok(Some(len)) if len <= MAX_FRAME => len,
                Ok(Some(_)) | Err(_) => break 'read, // not STUN: this is not a TURN client
                Ok(None) => break,
            };
            if buf.len() < len {
                break;
            }
            let now = Instant::now();
            {
                let mut sh = lock(&shared);
                sh.server.client_packet(client, &buf[..len], now, unix_now());
                sh.carry_out(now);
            }
            buf.drain(..len);
        }
    }
    let mut sh = lock(&shared);
    sh.streams.remove(&client);
    sh.server.client_closed(client);
    sh.carry_out(Instant::now());
    drop(sh);
    writer.abort();
}
