//! The process's memory figures from /proc, for the `--log` summary.
//!
//! Owns reading them only; what the server made the session hold is
//! spice-core's budget (`Session::budget`).

/// The process's peak resident set size (`VmHWM` of /proc/self/status) in
/// kB, where /proc exists.
pub fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let before = peak_rss_kb().expect("VmHWM on Linux");
        // Touch 64 MiB of fresh pages: the peak must grow by about that much.
        let v = vec![1u8; 64 << 20];
        assert!(v.iter().step_by(4096).all(|&b| b == 1));
        assert!(peak_rss_kb().expect("VmHWM") >= before + 32 * 1024);
    }
}
