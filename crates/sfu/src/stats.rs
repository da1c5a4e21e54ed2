//! Counters of the media path, read by the server's metrics at scrape time. Threads add to
//! shared atomics; each worker also publishes how many rooms and participants it holds.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// What the SFU carried since it started, and what it holds now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SfuStats {
    /// Calls running.
    pub rooms: u64,
    /// Devices in them.
    pub participants: u64,
    /// ICE-over-TCP connections open.
    pub tcp_connections: u64,
    /// Packets (datagrams and TCP frames) received on the media port, and their bytes.
    pub packets_in: u64,
    pub bytes_in: u64,
    /// Packets sent, and their bytes.
    pub packets_out: u64,
    pub bytes_out: u64,
    /// Packets dropped because a worker or a TCP connection could not keep up.
    pub dropped: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub packets_in: AtomicU64,
    pub bytes_in: AtomicU64,
    pub packets_out: AtomicU64,
    pub bytes_out: AtomicU64,
    pub dropped: AtomicU64,
    pub tcp_connections: AtomicU64,
    /// Per worker: (rooms, participants).
    pub held: Vec<(AtomicU64, AtomicU64)>,
}

impl Counters {
    pub fn new(workers: usize) -> Self {
        Self { held: (0..workers).map(|_| Default::default()).collect(), ..Default::default() }
    }

    pub fn received(&self, bytes: usize) {
        self.packets_in.fetch_add(1, Relaxed);
        self.bytes_in.fetch_add(bytes as u64, Relaxed);
    }

    pub fn sent(&self, bytes: usize) {
        self.packets_out.fetch_add(1, Relaxed);
        self.bytes_out.fetch_add(bytes as u64, Relaxed);
    }

    pub fn drop_one(&self) {
        self.dropped.fetch_add(1, Relaxed);
    }

    pub fn hold(&self, worker: usize, rooms: usize, participants: usize) {
        if let Some((r, p)) = self.held.get(worker) {
            r.store(rooms as u64, Relaxed);
            p.store(participants as u64, Relaxed);
        }
    }

    pub fn snapshot(&self) -> SfuStats {
        SfuStats {
            rooms: self.held.iter().map(|(r, _)| r.load(Relaxed)).sum(),
            participants: self.held.iter().map(|(_, p)| p.load(Relaxed)).sum(),
            tcp_connections: self.tcp_connections.load(Relaxed),
            packets_in: self.packets_in.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            packets_out: self.packets_out.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
        }
    }
}
