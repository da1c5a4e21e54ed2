//! Batched UDP I/O: `recvmmsg`/`sendmmsg` move up to [`BATCH`] datagrams per system call,
//! which is where a relay spends most of its time otherwise. Used by the driver's UDP
//! listener threads and by the load generator. Other systems fall back to one datagram per call.

use std::io;
use std::net::{SocketAddr, UdpSocket};

/// Datagrams per system call.
pub const BATCH: usize = 64;
/// Largest datagram kept (STUN/TURN over UDP stays well below; bigger ones are truncated).
pub const MAX_DATAGRAM: usize = 2048;

/// Receive buffers for one batch, allocated once and reused for every call.
pub struct RecvBatch {
    bufs: Vec<[u8; MAX_DATAGRAM]>,
    lens: Vec<usize>,
    from: Vec<Option<SocketAddr>>,
    count: usize,
    #[cfg(target_os = "linux")]
    sys: imp::Sys,
}

impl Default for RecvBatch {
    fn default() -> Self {
        Self {
            bufs: vec![[0u8; MAX_DATAGRAM]; BATCH],
            lens: vec![0; BATCH],
            from: vec![None; BATCH],
            count: 0,
            #[cfg(target_os = "linux")]
            sys: imp::Sys::default(),
        }
    }
}

// The raw pointers inside only ever point into the batch's own buffers.
// SAFETY: a RecvBatch is used by one thread at a time (`&mut` for every call).
#[cfg(target_os = "linux")]
unsafe impl Send for RecvBatch {}

