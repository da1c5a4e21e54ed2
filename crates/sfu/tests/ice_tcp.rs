//! ICE over TCP through the real driver: a native str0m client connects to the SFU's passive
//! TCP candidate on a real loopback socket (RFC 4571 framing) and exchanges audio with a client
//! on UDP; connections that do not start with an ICE check of ours, or exceed the limit, are
//! closed. The SFU listens on the wildcard address, as deployments do.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sfu::{Command, RoomConfig, Sfu, SfuConfig, SfuEvent, Signal};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive, TcpType};
use str0m::{Candidate, Event, Input, Output, Rtc};

const ROOM: i64 = 7;

fn start(max_tcp_connections: usize) -> (Sfu, Receiver<SfuEvent>) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let cfg = SfuConfig {
        // A wildcard address, as deployments listen: the SFU announces the default route's
        // address (or loopback without one) and must answer what arrives there.
        listen: "0.0.0.0:0".parse().unwrap(),
        announce: vec![],
        workers: 1,
        max_tcp_connections,
        room: RoomConfig::default(),
    };
    let sfu = Sfu::start(
        cfg,
        Arc::new(move |e| {
            let _ = tx.lock().unwrap().send(e);
        }),
    )
    .unwrap();
    (sfu, rx)
}

enum Link {
    Udp(UdpSocket),
    Tcp { stream: TcpStream, buf: Vec<u8> },
}

struct Client {
    id: u64,
    rtc: Rtc,
    link: Link,
    local: SocketAddr,
    server: SocketAddr,
    pending: Option<SdpPendingOffer>,
    audio: Mid,
    connected: bool,
    received: usize,
}

impl Client {
    fn new(sfu: &Sfu, id: u64, proto: Protocol) -> Client {
        let server = sfu.candidates()[0];
        let (link, local, candidate) = match proto {
            Protocol::Udp => {
                let s = UdpSocket::bind(SocketAddr::new(server.ip(), 0)).unwrap();
                s.set_nonblocking(true).unwrap();
                let a = s.local_addr().unwrap();
                (Link::Udp(s), a, Candidate::host(a, "udp").unwrap())
            }
            _ => {
                let s = TcpStream::connect(server).unwrap();
                s.set_nonblocking(true).unwrap();
                let a = s.local_addr().unwrap();
                let c = Candidate::builder().tcp().host(a).tcptype(TcpType::Active).build().unwrap();
                (Link::Tcp { stream: s, buf: vec![] }, a, c)
            }
        };
        let mut rtc =
            Rtc::builder().set_crypto_provider(Arc::new(str0m::crypto::from_feature_flags())).build(Instant::now());
        rtc.add_local_candidate(candidate);
        let mut api = rtc.sdp_api();
        let audio = api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let (offer, pending) = api.apply().unwrap();
        sfu.command(Command::Join { room: ROOM, who: id, user: id as i64 }, Some(1)).unwrap();
        sfu.command(
            Command::Sdp {
                room: ROOM,
                who: id,
                offer: true,
                rev: 0,
                sdp: offer.to_sdp_string(),
                sources: HashMap::new(),
            },
            Some(2),
        )
        .unwrap();
        Client { id, rtc, link, local, server, pending: Some(pending), audio, connected: false, received: 0 }
    }

    fn proto(&self) -> Protocol {
        match self.link {
            Link::Udp(_) => Protocol::Udp,
            Link::Tcp { .. } => Protocol::Tcp,
        }
    }

    /// Sends what the session produced, reads what arrived.
    fn pump(&mut self) {
        loop {
            match self.rtc.poll_output().unwrap() {
                Output::Timeout(_) => break,
                Output::Transmit(t) => match &mut self.link {
                    Link::Udp(s) => {
                        let _ = s.send_to(&t.contents, t.destination);
                    }
                    Link::Tcp { stream, .. } => {
                        let f = sfu::tcp::frame(&t.contents).unwrap();
                        stream.set_nonblocking(false).unwrap();
                        stream.write_all(&f).unwrap();
                        stream.set_nonblocking(true).unwrap();
                    }
                },
                Output::Event(Event::Connected) => self.connected = true,
                Output::Event(Event::MediaData(_)) => self.received += 1,
                Output::Event(_) => {}
            }
        }
        let mut packets = vec![];
        let mut tmp = [0u8; 4096];
        match &mut self.link {
            Link::Udp(s) => {
                while let Ok((n, _)) = s.recv_from(&mut tmp) {
                    packets.push(tmp[..n].to_vec());
                }
            }
            Link::Tcp { stream, buf } => {
                loop {
                    match stream.read(&mut tmp) {
                        Ok(0) => panic!("the SFU closed the media connection"),
                        Ok(n) => buf.extend_from_slice(&tmp[..n]),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => panic!("read: {e}"),
                    }
                }
                while buf.len() >= 2 {
                    let n = u16::from_be_bytes([buf[0], buf[1]]) as usize;
                    if buf.len() < 2 + n {
                        break;
                    }
                    packets.push(buf[2..2 + n].to_vec());
                    buf.drain(..2 + n);
                }
            }
        }
        let proto = self.proto();
        for p in packets {
            let input = Input::Receive(
                Instant::now(),
                Receive {
                    proto,
                    source: self.server,
                    destination: self.local,
                    contents: p.as_slice().try_into().unwrap(),
                },
            );
            self.rtc.handle_input(input).unwrap();
        }
        self.rtc.handle_input(Input::Timeout(Instant::now())).unwrap();
    }

