//! Which accepted connections the server keeps: at most so many per address, and none
//! that would eat into the file descriptors the process keeps in reserve. When the
//! process runs out of descriptors anyway, [`Reserve`] frees one to accept the waiting
//! connection and close it at once, so the listener's queue drains instead of the accept
//! loop spinning on the same error. It decides; the server loop accepts and drops.
use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex, MutexGuard},
};

/// File descriptors left for everything but HTTP connections: the database's pool,
/// the listener, log and asset files, the hashing and writer threads' files.
pub const HEADROOM: usize = 64;

/// Open HTTP connections, per address and overall.
pub struct Admission {
    per_address: usize,
    total: usize,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

impl Admission {
    /// At most `per_address` connections from one address, and as many overall as the
    /// process's descriptor limit leaves beside [`HEADROOM`] (and `reserved` more,
    /// which the caller keeps for other uses).
    pub fn new(per_address: usize, reserved: usize) -> Arc<Self> {
        let total = descriptor_limit()
            .saturating_sub(HEADROOM + reserved)
            .max(1);
        Arc::new(Self {
            per_address: per_address.max(1),
            total,
            open: Mutex::default(),
        })
    }

    fn open(&self) -> MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place for a connection from `address`, or `None` when it must be dropped.
    pub fn admit(self: &Arc<Self>, address: IpAddr) -> Option<Admitted> {
        let mut open = self.open();
        if open.total >= self.total {
            return None;
        }
        let mine = open.by_address.entry(address).or_insert(0);
        if *mine >= self.per_address {
            return None;
        }
        *mine += 1;
        open.total += 1;
        Some(Admitted {
            admission: self.clone(),
            address,
        })
    }
}

/// An admitted connection's place; given back when dropped.
pub struct Admitted {
    admission: Arc<Admission>,
    address: IpAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.admission.open();
        open.total = open.total.saturating_sub(1);
        if let Some(mine) = open.by_address.get_mut(&self.address) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                open.by_address.remove(&self.address);
            }
        }
    }
}

/// The process's soft limit on open files.
fn descriptor_limit() -> usize {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes one `rlimit`, which lives on this stack frame.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
            return usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX);
        }
    }
    usize::MAX
}

/// One descriptor held back, to be let go when the process has no other.
pub struct Reserve(Option<std::fs::File>);

impl Reserve {
    pub fn new() -> Self {
        Self(std::fs::File::open("/dev/null").ok())
    }

    /// Whether `error` from accept means the process is out of descriptors.
    pub fn is_exhaustion(error: &std::io::Error) -> bool {
        matches!(error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
    }

    /// Lets the held descriptor go (so one accept can succeed).
    pub fn release(&mut self) {
        self.0 = None;
    }

    /// Takes a descriptor back into reserve.
    pub fn refill(&mut self) {
        if self.0.is_none() {
            self.0 = std::fs::File::open("/dev/null").ok();
        }
    }
}

impl Default for Reserve {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_capped_per_address_and_given_back() {
        let admission = Admission::new(2, 0);
        let a = IpAddr::from([10, 0, 0, 1]);
        let first = admission.admit(a).expect("first");
        let _second = admission.admit(a).expect("second");
        assert!(admission.admit(a).is_none(), "a third from one address");
        assert!(admission.admit(IpAddr::from([10, 0, 0, 2])).is_some());
        drop(first);
        assert!(admission.admit(a).is_some());
    }
}
