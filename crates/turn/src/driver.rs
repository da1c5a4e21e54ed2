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
use crate::{stun, udp_batch};

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
/// Concurrent TCP/TLS connections; beyond this new ones are closed at once (file descriptors
/// are finite, and the relay must keep some for its UDP sockets).
const MAX_STREAMS: usize = 8192;
/// A stream silent this long is closed. Longer than an allocation's default lifetime, which a
/// live client refreshes well before it ends.
const STREAM_IDLE: Duration = Duration::from_secs(15 * 60);

struct Shared {
    server: Server,
    /// A UDP listener socket to send to clients from (any of them: same local address).
    udp: Option<Arc<std::net::UdpSocket>>,
    /// Datagrams for UDP clients, flushed with one `sendmmsg` after the lock is released.
    udp_out: Vec<(SocketAddr, Vec<u8>)>,
    relays: HashMap<SocketAddr, (Arc<UdpSocket>, AbortHandle)>,
    streams: HashMap<Client, mpsc::Sender<Vec<u8>>>,
    relay_ip: IpAddr,
    advertised_ip: Option<IpAddr>,
    /// The runtime relay sockets and their tasks live on (listener threads are outside it).
    rt: tokio::runtime::Handle,
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
                    Transport::Udp => self.udp_out.push((to.remote, data)),
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
        let _in_runtime = self.rt.enter();
        let sock = Arc::new(UdpSocket::from_std(std_sock)?);
        let local = sock.local_addr()?;
        // The core only ever sees the advertised address; this map translates it back.
        let addr = SocketAddr::new(self.advertised_ip.unwrap_or(local.ip()), local.port());
        let shared = self.me.upgrade().ok_or_else(|| io::Error::other("shutting down"))?;
        let reader = sock.clone();
        let task = self.rt.spawn(async move {
            // Few buffers: a thousand allocations each holding many would cost megabytes.
            let mut bufs = vec![[0u8; udp_batch::MAX_DATAGRAM]; 4];
            let mut got: Vec<(usize, SocketAddr)> = Vec::with_capacity(bufs.len());
            loop {
                // Wait until readable, then take what is queued (the last attempt, which finds
                // nothing, is what re-arms the wait: no extra system call per packet).
                got.clear();
                if reader.readable().await.is_err() {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                while got.len() < bufs.len() {
                    match reader.try_recv_from(&mut bufs[got.len()]) {
                        Ok(r) => got.push(r),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        // A transient error (e.g. ICMP feedback) concerns one datagram.
                        Err(_) => continue,
                    }
                }
                if got.is_empty() {
                    continue;
                }
                let now = Instant::now();
                let out = {
                    let mut sh = lock(&shared);
                    for (i, (n, peer)) in got.iter().enumerate() {
                        sh.server.peer_packet(addr, *peer, &bufs[i][..*n], now);
                    }
                    sh.carry_out(now);
                    take_udp(&mut sh)
                };
                flush_udp(out);
            }
        });
        self.relays.insert(addr, (sock, task.abort_handle()));
        Ok(addr)
    }
}

/// Datagrams to send from a UDP listener socket once the lock is released.
type PendingUdp = Option<(Arc<std::net::UdpSocket>, Vec<(SocketAddr, Vec<u8>)>)>;

/// Takes the pending UDP datagrams (under the lock) for sending after it is released.
fn take_udp(sh: &mut Shared) -> PendingUdp {
    if sh.udp_out.is_empty() {
        return None;
    }
    Some((sh.udp.clone()?, std::mem::take(&mut sh.udp_out)))
}

