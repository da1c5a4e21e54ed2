use std::time::{SystemTime, UNIX_EPOCH};

/// Current time in Unix seconds, the unit every stored timestamp uses.
pub fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Keeps a client-supplied string short and printable before it is stored or shown.
pub(crate) fn sanitize_label(s: &str, max_chars: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max_chars).collect()
}
