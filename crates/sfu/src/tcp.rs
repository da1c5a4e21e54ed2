//! ICE over TCP (RFC 6544), for browsers whose network lets no UDP through: the SFU also
//! listens on TCP at the media port, browsers connect to its passive candidate and send the
//! same STUN, DTLS and SRTP packets as over UDP, each framed by a two-byte length (RFC 4571).
//!
//! One thread accepts (at most a configured number of connections at once). Each connection
//! has a reading thread — its first frame must be an ICE check naming one of our participants,
//! within [`HELLO_TIMEOUT`], else it is closed — and a writing thread fed by a bounded queue, so
//! a receiver on a slow link loses packets (media recovers) instead of stalling the worker
//! that drives its room. Packets go to the same workers and rooms as datagrams do.

use std::collections::HashMap;
use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use str0m::net::Protocol;

use crate::driver::WorkerMsg;
use crate::stats::Counters;

/// A new connection must send a valid ICE check this soon.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection silent this long is closed (browsers send consent checks every few seconds).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Packets queued for one connection's writer; more are dropped.
const WRITE_QUEUE: usize = 512;
/// A write that cannot proceed this long ends the connection.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// The writers of the open connections, by the browser's address (the destination of what
/// a room transmits over TCP).
pub(crate) type TcpWriters = Arc<RwLock<HashMap<SocketAddr, SyncSender<Vec<u8>>>>>;

/// Why a connection ended (for tests and debug logs).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("connection closed")]
    Closed,
    #[error("connection closed inside a frame")]
    Truncated,
    #[error("no frame in time")]
    TimedOut,
    #[error("read failed: {0}")]
    Io(String),
}

/// Reads one RFC 4571 frame (a big-endian 16-bit length, then that many bytes) into `buf`.
/// Empty frames carry nothing and are skipped.
pub fn read_frame(r: &mut impl Read, buf: &mut Vec<u8>) -> Result<(), FrameError> {
    loop {
        let mut len = [0u8; 2];
        read_all(r, &mut len, true)?;
        let n = u16::from_be_bytes(len) as usize;
        if n == 0 {
            continue;
        }
        buf.resize(n, 0);
        return read_all(r, buf, false);
    }
}

fn read_all(r: &mut impl Read, buf: &mut [u8], at_start: bool) -> Result<(), FrameError> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) if at_start && got == 0 => return Err(FrameError::Closed),
            Ok(0) => return Err(FrameError::Truncated),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return Err(FrameError::TimedOut)
            }
            Err(e) => return Err(FrameError::Io(e.kind().to_string())),
        }
    }
    Ok(())
}

/// `contents` framed for the wire; `None` if it cannot be (over 65,535 bytes: str0m never
/// produces such packets).
pub fn frame(contents: &[u8]) -> Option<Vec<u8>> {
    let len = u16::try_from(contents.len()).ok()?;
    let mut out = Vec::with_capacity(contents.len() + 2);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(contents);
    Some(out)
}

/// What the connection threads share with the driver.
pub(crate) struct TcpContext {
    pub workers: Vec<SyncSender<WorkerMsg>>,
    pub ufrags: Arc<RwLock<HashMap<String, usize>>>,
    pub writers: TcpWriters,
    pub max_connections: usize,
    /// Counts the open connections too (`tcp_connections`).
    pub counters: Arc<Counters>,
}

