//! Process measurement for run reports and benchmarks: CPU time and peak resident memory,
//! read from Linux's `/proc`. Where the OS does not tell (another OS, a process gone, an
//! unreadable file) a probe answers `None`, and the figure is left out of the report.

#![forbid(unsafe_code)]

/// Clock ticks per second in `/proc/<pid>/stat` (`USER_HZ`): 100 on every Linux target.
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU time this process has used so far, user and system, all threads, in seconds.
pub fn cpu_seconds() -> Option<f64> {
    cpu_seconds_at("self")
}

/// CPU time another process, such as a child, has used so far, in seconds.
pub fn cpu_seconds_of(pid: u32) -> Option<f64> {
    cpu_seconds_at(&pid.to_string())
}

/// CPU time of this process's children that have ended and been waited for (with their own
/// waited-for children), user and system, in seconds: a bench's agents and matcher.
pub fn children_cpu_seconds() -> Option<f64> {
    stat_seconds("self", CHILDREN_UTIME)
}

/// utime and stime are the 14th and 15th fields of `/proc/<pid>/stat`, the 12th and 13th
/// after the command name; cutime and cstime follow them.
const UTIME: usize = 11;
const CHILDREN_UTIME: usize = 13;

fn cpu_seconds_at(process: &str) -> Option<f64> {
    stat_seconds(process, UTIME)
}

/// The sum of the user and system ticks from `first` on (after the name), in seconds.
fn stat_seconds(process: &str, first: usize) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{process}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(first)?.parse::<f64>().ok()? + fields.get(first + 1)?.parse::<f64>().ok()?;
    Some(ticks / TICKS_PER_SECOND)
}

/// Peak resident set size of this process (`VmHWM`), in KiB.
pub fn peak_memory_kib() -> Option<u64> {
    peak_memory_kib_at("self")
}

/// Peak resident set size of another process, such as a child, in KiB.
pub fn peak_memory_kib_of(pid: u32) -> Option<u64> {
    peak_memory_kib_at(&pid.to_string())
}

/// `VmHWM` from `/proc/<process>/status`.
fn peak_memory_kib_at(process: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{process}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_measured() {
        let peak = peak_memory_kib().expect("VmHWM of this process");
        assert!(peak > 0);
        assert_eq!(peak_memory_kib_of(std::process::id()).map(|own| own >= peak), Some(true));
        let spent = cpu_seconds().expect("CPU time of this process");
        assert!(cpu_seconds_of(std::process::id()).is_some_and(|own| own >= spent));
        let before = cpu_seconds().expect("CPU time of this process");
        assert!(before >= 0.0);
        // Busy until the next clock tick is accounted to this process; a busy machine may
        // take a while to give it one, a broken probe never does.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while cpu_seconds().expect("CPU time of this process") <= before {
            assert!(std::time::Instant::now() < deadline, "CPU time did not advance from {before} s");
        }
    }

    #[test]
    fn children_are_measured_once_waited_for() {
        let before = children_cpu_seconds().expect("CPU time of this process's children");
        // A busy child until one of them has been given a clock tick; a broken probe never
        // sees one.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while children_cpu_seconds().expect("CPU time of this process's children") <= before {
            assert!(std::time::Instant::now() < deadline, "children's CPU time did not advance from {before} s");
            let busy = "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done";
            let status = std::process::Command::new("sh").args(["-c", busy]).status().expect("sh runs");
            assert!(status.success());
        }
    }

    #[test]
    fn a_process_that_does_not_exist_gives_none() {
        // Above the kernel's largest pid (4,194,304), so never a live process.
        assert_eq!(peak_memory_kib_of(u32::MAX), None);
    }
}
