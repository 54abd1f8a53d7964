//! What a process costs, read from Linux's `/proc`: CPU time (`/proc/PID/stat`, user +
//! system) and resident memory (`VmRSS` in `/proc/PID/status`). The load generator
//! reads these for the server under test, and for itself, to show whether it was the
//! one short of CPU.
use std::time::Instant;

/// CPU time and wall time at one moment, to subtract from a later reading.
#[derive(Clone, Copy, Debug)]
pub struct CpuReading {
    cpu_seconds: f64,
    at: Instant,
}

impl CpuReading {
    /// Cores used on average between `self` and `later` (1.0 = one core busy).
    pub fn cores_until(&self, later: &CpuReading) -> f64 {
        let wall = later.at.duration_since(self.at).as_secs_f64();
        if wall <= 0.0 {
            return 0.0;
        }
        (later.cpu_seconds - self.cpu_seconds).max(0.0) / wall
    }
}

/// A process to measure: a pid, or this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Process {
    Pid(u32),
    This,
}

impl Process {
    fn dir(&self) -> String {
        match self {
            Process::Pid(pid) => format!("/proc/{pid}"),
            Process::This => "/proc/self".to_owned(),
        }
    }

    /// User + system CPU time so far, or `None` when the process is gone.
    pub fn cpu(&self) -> Option<CpuReading> {
        let stat = std::fs::read_to_string(format!("{}/stat", self.dir())).ok()?;
        // The command name (field 2) is in parentheses and may contain spaces: count
        // fields from the last ')'. utime and stime are fields 14 and 15.
        let after_name = &stat[stat.rfind(')')? + 1..];
        let mut fields = after_name.split_whitespace().skip(11);
        let utime: u64 = fields.next()?.parse().ok()?;
        let stime: u64 = fields.next()?.parse().ok()?;
        Some(CpuReading {
            cpu_seconds: (utime + stime) as f64 / clock_ticks_per_second(),
            at: Instant::now(),
        })
    }

    /// Resident set size in bytes, or `None` when the process is gone.
    pub fn rss_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("{}/status", self.dir())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }
}

/// CPU time of several processes together (a cluster of servers), or `None` when one
/// of them is gone or there are none.
pub fn total_cpu(processes: &[Process]) -> Option<CpuReading> {
    let mut total: Option<CpuReading> = None;
    for process in processes {
        let reading = process.cpu()?;
        total = Some(match total {
            Some(sum) => CpuReading {
                cpu_seconds: sum.cpu_seconds + reading.cpu_seconds,
                at: reading.at,
            },
            None => reading,
        });
    }
    total
}

/// Resident memory of several processes together, or `None` when one is gone or
/// there are none.
pub fn total_rss(processes: &[Process]) -> Option<u64> {
    let mut total: Option<u64> = None;
    for process in processes {
        total = Some(total.unwrap_or(0) + process.rss_bytes()?);
    }
    total
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// The machine, for the report: CPU model and how many cores this process may use.
pub fn machine() -> (String, usize) {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (model, cores)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        assert!(Process::This.cpu().is_some());
        assert!(Process::This.rss_bytes().is_some_and(|rss| rss > 0));
    }

    #[test]
    fn a_cluster_costs_the_sum_of_its_processes() {
        let one = Process::This.rss_bytes().unwrap_or(0);
        let two = total_rss(&[Process::This, Process::This]).unwrap_or(0);
        assert!(two >= 2 * one - one / 10, "{two} vs {one}");
        assert!(total_cpu(&[Process::This, Process::This]).is_some());
        assert_eq!(total_rss(&[]), None);
        assert!(total_cpu(&[]).is_none());
    }
}