/// The accepting thread.
pub(crate) fn serve(listener: TcpListener, ctx: Arc<TcpContext>) {
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            // Out of descriptors or a connection reset before accept: keep serving.
            Err(e) => {
                tracing::debug!(error = %e, "media TCP accept failed");
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let open = &ctx.counters.tcp_connections;
        if open.fetch_add(1, Ordering::AcqRel) >= ctx.max_connections as u64 {
            open.fetch_sub(1, Ordering::AcqRel);
            tracing::debug!("media TCP connection refused: limit reached");
            continue;
        }
        let c = ctx.clone();
        let spawned = thread::Builder::new().name("sfu-tcp".into()).stack_size(256 * 1024).spawn(move || {
            connection(stream, &c);
            c.counters.tcp_connections.fetch_sub(1, Ordering::AcqRel);
        });
        if spawned.is_err() {
            open.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

fn connection(stream: TcpStream, ctx: &TcpContext) {
    let Ok(peer) = stream.peer_addr() else { return };
    let end = serve_connection(&stream, peer, ctx);
    tracing::trace!(reason = %end, "media TCP connection ended");
    if let Ok(mut w) = ctx.writers.write() {
        w.remove(&peer);
    }
    let _ = stream.shutdown(Shutdown::Both);
}

fn serve_connection(stream: &TcpStream, peer: SocketAddr, ctx: &TcpContext) -> FrameError {
    let _ = stream.set_nodelay(true);
    if stream.set_read_timeout(Some(HELLO_TIMEOUT)).is_err() {
        return FrameError::Io("set timeout".into());
    }
    let Ok(read_half) = stream.try_clone() else { return FrameError::Io("clone".into()) };
    let mut reader = BufReader::new(read_half);
    let mut buf = Vec::with_capacity(1500);
    if let Err(e) = read_frame(&mut reader, &mut buf) {
        return e;
    }
    ctx.counters.received(buf.len());
    // The first frame says whose connection this is: an ICE check with a ufrag of ours.
    let Some(ufrag) = crate::stun_route::local_ufrag(&buf).map(str::to_owned) else {
        return FrameError::Io("first frame is not an ICE check for us".into());
    };
    let Some(worker) = ctx.ufrags.read().ok().and_then(|m| m.get(&ufrag).copied()) else {
        return FrameError::Io("unknown ICE username".into());
    };
    let Some(to_worker) = ctx.workers.get(worker) else { return FrameError::Io("no worker".into()) };
    match start_writer(stream) {
        Ok(tx) => {
            if let Ok(mut w) = ctx.writers.write() {
                w.insert(peer, tx);
            }
        }
        Err(e) => return FrameError::Io(e.kind().to_string()),
    }
    let mut ufrag = Some(ufrag);
    if stream.set_read_timeout(Some(IDLE_TIMEOUT)).is_err() {
        return FrameError::Io("set timeout".into());
    }
    loop {
        let data = std::mem::replace(&mut buf, Vec::with_capacity(1500));
        let msg =
            WorkerMsg::Packet { proto: Protocol::Tcp, source: peer, data, ufrag: ufrag.take(), at: Instant::now() };
        // A full queue drops the packet, as for datagrams.
        if to_worker.try_send(msg).is_err() {
            ctx.counters.drop_one();
        }
        if let Err(e) = read_frame(&mut reader, &mut buf) {
            return e;
        }
        ctx.counters.received(buf.len());
        ufrag = crate::stun_route::local_ufrag(&buf).map(str::to_owned);
    }
}

/// The connection's writing thread; ends when its queue's sender is dropped or a write fails.
fn start_writer(stream: &TcpStream) -> io::Result<SyncSender<Vec<u8>>> {
    let mut out = stream.try_clone()?;
    out.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(WRITE_QUEUE);
    thread::Builder::new().name("sfu-tcp-write".into()).stack_size(128 * 1024).spawn(move || {
        while let Ok(frame) = rx.recv() {
            if out.write_all(&frame).is_err() {
                // The reader sees the connection end and forgets it.
                let _ = out.shutdown(Shutdown::Both);
                return;
            }
        }
    })?;
    Ok(tx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_empty_frames_are_skipped() {
        let mut wire = vec![0, 0];
        wire.extend(frame(b"hello").unwrap());
        wire.extend(frame(&[7u8; 1500]).unwrap());
        let mut r = &wire[..];
        let mut buf = vec![];
        read_frame(&mut r, &mut buf).unwrap();
        assert_eq!(buf, b"hello");
        read_frame(&mut r, &mut buf).unwrap();
        assert_eq!(buf, vec![7u8; 1500]);
        assert_eq!(read_frame(&mut r, &mut buf), Err(FrameError::Closed));
    }

    #[test]
    fn a_frame_cut_short_is_an_error() {
        let mut buf = vec![];
        assert_eq!(read_frame(&mut &[0x05u8][..], &mut buf), Err(FrameError::Truncated));
        assert_eq!(read_frame(&mut &[0x00, 0x05, 1, 2][..], &mut buf), Err(FrameError::Truncated));
    }

    #[test]
    fn oversize_packets_are_not_framed() {
        assert!(frame(&vec![0u8; 65_536]).is_none());
        assert_eq!(frame(&vec![0u8; 65_535]).map(|f| f.len()), Some(65_537));
    }
}
