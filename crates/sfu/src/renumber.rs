//! Renumbering of forwarded RTP. What one subscriber receives of a published track must be
//! one continuous RTP stream — sequence numbers, timestamps, VP8 picture ids — although it
//! is cut from several: the publisher's simulcast layers are separate streams, each numbered
//! on its own, and a track is paused and resumed (a tile off screen, a moderator's mute).
//! Each change of source starts a *run*: the run's packets keep their spacing (a gap from
//! loss stays a gap, so the subscriber asks for it again), and the run continues where the
//! previous one stopped. Pure arithmetic; the room feeds packets in arrival order.

use std::time::Instant;

/// The VP8 descriptor fields that are renumbered, as read from a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vp8Ids {
    /// The picture id and whether it is the 15-bit form (else 7-bit).
    pub picture_id: Option<(u16, bool)>,
    pub tl0_pic_idx: Option<u8>,
}

/// Where a packet goes in the subscriber's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapped {
    /// Extended sequence number (rollover counter in the high bits).
    pub seq: u64,
    pub timestamp: u32,
    pub picture_id: Option<u16>,
    pub tl0_pic_idx: Option<u8>,
}

/// One subscriber's renumbering of one track.
#[derive(Debug, Clone)]
pub struct Renumber {
    /// Ticks per second of the track's RTP clock (90,000 for video, 48,000 for Opus).
    clock: u32,
    /// Added to an input sequence number of the current run.
    seq_offset: u64,
    ts_offset: u32,
    picture_offset: u16,
    tl0_offset: u8,
    /// The current run's first input sequence number: older packets belong before the
    /// switch and are dropped (their numbers are taken by the previous run).
    run_start: Option<u64>,
    /// The highest sequence number sent, and the timestamp, picture id and TL0PICIDX sent
    /// with it, and when its packet arrived.
    last: Option<Last>,
}

#[derive(Debug, Clone, Copy)]
struct Last {
    seq: u64,
    timestamp: u32,
    at: Instant,
    picture_id: Option<u16>,
    tl0_pic_idx: Option<u8>,
}

/// The first sequence number sent: below 2^16, so the subscriber's SRTP rollover counter
/// starts at 0 as it expects (RFC 3711 3.3.1).
const FIRST_SEQ: u64 = 1;

impl Renumber {
    pub fn new(clock: u32) -> Self {
        Self {
            clock: clock.max(1),
            seq_offset: 0,
            ts_offset: 0,
            picture_offset: 0,
            tl0_offset: 0,
            run_start: None,
            last: None,
        }
    }

    /// Whether a run is under way.
    pub fn running(&self) -> bool {
        self.run_start.is_some()
    }

    /// Ends the current run (a pause, or a switch waiting for its keyframe): nothing is
    /// mapped until the next [`Renumber::start`].
    pub fn stop(&mut self) {
        self.run_start = None;
    }

    /// Starts a run at this packet (a keyframe of the new layer, or the first packet after a
    /// pause): it follows the last packet sent, one sequence number later, its timestamp as
    /// much later as the time between their arrivals (at least one tick), its picture id and
    /// TL0PICIDX one further.
    pub fn start(&mut self, seq: u64, timestamp: u32, ids: Vp8Ids, at: Instant) {
        self.run_start = Some(seq);
        let Some(last) = self.last else {
            self.seq_offset = FIRST_SEQ.wrapping_sub(seq);
            self.ts_offset = 0;
            self.picture_offset = 0;
            self.tl0_offset = 0;
            return;
        };
        self.seq_offset = last.seq.wrapping_add(1).wrapping_sub(seq);
        let elapsed = at.saturating_duration_since(last.at);
        let ticks = (elapsed.as_secs_f64() * f64::from(self.clock)).clamp(1.0, f64::from(u32::MAX / 2)) as u32;
        self.ts_offset = last.timestamp.wrapping_add(ticks).wrapping_sub(timestamp);
        if let (Some((pid, long)), Some(last_pid)) = (ids.picture_id, last.picture_id) {
            let m = modulus(long);
            self.picture_offset = (last_pid.wrapping_add(1).wrapping_sub(pid)) % m;
        }
        if let (Some(tl0), Some(last_tl0)) = (ids.tl0_pic_idx, last.tl0_pic_idx) {
            self.tl0_offset = last_tl0.wrapping_add(1).wrapping_sub(tl0);
        }
    }

    /// Maps a packet of the current run. None when no run is under way or the packet is
    /// older than the run's first (it would reuse a number the previous run sent).
    pub fn map(&mut self, seq: u64, timestamp: u32, ids: Vp8Ids, at: Instant) -> Option<Mapped> {
        let start = self.run_start?;
        if seq < start {
            return None;
        }
        let out = Mapped {
            seq: seq.wrapping_add(self.seq_offset),
            timestamp: timestamp.wrapping_add(self.ts_offset),
            picture_id: ids.picture_id.map(|(p, long)| p.wrapping_add(self.picture_offset) % modulus(long)),
            tl0_pic_idx: ids.tl0_pic_idx.map(|t| t.wrapping_add(self.tl0_offset)),
        };
        if self.last.is_none_or(|l| out.seq > l.seq) {
            self.last = Some(Last {
                seq: out.seq,
                timestamp: out.timestamp,
                at,
                picture_id: out.picture_id.or(self.last.and_then(|l| l.picture_id)),
                tl0_pic_idx: out.tl0_pic_idx.or(self.last.and_then(|l| l.tl0_pic_idx)),
            });
        }
        Some(out)
    }
}