impl RecvBatch {
    /// The datagrams of the last receive, with their senders.
    pub fn iter(&self) -> impl Iterator<Item = (SocketAddr, &[u8])> {
        (0..self.count).filter_map(|i| Some((self.from[i]?, &self.bufs[i][..self.lens[i]])))
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use std::os::fd::AsRawFd;

    use socket2::SockAddr;

    use super::*;

    /// Headers and address space of one batch, kept between calls (no allocation per call).
    pub struct Sys {
        addrs: Vec<libc::sockaddr_storage>,
        iovs: Vec<libc::iovec>,
        hdrs: Vec<libc::mmsghdr>,
    }

    impl Default for Sys {
        fn default() -> Self {
            // SAFETY: all-zero sockaddr_storage, iovec and mmsghdr are valid empty values.
            unsafe {
                Self {
                    addrs: vec![std::mem::zeroed(); BATCH],
                    iovs: vec![std::mem::zeroed(); BATCH],
                    hdrs: vec![std::mem::zeroed(); BATCH],
                }
            }
        }
    }

    /// Receives up to [`BATCH`] datagrams. `wait`: block until at least one is there (then
    /// take the rest without waiting); otherwise return `WouldBlock` at once if none is.
    pub fn recv(sock: &UdpSocket, b: &mut RecvBatch, wait: bool) -> io::Result<usize> {
        let sys = &mut b.sys;
        // Point the headers at this batch's buffers (the vectors never reallocate, so the
        // pointers stay valid for the call).
        for i in 0..BATCH {
            sys.iovs[i] = libc::iovec { iov_base: b.bufs[i].as_mut_ptr().cast(), iov_len: MAX_DATAGRAM };
            let h = &mut sys.hdrs[i];
            h.msg_hdr.msg_name = (&mut sys.addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_hdr.msg_iov = &mut sys.iovs[i];
            h.msg_hdr.msg_iovlen = 1;
            h.msg_len = 0;
        }
        let flags = if wait { libc::MSG_WAITFORONE } else { libc::MSG_DONTWAIT };
        // SAFETY: every pointer in `hdrs` points into `b.bufs`, `sys.addrs` or `sys.iovs`,
        // which outlive the call; the kernel writes at most `iov_len` bytes per buffer and
        // `msg_namelen` bytes per address.
        let n = unsafe {
            libc::recvmmsg(sock.as_raw_fd(), sys.hdrs.as_mut_ptr(), BATCH as libc::c_uint, flags, std::ptr::null_mut())
        };
        if n < 0 {
            b.count = 0;
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        for i in 0..n {
            b.lens[i] = (sys.hdrs[i].msg_len as usize).min(MAX_DATAGRAM);
            b.from[i] = to_socket_addr(&sys.addrs[i]);
        }
        b.count = n;
        Ok(n)
    }

    fn to_socket_addr(ss: &libc::sockaddr_storage) -> Option<SocketAddr> {
        match i32::from(ss.ss_family) {
            libc::AF_INET => {
                // SAFETY: the family says this storage holds a sockaddr_in, which it is large enough for.
                let sin: &libc::sockaddr_in = unsafe { &*(ss as *const libc::sockaddr_storage).cast() };
                let ip = std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                Some(SocketAddr::from((ip, u16::from_be(sin.sin_port))))
            }
            libc::AF_INET6 => {
                // SAFETY: as above, for sockaddr_in6.
                let sin6: &libc::sockaddr_in6 = unsafe { &*(ss as *const libc::sockaddr_storage).cast() };
                let ip = std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                Some(SocketAddr::from((ip, u16::from_be(sin6.sin6_port))))
            }
            _ => None,
        }
    }

    /// Whether the kernel accepted UDP segmentation offload so far (switched off for good at
    /// the first refusal, e.g. an old kernel).
    static GSO: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);
    /// Most segments one GSO send may carry (the kernel's limit).
    const MAX_SEGMENTS: usize = 64;

    /// Runs of datagrams to one destination with one size (the last may be shorter): each run
    /// goes out as one message with UDP_SEGMENT, so the kernel builds and routes it once.
    fn runs(packets: &[(SocketAddr, &[u8])], gso: bool) -> Vec<std::ops::Range<usize>> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < packets.len() {
            let (dest, first) = packets[i];
            let mut j = i + 1;
            let mut total = first.len();
            while gso
                && j < packets.len()
                && j - i < MAX_SEGMENTS
                && packets[j].0 == dest
                && packets[j].1.len() <= first.len()
                && packets[j - 1].1.len() == first.len()
                && total + packets[j].1.len() <= 65_000
                && !first.is_empty()
            {
                total += packets[j].1.len();
                j += 1;
            }
            out.push(i..j);
            i = j;
        }
        out
    }

    /// Sends every datagram without blocking; returns how many the kernel took. Consecutive
    /// datagrams to the same destination share one segmented send (UDP GSO).
    pub fn send(sock: &UdpSocket, packets: &[(SocketAddr, &[u8])]) -> io::Result<usize> {
        let gso = GSO.load(std::sync::atomic::Ordering::Relaxed);
        let runs = runs(packets, gso);
        let mut sent = 0;
        let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<u16>() as u32) } as usize;
        for chunk in runs.chunks(BATCH) {
            let addrs: Vec<SockAddr> = chunk.iter().map(|r| SockAddr::from(packets[r.start].0)).collect();
            let mut iovs: Vec<libc::iovec> =
                packets.iter().map(|(_, d)| libc::iovec { iov_base: d.as_ptr() as *mut _, iov_len: d.len() }).collect();
            let mut control = vec![0u8; space * chunk.len()];
            let mut hdrs: Vec<libc::mmsghdr> = Vec::with_capacity(chunk.len());
            for (k, r) in chunk.iter().enumerate() {
                // SAFETY: an all-zero mmsghdr is valid; every pointer set below points into
                // `addrs`, `iovs` or `control`, which outlive the sendmmsg calls, and the
                // control message is written inside its own `space`-byte slot.
                let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
                h.msg_hdr.msg_name = addrs[k].as_ptr() as *mut libc::c_void;
                h.msg_hdr.msg_namelen = addrs[k].len();
                h.msg_hdr.msg_iov = &mut iovs[r.start];
                h.msg_hdr.msg_iovlen = r.len() as _;
                if r.len() > 1 {
                    let seg = packets[r.start].1.len() as u16;
                    h.msg_hdr.msg_control = control[k * space..].as_mut_ptr().cast();
                    h.msg_hdr.msg_controllen = space as _;
                    unsafe {
                        let cmsg = libc::CMSG_FIRSTHDR(&h.msg_hdr);
                        (*cmsg).cmsg_level = libc::SOL_UDP;
                        (*cmsg).cmsg_type = libc::UDP_SEGMENT;
                        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<u16>() as u32) as _;
                        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<u16>(), seg);
                    }
                }
                hdrs.push(h);
            }
            let mut off = 0;
            while off < hdrs.len() {
                // SAFETY: `hdrs[off..]` and everything it points to outlive the call.
                let n = unsafe {
                    libc::sendmmsg(
                        sock.as_raw_fd(),
                        hdrs[off..].as_mut_ptr(),
                        (hdrs.len() - off) as libc::c_uint,
                        libc::MSG_DONTWAIT,
                    )
                };
                if n <= 0 {
                    let e = io::Error::last_os_error();
                    if e.kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    let run = &chunk[off];
                    if run.len() > 1 && matches!(e.raw_os_error(), Some(libc::EIO | libc::EINVAL | libc::ENOPROTOOPT)) {
                        // No GSO here: send this run (and everything from now on) one by one.
                        GSO.store(false, std::sync::atomic::Ordering::Relaxed);
                        sent += send(sock, &packets[run.clone()])?;
                    }
                    // Otherwise a full buffer or an error for one destination: drop that run,
                    // as a router drops what it cannot forward.
                    off += 1;
                    continue;
                }
                for r in &chunk[off..off + n as usize] {
                    sent += r.len();
                }
                off += n as usize;
            }
        }
        Ok(sent)
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::*;

    pub fn recv(sock: &UdpSocket, b: &mut RecvBatch, wait: bool) -> io::Result<usize> {
        sock.set_nonblocking(!wait)?;
        let (n, from) = sock.recv_from(&mut b.bufs[0])?;
        b.lens[0] = n;
        b.from[0] = Some(from);
        b.count = 1;
        Ok(1)
    }

    pub fn send(sock: &UdpSocket, packets: &[(SocketAddr, &[u8])]) -> io::Result<usize> {
        Ok(packets.iter().filter(|(a, d)| sock.send_to(d, a).is_ok()).count())
    }
}