fn flush_udp(out: PendingUdp) {
    if let Some((sock, mut packets)) = out {
        if let [(to, data)] = packets.as_slice() {
            let _ = udp_batch::send_one(&sock, *to, data);
            return;
        }
        packets.sort_by_key(|(a, _)| *a);
        let refs: Vec<(SocketAddr, &[u8])> = packets.iter().map(|(a, d)| (*a, d.as_slice())).collect();
        let _ = udp_batch::send(&sock, &refs);
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
            udp_out: Vec::new(),
            relays: HashMap::new(),
            streams: HashMap::new(),
            relay_ip: listeners.relay_ip,
            advertised_ip: listeners.advertised_ip,
            rt: tokio::runtime::Handle::current(),
            me: me.clone(),
        })
    });
    let mut bound = Bound { udp: None, tcp: None, tls: None };
    if let Some(addr) = listeners.udp {
        // One receiving thread per core, each on its own SO_REUSEPORT socket of the same
        // address; the kernel spreads clients over them.
        let first = udp_batch::shared_socket(addr)?;
        let local = first.local_addr()?;
        bound.udp = Some(local);
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 4);
        let mut socks = vec![first];
        for _ in 1..threads {
            socks.push(udp_batch::shared_socket(local)?);
        }
        lock(&shared).udp = Some(Arc::new(socks[0].try_clone()?));
        for (i, sock) in socks.into_iter().enumerate() {
            let shared = shared.clone();
            std::thread::Builder::new().name(format!("turn-udp-{i}")).spawn(move || serve_udp(sock, local, shared))?;
        }
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
        let out = {
            let mut sh = lock(&shared);
            sh.server.handle_timeout(now);
            sh.carry_out(now);
            take_udp(&mut sh)
        };
        flush_udp(out);
    }
}

/// A listener thread: batches of datagrams in, one lock per batch, batches out. Binding
/// requests are answered without the lock (they need no state).
fn serve_udp(sock: std::net::UdpSocket, local: SocketAddr, shared: Arc<Mutex<Shared>>) {
    let mut batch = udp_batch::RecvBatch::default();
    let mut direct: Vec<(SocketAddr, Vec<u8>)> = Vec::with_capacity(udp_batch::BATCH);
    loop {
        if udp_batch::recv(&sock, &mut batch, true).is_err() {
            // ICMP feedback or an interrupted call: nothing to do but go on (not spinning).
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        direct.clear();
        let (now, unix) = (Instant::now(), unix_now());
        let mut stateful = false;
        for (remote, data) in batch.iter() {
            match crate::server::stateless_binding(remote, data) {
                Some(resp) => direct.push((remote, resp)),
                None => stateful = true,
            }
        }
        let out = if stateful {
            let mut sh = lock(&shared);
            for (remote, data) in batch.iter() {
                if crate::server::stateless_binding(remote, data).is_none() {
                    sh.server.client_packet(Client { transport: Transport::Udp, remote, local }, data, now, unix);
                }
            }
            sh.carry_out(now);
            take_udp(&mut sh)
        } else {
            None
        };
        if !direct.is_empty() {
            // Grouped by destination (order per destination kept), so runs go out segmented.
            direct.sort_by_key(|(a, _)| *a);
            let refs: Vec<(SocketAddr, &[u8])> = direct.iter().map(|(a, d)| (*a, d.as_slice())).collect();
            let _ = udp_batch::send(&sock, &refs);
        }
        flush_udp(out);
    }
}

async fn serve_tcp(l: TcpListener, tls: Option<tokio_rustls::TlsAcceptor>, shared: Arc<Mutex<Shared>>) {
    let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    loop {
        let Ok((stream, remote)) = l.accept().await else {
            // Out of descriptors or similar: give the system a moment instead of spinning.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        if open.load(std::sync::atomic::Ordering::Relaxed) >= MAX_STREAMS {
            continue; // dropping the stream closes it
        }
        let _ = stream.set_nodelay(true);
        let Ok(local) = stream.local_addr() else { continue };
        let shared = shared.clone();
        let tls = tls.clone();
        let open = open.clone();
        open.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
            open.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
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
        let n = match tokio::time::timeout(STREAM_IDLE, rd.read(&mut chunk)).await {
            Ok(Ok(0) | Err(_)) | Err(_) => break,
            Ok(Ok(n)) => n,
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
            let out = {
                let mut sh = lock(&shared);
                sh.server.client_packet(client, &buf[..len], now, unix_now());
                sh.carry_out(now);
                take_udp(&mut sh)
            };
            flush_udp(out);
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