    fn signal(&mut self, sfu: &Sfu, signal: Signal) {
        match signal {
            Signal::Answer { sdp } => {
                let pending = self.pending.take().unwrap();
                self.rtc.sdp_api().accept_answer(pending, SdpAnswer::from_sdp_string(&sdp).unwrap()).unwrap();
            }
            Signal::Offer { rev, sdp, .. } => {
                let answer = self.rtc.sdp_api().accept_offer(SdpOffer::from_sdp_string(&sdp).unwrap()).unwrap();
                let cmd = Command::Sdp {
                    room: ROOM,
                    who: self.id,
                    offer: false,
                    rev,
                    sdp: answer.to_sdp_string(),
                    sources: HashMap::new(),
                };
                sfu.command(cmd, None).unwrap();
            }
            _ => {}
        }
    }

    fn send_audio(&mut self, n: u64) {
        let Some(w) = self.rtc.writer(self.audio) else { return };
        let Some(pt) = w.payload_params().next().map(|p| p.pt()) else { return };
        let time = MediaTime::new(n * 960, str0m::media::Frequency::new(48_000).unwrap());
        let _ = w.write(pt, Instant::now(), time, vec![0x42u8; 80]);
    }
}

#[test]
fn a_client_over_tcp_and_one_over_udp_hear_each_other_through_the_real_driver() {
    let (sfu, events) = start(16);
    let mut clients = vec![Client::new(&sfu, 1, Protocol::Tcp), Client::new(&sfu, 2, Protocol::Udp)];
    // Bounded in time: on a loaded machine this takes a second or two.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut frame = 0;
    while Instant::now() < deadline {
        while let Ok(e) = events.try_recv() {
            match e {
                SfuEvent::Signal { to, signal, .. } => {
                    let c = clients.iter_mut().find(|c| c.id == to).unwrap();
                    c.signal(&sfu, signal);
                }
                SfuEvent::Failed { error, .. } => panic!("SFU refused: {error}"),
                _ => {}
            }
        }
        frame += 1;
        for c in &mut clients {
            if c.connected {
                c.send_audio(frame);
            }
            c.pump();
        }
        if clients.iter().all(|c| c.connected && c.received >= 50) {
            // The figures the metrics show.
            let s = sfu.stats();
            assert_eq!((s.rooms, s.participants, s.tcp_connections), (1, 2, 1), "{s:?}");
            assert!(s.packets_in > 100 && s.packets_out > 100 && s.bytes_out > s.packets_out, "{s:?}");
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let state: Vec<_> = clients.iter().map(|c| (c.proto(), c.connected, c.received)).collect();
    panic!("media did not flow both ways: {state:?}");
}

/// Whether the server keeps this connection open (nothing to read, no end-of-file).
fn open(s: &mut TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    matches!(s.read(&mut [0u8; 1]), Err(e) if e.kind() == ErrorKind::WouldBlock)
}

fn wait_closed(s: &mut TcpStream) {
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut b = [0u8; 64];
    loop {
        match s.read(&mut b) {
            Ok(0) => return,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return,
            Err(e) => panic!("the server kept the connection open: {e}"),
        }
    }
}

#[test]
fn connections_that_do_not_start_with_an_ice_check_of_ours_are_closed() {
    let (sfu, _events) = start(16);
    let addr = sfu.candidates()[0];
    let mut junk = TcpStream::connect(addr).unwrap();
    junk.write_all(&[0, 4, 0xde, 0xad, 0xbe, 0xef]).unwrap();
    wait_closed(&mut junk);
    // A well-formed STUN binding request for a username nobody here has.
    let mut stun = vec![0x00, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42];
    stun.extend_from_slice(&[7u8; 12]);
    stun.extend_from_slice(&[0x00, 0x06, 0x00, 0x08]);
    stun.extend_from_slice(b"nobo:dyx");
    let framed = sfu::tcp::frame(&stun).unwrap();
    let mut stranger = TcpStream::connect(addr).unwrap();
    stranger.write_all(&framed).unwrap();
    wait_closed(&mut stranger);
    // A frame cut short by the peer closing.
    let mut cut = TcpStream::connect(addr).unwrap();
    cut.write_all(&[0x05, 0xdc, 1, 2, 3]).unwrap();
    cut.shutdown(std::net::Shutdown::Write).unwrap();
    wait_closed(&mut cut);
}

#[test]
fn connections_over_the_limit_are_closed_at_once() {
    let (sfu, _events) = start(2);
    let addr = sfu.candidates()[0];
    // Two silent connections are held (until the hello timeout); the accept thread takes
    // connections in order, so a third is over the limit and closed without waiting.
    let mut a = TcpStream::connect(addr).unwrap();
    let mut b = TcpStream::connect(addr).unwrap();
    let mut c = TcpStream::connect(addr).unwrap();
    wait_closed(&mut c);
    assert!(open(&mut a) && open(&mut b), "the first two connections are still open");
}