fn modulus(long: bool) -> u16 {
    if long {
        0x8000
    } else {
        0x80
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const NO_IDS: Vp8Ids = Vp8Ids { picture_id: None, tl0_pic_idx: None };

    fn ids(pid: u16, tl0: u8) -> Vp8Ids {
        Vp8Ids { picture_id: Some((pid, true)), tl0_pic_idx: Some(tl0) }
    }

    #[test]
    fn a_run_keeps_spacing_and_starts_low() {
        let t0 = Instant::now();
        let mut r = Renumber::new(90_000);
        assert_eq!(r.map(70_000, 5, NO_IDS, t0), None, "nothing before a start");
        r.start(70_000, 1_000, NO_IDS, t0);
        assert_eq!(r.map(70_000, 1_000, NO_IDS, t0).map(|m| m.seq), Some(FIRST_SEQ));
        // A lost packet (70_001) stays a gap: the subscriber asks for it.
        let m = r.map(70_002, 4_000, NO_IDS, t0).unwrap();
        assert_eq!((m.seq, m.timestamp), (FIRST_SEQ + 2, 4_000));
        // It arrives late (a retransmission) and takes its own place.
        assert_eq!(r.map(70_001, 1_000, NO_IDS, t0).map(|m| m.seq), Some(FIRST_SEQ + 1));
    }

    #[test]
    fn a_switch_continues_where_the_last_run_stopped() {
        let t0 = Instant::now();
        let mut r = Renumber::new(90_000);
        r.start(100, 50_000, ids(7_000, 20), t0);
        for i in 0..10u64 {
            r.map(100 + i, 50_000 + 3_000 * (i as u32 / 3), ids(7_000 + i as u16 / 3, 20), t0);
        }
        // Last sent: seq FIRST+9, ts 59_000, picture 7_003. The other layer, 33 ms later:
        let at = t0 + Duration::from_millis(33);
        r.stop();
        assert_eq!(r.map(40_000, 9_000_000, ids(123, 200), at), None, "stopped");
        r.start(40_000, 9_000_000, ids(123, 200), at);
        let m = r.map(40_000, 9_000_000, ids(123, 200), at).unwrap();
        assert_eq!(m.seq, FIRST_SEQ + 10);
        assert_eq!(m.timestamp, 59_000 + 2_970);
        assert_eq!(m.picture_id, Some(7_004));
        assert_eq!(m.tl0_pic_idx, Some(21));
        // Packets of the new layer from before the switch point are dropped.
        assert_eq!(r.map(39_999, 8_997_000, ids(122, 200), at), None);
    }

    #[test]
    fn numbers_wrap() {
        let t0 = Instant::now();
        let mut r = Renumber::new(90_000);
        r.start(5, u32::MAX - 10, ids(0x7fff, 255), t0);
        r.map(5, u32::MAX - 10, ids(0x7fff, 255), t0);
        let m = r.map(6, 20, ids(0, 0), t0).unwrap();
        assert_eq!((m.timestamp, m.picture_id, m.tl0_pic_idx), (20, Some(0), Some(0)));
        // A switch to a layer whose picture id is short (7 bits) keeps within 7 bits.
        r.start(1_000, 0, Vp8Ids { picture_id: Some((100, false)), tl0_pic_idx: None }, t0);
        let m = r.map(1_000, 0, Vp8Ids { picture_id: Some((100, false)), tl0_pic_idx: None }, t0).unwrap();
        assert!(m.picture_id.unwrap() < 0x80);
    }

    proptest::proptest! {
        /// Whatever the runs and the order of their packets, no two packets sent get the
        /// same sequence number, and later runs only use numbers above earlier ones.
        #[test]
        fn sequence_numbers_never_repeat(runs in proptest::collection::vec(
            (0u64..1_000_000, proptest::collection::vec(0u64..40, 1..30)), 1..8)) {
            let t0 = Instant::now();
            let mut r = Renumber::new(90_000);
            let mut sent = std::collections::HashSet::new();
            let mut highest_before_run = 0u64;
            for (base, offsets) in runs {
                r.start(base + offsets[0], 0, NO_IDS, t0);
                let mut highest = highest_before_run;
                for o in &offsets {
                    if let Some(m) = r.map(base + o, 0, NO_IDS, t0) {
                        proptest::prop_assert!(m.seq > highest_before_run);
                        proptest::prop_assert!(sent.insert(m.seq) || offsets.iter().filter(|x| *x == o).count() > 1);
                        highest = highest.max(m.seq);
                    }
                }
                highest_before_run = highest;
                r.stop();
            }
        }
    }
}
