//! Which simulcast layer a subscriber gets: a pure decision, tested on its own.
//!
//! A publisher sends its camera as up to three layers, lowest first (our client names them
//! `q`, `h`, `f`: quarter, half and full resolution). Each subscriber gets one of them per
//! tile: the best that fits both its share of the bandwidth estimate and the size at which it
//! shows the tile (a thumbnail does not need the full layer).

/// Rids of the layers our client publishes, lowest first.
pub const RIDS: [&str; 3] = ["q", "h", "f"];

/// The rank (index in [`RIDS`]) of a rid, if it is one of ours.
pub fn rank(rid: &str) -> Option<usize> {
    RIDS.iter().position(|r| *r == rid)
}

/// The highest layer a tile of `height` CSS pixels needs (the client reports it).
pub fn cap_for_tile(height: u32) -> usize {
    match height {
        0..=200 => 0,
        201..=400 => 1,
        _ => 2,
    }
}

/// Picks a layer. `rates[i]` is the measured bitrate of layer `i` (None: the publisher does
/// not send it, or nothing arrived lately). The choice is the highest layer at or below
/// `cap` whose rate fits in `budget_bps`; if none fits, the lowest layer that is sent (a
/// frozen tile is worse than a blurry one); None when no layer is sent at all.
pub fn choose(rates: &[Option<u64>], budget_bps: u64, cap: usize) -> Option<usize> {
    let sent = || rates.iter().enumerate().filter_map(|(i, r)| r.map(|r| (i, r)));
    sent().filter(|(i, r)| *i <= cap && *r <= budget_bps).map(|(i, _)| i).max().or_else(|| sent().map(|(i, _)| i).min())
}

/// How a subscriber's bandwidth estimate is shared among the video it receives: audio first
/// (it is small and matters most), the rest split evenly over the video tracks.
pub fn video_budget(estimate_bps: u64, audio_tracks: usize, video_tracks: usize) -> u64 {
    const AUDIO_BPS: u64 = 64_000;
    let left = estimate_bps.saturating_sub(AUDIO_BPS.saturating_mul(audio_tracks as u64));
    left / (video_tracks.max(1) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const THREE: [Option<u64>; 3] = [Some(150_000), Some(500_000), Some(1_500_000)];

    #[test]
    fn best_layer_that_fits_the_budget() {
        assert_eq!(choose(&THREE, 5_000_000, 2), Some(2));
        assert_eq!(choose(&THREE, 1_000_000, 2), Some(1));
        assert_eq!(choose(&THREE, 200_000, 2), Some(0));
    }

    #[test]
    fn lowest_layer_when_nothing_fits() {
        assert_eq!(choose(&THREE, 10_000, 2), Some(0));
        assert_eq!(choose(&[None, Some(500_000), Some(1_500_000)], 10_000, 2), Some(1));
    }

    #[test]
    fn the_tile_size_caps_the_layer() {
        assert_eq!(choose(&THREE, 5_000_000, cap_for_tile(120)), Some(0));
        assert_eq!(choose(&THREE, 5_000_000, cap_for_tile(360)), Some(1));
        assert_eq!(choose(&THREE, 5_000_000, cap_for_tile(720)), Some(2));
    }

    #[test]
    fn missing_layers_are_skipped() {
        // Chrome sends fewer layers for small cameras.
        assert_eq!(choose(&[Some(150_000), Some(500_000), None], 5_000_000, 2), Some(1));
        assert_eq!(choose(&[None, None, None], 5_000_000, 2), None);
        assert_eq!(choose(&[], 5_000_000, 2), None);
    }

    #[test]
    fn budget_is_shared_after_audio() {
        assert_eq!(video_budget(1_064_000, 1, 1), 1_000_000);
        assert_eq!(video_budget(2_128_000, 2, 2), 1_000_000);
        assert_eq!(video_budget(10_000, 3, 0), 0);
    }

    proptest::proptest! {
        #[test]
        fn choice_is_a_sent_layer(rates in proptest::collection::vec(proptest::option::of(0u64..5_000_000), 0..4),
                                  budget in 0u64..10_000_000, cap in 0usize..3) {
            match choose(&rates, budget, cap) {
                Some(i) => proptest::prop_assert!(rates[i].is_some()),
                None => proptest::prop_assert!(rates.iter().all(Option::is_none)),
            }
        }
    }
}
