//! Who is speaking, from the audio levels publishers put in every packet (RFC 6464).
//!
//! Each participant's level arrives as -dBov (0 loud, 127 silence). A participant counts as
//! speaking in a window when enough of its packets in the window are louder than the
//! threshold; the active speaker changes only to someone who spoke clearly more in the last
//! window, and not more often than `min_dwell`, so the highlight does not flicker.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Louder than -50 dBov counts as voice.
const VOICE_DBOV: i8 = 50;
/// Evaluation window.
const WINDOW: Duration = Duration::from_millis(500);
/// Share of a window's packets that must be voice.
const MIN_ACTIVE: f32 = 0.3;

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    voice: u32,
    total: u32,
}

impl Counts {
    fn share(self) -> f32 {
        if self.total == 0 {
            0.0
        } else {
            self.voice as f32 / self.total as f32
        }
    }
}

/// Tracks the active speaker of one room.
#[derive(Debug)]
pub struct SpeakerDetector<K> {
    window_start: Option<Instant>,
    counts: HashMap<K, Counts>,
    current: Option<K>,
    changed_at: Option<Instant>,
    min_dwell: Duration,
}

impl<K: Copy + Eq + std::hash::Hash + Ord> SpeakerDetector<K> {
    pub fn new(min_dwell: Duration) -> Self {
        Self { window_start: None, counts: HashMap::new(), current: None, changed_at: None, min_dwell }
    }

    pub fn current(&self) -> Option<K> {
        self.current
    }

    /// Forgets a participant who left (it stops being the speaker).
    pub fn remove(&mut self, who: K) {
        self.counts.remove(&who);
        if self.current == Some(who) {
            self.current = None;
        }
    }

    /// One audio packet's level. Returns the new active speaker when it changes.
    pub fn level(&mut self, who: K, dbov: i8, now: Instant) -> Option<K> {
        let start = *self.window_start.get_or_insert(now);
        let mut changed = None;
        if now.saturating_duration_since(start) >= WINDOW {
            changed = self.evaluate(now);
            self.window_start = Some(now);
            self.counts.clear();
        }
        let c = self.counts.entry(who).or_default();
        c.total += 1;
        if dbov <= VOICE_DBOV {
            c.voice += 1;
        }
        changed
    }

    fn evaluate(&mut self, now: Instant) -> Option<K> {
        // Loudest share wins; ties go to the lower key so the result does not depend on
        // hash order.
        let (best, share) = self
            .counts
            .iter()
            .map(|(k, c)| (*k, c.share()))
            .filter(|(_, s)| *s >= MIN_ACTIVE)
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))?;
        if self.current == Some(best) {
            return None;
        }
        let current_share = self.current.and_then(|c| self.counts.get(&c)).map_or(0.0, |c| c.share());
        let dwelt = self.changed_at.is_none_or(|t| now.saturating_duration_since(t) >= self.min_dwell);
        if !dwelt || share < current_share + 0.2 {
            return None;
        }
        self.current = Some(best);
        self.changed_at = Some(now);
        Some(best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(d: &mut SpeakerDetector<u64>, t0: Instant, from_ms: u64, to_ms: u64, levels: &[(u64, i8)]) -> Vec<u64> {
        let mut changes = vec![];
        let mut ms = from_ms;
        while ms < to_ms {
            for (who, l) in levels {
                if let Some(c) = d.level(*who, *l, t0 + Duration::from_millis(ms)) {
                    changes.push(c);
                }
            }
            ms += 20;
        }
        changes
    }

    #[test]
    fn the_one_talking_becomes_speaker_and_silence_does_not() {
        let t0 = Instant::now();
        let mut d = SpeakerDetector::new(Duration::from_secs(1));
        assert_eq!(feed(&mut d, t0, 0, 2000, &[(1, 127), (2, 30), (3, 127)]), vec![2]);
        assert_eq!(d.current(), Some(2));
        let mut quiet = SpeakerDetector::new(Duration::from_secs(1));
        assert!(feed(&mut quiet, t0, 0, 2000, &[(1, 127), (2, 127)]).is_empty());
    }

    #[test]
    fn switches_to_a_new_speaker_but_not_faster_than_the_dwell() {
        let t0 = Instant::now();
        let mut d = SpeakerDetector::new(Duration::from_secs(2));
        assert_eq!(feed(&mut d, t0, 0, 1000, &[(1, 20), (2, 127)]), vec![1]);
        // 2 starts and 1 stops: the change waits for the dwell time.
        let c = feed(&mut d, t0, 1000, 1600, &[(1, 127), (2, 20)]);
        assert!(c.is_empty(), "{c:?}");
        assert_eq!(feed(&mut d, t0, 1600, 4000, &[(1, 127), (2, 20)]), vec![2]);
    }

    #[test]
    fn talking_over_each_other_does_not_flicker() {
        let t0 = Instant::now();
        let mut d = SpeakerDetector::new(Duration::from_millis(0));
        let c = feed(&mut d, t0, 0, 5000, &[(1, 20), (2, 25)]);
        assert_eq!(c.len(), 1, "{c:?}");
    }

    #[test]
    fn a_leaver_stops_being_speaker() {
        let t0 = Instant::now();
        let mut d = SpeakerDetector::new(Duration::from_secs(1));
        feed(&mut d, t0, 0, 1000, &[(7, 20)]);
        assert_eq!(d.current(), Some(7));
        d.remove(7);
        assert_eq!(d.current(), None);
    }
}
