//! The process's own figures from `/proc/self` (Linux); zeros elsewhere.

#[derive(Debug, Default, Clone, Copy)]
pub struct ProcessStats {
    pub rss_bytes: u64,
    pub vsize_bytes: u64,
    pub cpu_seconds: f64,
    pub open_fds: u64,
    pub threads: u64,
    pub start_time_seconds: f64,
}

/// Clock ticks per second of `/proc/*/stat` times (USER_HZ: 100 on every Linux platform
/// Rust supports).
const TICKS: f64 = 100.0;
const PAGE: u64 = 4096;

pub fn read() -> ProcessStats {
    let mut s = ProcessStats::default();
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return s };
    // Fields after the command name, which is in parentheses and may contain spaces.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return s };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // Indexes are the stat(5) field numbers minus 3 (state is field 3).
    s.cpu_seconds = (num(11) + num(12)) as f64 / TICKS;
    s.threads = num(17);
    s.vsize_bytes = num(20);
    s.rss_bytes = num(21) * PAGE;
    let start_ticks = num(19) as f64;
    let boot = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("btime ").and_then(|v| v.trim().parse::<f64>().ok())))
        .unwrap_or(0.0);
    s.start_time_seconds = boot + start_ticks / TICKS;
    s.open_fds = std::fs::read_dir("/proc/self/fd").map(|d| d.count() as u64).unwrap_or(0);
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_this_process() {
        let s = super::read();
        if cfg!(target_os = "linux") {
            assert!(s.rss_bytes > 0 && s.threads >= 1 && s.open_fds > 0 && s.start_time_seconds > 1e9, "{s:?}");
        }
    }
}
