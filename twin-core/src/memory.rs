//! What this process holds in memory, read from `/proc/self` (Linux): for
//! benchmarks and tests that bound memory, never for behaviour.

/// Resident set size of this process in bytes (0 where unknown).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// The peak resident set size since the process started or since
/// [`reset_peak_rss`], in bytes (0 where unknown).
pub fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb * 1024)
}

/// Starts a new peak: the peak becomes the current resident size. Returns
/// false where the kernel does not offer it.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}
