//! The `Range` request header (RFC 9110 §14), as far as downloads need it: one byte range.

/// What to send of a file of `size` bytes for a `Range` header value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAnswer {
    /// The whole file (no header, or one we do not serve as ranges: several ranges, another
    /// unit, or bad syntax — all of which RFC 9110 lets a server ignore).
    Full,
    /// Bytes `start..=end`, as 206 Partial Content.
    Part { start: u64, end: u64 },
    /// The range lies outside the file: 416, with `Content-Range: bytes */size`.
    Unsatisfiable,
}

/// Interprets a `Range` header value for a file of `size` bytes.
pub fn answer(header: Option<&[u8]>, size: u64) -> RangeAnswer {
    let Some(raw) = header else { return RangeAnswer::Full };
    let Ok(text) = std::str::from_utf8(raw) else { return RangeAnswer::Full };
    let Some(spec) = text.trim().strip_prefix("bytes=") else { return RangeAnswer::Full };
    if spec.contains(',') {
        return RangeAnswer::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return RangeAnswer::Full };
    let (first, last) = (first.trim(), last.trim());
    let number = |s: &str| -> Option<u64> {
        if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            s.parse().ok()
        }
    };
    match (first.is_empty(), last.is_empty()) {
        // "-N": the last N bytes.
        (true, false) => match number(last) {
            Some(n) if n == 0 || size == 0 => RangeAnswer::Unsatisfiable,
            Some(n) => RangeAnswer::Part { start: size.saturating_sub(n), end: size - 1 },
            None => RangeAnswer::Full,
        },
        // "N-": from N to the end.
        (false, true) => match number(first) {
            Some(s) if s < size => RangeAnswer::Part { start: s, end: size - 1 },
            Some(_) => RangeAnswer::Unsatisfiable,
            None => RangeAnswer::Full,
        },
        // "N-M"
        (false, false) => match (number(first), number(last)) {
            (Some(s), Some(e)) if s > e => RangeAnswer::Full,
            (Some(s), Some(_)) if s >= size => RangeAnswer::Unsatisfiable,
            (Some(s), Some(e)) => RangeAnswer::Part { start: s, end: e.min(size - 1) },
            _ => RangeAnswer::Full,
        },
        (true, true) => RangeAnswer::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::RangeAnswer::{Full, Part, Unsatisfiable};
    use super::*;

    #[test]
    fn byte_ranges() {
        let a = |h: &str, size| answer(Some(h.as_bytes()), size);
        assert_eq!(answer(None, 10), Full);
        assert_eq!(a("bytes=0-4", 10), Part { start: 0, end: 4 });
        assert_eq!(a("bytes=5-", 10), Part { start: 5, end: 9 });
        assert_eq!(a("bytes=-3", 10), Part { start: 7, end: 9 });
        assert_eq!(a("bytes=-30", 10), Part { start: 0, end: 9 });
        assert_eq!(a("bytes=8-100", 10), Part { start: 8, end: 9 });
        assert_eq!(a("bytes=10-", 10), Unsatisfiable);
        assert_eq!(a("bytes=10-20", 10), Unsatisfiable);
        assert_eq!(a("bytes=-0", 10), Unsatisfiable);
        assert_eq!(a("bytes=0-", 0), Unsatisfiable);
        assert_eq!(a("bytes=-5", 0), Unsatisfiable);
        // Ignored: served whole.
        for h in [
            "bytes=5-2",
            "bytes=0-1,4-5",
            "items=0-1",
            "bytes=a-b",
            "bytes=-",
            "bytes=+1-2",
            "bytes=99999999999999999999-",
            "bytes",
        ] {
            assert_eq!(a(h, 10), Full, "{h}");
        }
        assert_eq!(answer(Some(&[0xff, 0xfe]), 10), Full);
    }
}
