//! Who a starting group call is still ringing. When a call starts in a group, every other
//! member is rung on all their devices (clients ring on `room_running` with `started`). This
//! keeps, per call, the members rung who have not joined or declined yet, so that a decline
//! on one device stops the ring on the others, and a member who did neither by the end of
//! the ring (or of the call, if sooner) gets a missed call in their history.
//!
//! Sans-IO: events and the time (unix seconds) in, [`RingEnded`]s out; the conference bridge
//! pushes and records them.

use std::collections::{BTreeSet, HashMap};

use proto::ws::RingEnd;

/// How long a started call rings (the client's ring lasts as long).
pub const RING_SECS: i64 = 30;

/// A ring that ended without the member joining.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingEnded {
    pub conv: i64,
    pub user: i64,
    /// Who started the call.
    pub starter: i64,
    pub started_at: i64,
    /// How long it rang them.
    pub ring_secs: i64,
    pub how: RingEnd,
}

struct Ring {
    starter: i64,
    started_at: i64,
    pending: BTreeSet<i64>,
}

#[derive(Default)]
pub struct GroupRings {
    calls: HashMap<i64, Ring>,
}

impl GroupRings {
    /// A call started in `conv` by `starter`: `members` (the starter left out) are rung.
    /// A ring still open for an earlier call there ends as missed.
    pub fn start(&mut self, conv: i64, starter: i64, members: &[i64], now: i64) -> Vec<RingEnded> {
        let ended = self.finish(conv, now);
        let pending: BTreeSet<i64> = members.iter().copied().filter(|m| *m != starter).collect();
        if !pending.is_empty() {
            self.calls.insert(conv, Ring { starter, started_at: now, pending });
        }
        ended
    }

    /// Who is in the call now: those rung who joined stop ringing (without a record); when the
    /// call is over (nobody in it), everyone still rung missed it.
    pub fn in_call(&mut self, conv: i64, users: &[i64], now: i64) -> Vec<RingEnded> {
        if users.is_empty() {
            return self.finish(conv, now);
        }
        if let Some(r) = self.calls.get_mut(&conv) {
            r.pending.retain(|u| !users.contains(u));
            if r.pending.is_empty() {
                self.calls.remove(&conv);
            }
        }
        vec![]
    }

    /// `user` declined: `None` if nothing was ringing them there.
    pub fn decline(&mut self, conv: i64, user: i64, now: i64) -> Option<RingEnded> {
        let r = self.calls.get_mut(&conv)?;
        if !r.pending.remove(&user) {
            return None;
        }
        let ended = ended(conv, user, r, now, RingEnd::Declined);
        if r.pending.is_empty() {
            self.calls.remove(&conv);
        }
        Some(ended)
    }

    /// Rings that lasted [`RING_SECS`] end as missed.
    pub fn expire(&mut self, now: i64) -> Vec<RingEnded> {
        let due: Vec<i64> =
            self.calls.iter().filter(|(_, r)| now - r.started_at >= RING_SECS).map(|(c, _)| *c).collect();
        due.into_iter().flat_map(|c| self.finish(c, now)).collect()
    }

    /// Whether anyone is being rung.
    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    fn finish(&mut self, conv: i64, now: i64) -> Vec<RingEnded> {
        let Some(r) = self.calls.remove(&conv) else { return vec![] };
        r.pending.iter().map(|u| ended(conv, *u, &r, now, RingEnd::Missed)).collect()
    }
}

fn ended(conv: i64, user: i64, r: &Ring, now: i64, how: RingEnd) -> RingEnded {
    RingEnded {
        conv,
        user,
        starter: r.starter,
        started_at: r.started_at,
        ring_secs: (now - r.started_at).clamp(0, RING_SECS),
        how,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: i64 = 1;
    const B: i64 = 2;
    const C: i64 = 3;
    const D: i64 = 4;

    fn who(v: &[RingEnded]) -> Vec<(i64, RingEnd)> {
        v.iter().map(|e| (e.user, e.how)).collect()
    }

    #[test]
    fn members_who_join_decline_or_do_neither() {
        let mut r = GroupRings::default();
        assert!(r.start(9, A, &[A, B, C, D], 100).is_empty());
        // B joins on some device: no record, no longer rung.
        assert!(r.in_call(9, &[A, B], 105).is_empty());
        assert_eq!(r.decline(9, B, 106), None, "B is in the call, not rung");
        // C declines: once.
        let d = r.decline(9, C, 110).unwrap();
        assert_eq!((d.user, d.starter, d.started_at, d.ring_secs, d.how), (C, A, 100, 10, RingEnd::Declined));
        assert_eq!(r.decline(9, C, 111), None);
        // D does nothing: missed when the ring ends, not before.
        assert!(r.expire(100 + RING_SECS - 1).is_empty());
        let m = r.expire(100 + RING_SECS);
        assert_eq!(who(&m), vec![(D, RingEnd::Missed)]);
        assert_eq!(m[0].ring_secs, RING_SECS);
        assert!(r.is_empty());
        // Joining later changes nothing.
        assert!(r.in_call(9, &[A, B, D], 200).is_empty());
    }

    #[test]
    fn a_call_that_ends_while_ringing_is_missed_by_everyone_still_rung() {
        let mut r = GroupRings::default();
        r.start(9, A, &[A, B, C], 100);
        let m = r.in_call(9, &[], 104);
        assert_eq!(who(&m), vec![(B, RingEnd::Missed), (C, RingEnd::Missed)]);
        assert_eq!(m[0].ring_secs, 4);
        assert!(r.is_empty());
    }

    #[test]
    fn calls_in_different_groups_ring_apart_and_a_restart_closes_the_old_ring() {
        let mut r = GroupRings::default();
        r.start(9, A, &[A, B], 100);
        r.start(8, C, &[C, B], 101);
        assert_eq!(r.decline(8, B, 102).map(|e| e.conv), Some(8));
        assert!(r.decline(9, A, 102).is_none(), "the starter is not rung");
        let m = r.start(9, B, &[A, B], 103);
        assert_eq!(who(&m), vec![(B, RingEnd::Missed)]);
        assert_eq!(r.decline(9, A, 104).map(|e| e.starter), Some(B));
        assert!(r.start(7, A, &[A], 105).is_empty() && r.is_empty(), "a group of one rings nobody");
    }
}