pub use imp::{recv, send};

/// Sends one datagram without blocking (even on a socket in blocking mode).
pub fn send_one(sock: &UdpSocket, to: SocketAddr, data: &[u8]) -> io::Result<usize> {
    #[cfg(unix)]
    let flags = libc::MSG_DONTWAIT;
    #[cfg(not(unix))]
    let flags = 0;
    socket2::SockRef::from(sock).send_to_with_flags(data, &to.into(), flags)
}

/// A UDP socket on `addr` that other sockets may share (SO_REUSEPORT): the kernel spreads
/// incoming datagrams over them, one receiving thread each.
pub fn shared_socket(addr: SocketAddr) -> io::Result<UdpSocket> {
    let s =
        socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
    s.set_reuse_port(true)?;
    // Room for bursts: the default 208 KiB fills in a few milliseconds at full rate.
    let _ = s.set_recv_buffer_size(4 << 20);
    let _ = s.set_send_buffer_size(4 << 20);
    s.bind(&addr.into())?;
    Ok(s.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_goes_out_and_comes_back() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = b.local_addr().unwrap();
        // Different sizes, and runs of equal sizes (sent with GSO), arrive as sent.
        let mut msgs: Vec<Vec<u8>> = (0..100u8).map(|i| vec![i; 1 + usize::from(i)]).collect();
        msgs.extend((0..100u8).map(|i| vec![i; 40]));
        msgs.push(vec![7; 13]);
        let packets: Vec<(SocketAddr, &[u8])> = msgs.iter().map(|m| (to, m.as_slice())).collect();
        assert_eq!(send(&a, &packets).unwrap(), msgs.len());
        let mut batch = RecvBatch::default();
        let mut got = Vec::new();
        while got.len() < msgs.len() {
            recv(&b, &mut batch, true).unwrap();
            got.extend(batch.iter().map(|(from, d)| (from, d.to_vec())));
        }
        assert!(got.iter().all(|(from, _)| *from == a.local_addr().unwrap()));
        assert_eq!(got.iter().map(|(_, d)| d.clone()).collect::<Vec<_>>(), msgs);
    }
}
