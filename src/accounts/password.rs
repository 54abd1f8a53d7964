//! Password hashing with argon2id at OWASP's parameters (19 MiB, 2 passes, 1 lane).
//! Hashing takes tens of milliseconds of CPU, so it never runs on the async workers,
//! where it would stall every socket on that thread. It runs on hashing threads of its
//! own: one fewer than the cores (at least one), in the idle scheduling class and off
//! the first core, so that a storm of log-ins queues here and takes only the CPU the
//! chat leaves (and 19 MiB per hash, a bounded number of times, in other caches than
//! one core's). How many hashes may wait here is [`crate::limits`]'s: a request
//! without a turn is refused before it queues.
//!
//! Each hash's 19 MiB are mapped for it and unmapped when it ends ([`MappedArgon2`]):
//! taken from the allocator, they would stay resident on an idle hashing thread long
//! after the last log-in (the allocator returns freed pages only as it works).
use std::sync::{Arc, LazyLock, Mutex, mpsc};

use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
    password_hash::{self, Decimal, Ident, Output, ParamsString, Salt, SaltString},
};

use super::Password;
use crate::{error::AppError, limits::HashingTurn};

fn hasher() -> MappedArgon2 {
    // The parameters are constants within argon2's limits, so this cannot fail.
    MappedArgon2(Params::new(19 * 1024, 2, 1, None).unwrap_or_default())
}

/// argon2id at the given parameters, with its working memory mapped for each hash.
/// Hashes and verifies exactly as [`Argon2`] does (the PHC strings are the same).
struct MappedArgon2(Params);

impl PasswordHasher for MappedArgon2 {
    type Params = Params;

    fn hash_password<'a>(
        &self,
        password: &[u8],
        salt: impl Into<Salt<'a>>,
    ) -> password_hash::Result<PasswordHash<'a>> {
        self.hash_password_customized(password, None, None, self.0.clone(), salt)
    }

    fn hash_password_customized<'a>(
        &self,
        password: &[u8],
        algorithm: Option<Ident<'a>>,
        version: Option<Decimal>,
        params: Params,
        salt: impl Into<Salt<'a>>,
    ) -> password_hash::Result<PasswordHash<'a>> {
        let algorithm = algorithm
            .map(Algorithm::try_from)
            .transpose()?
            .unwrap_or(Algorithm::Argon2id);
        let version = version
            .map(Version::try_from)
            .transpose()?
            .unwrap_or(Version::V0x13);
        let salt = salt.into();
        let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
        let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
        let memory = MappedBlocks::new(params.block_count())?;
        let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let argon2 = Argon2::new(algorithm, version, params.clone());
        let output = Output::init_with(output_len, |out| {
            Ok(argon2.hash_password_into_with_memory(password, salt_bytes, out, memory)?)
        })?;
        Ok(PasswordHash {
            algorithm: algorithm.ident(),
            version: Some(version.into()),
            params: ParamsString::try_from(&params)?,
            salt: Some(salt),
            hash: Some(output),
        })
    }
}

/// argon2's blocks in an anonymous mapping of their own, returned to the system when
/// dropped.
struct MappedBlocks(memmap2::MmapMut);

impl MappedBlocks {
    fn new(count: usize) -> password_hash::Result<Self> {
        let bytes =
            count
                .checked_mul(Block::SIZE)
                .ok_or(password_hash::Error::ParamValueInvalid(
                    password_hash::errors::InvalidValue::TooLong,
                ))?;
        let map = memmap2::MmapMut::map_anon(bytes).map_err(|_| password_hash::Error::Crypto)?;
        Ok(Self(map))
    }
}

impl AsMut<[Block]> for MappedBlocks {
    fn as_mut(&mut self) -> &mut [Block] {
        // SAFETY: the mapping is page-aligned (more than a Block's alignment), zeroed,
        // and a whole number of Blocks long; a Block is plain u64s, valid for any bytes;
        // the slice borrows `self`, so the mapping outlives it.
        let (before, blocks, _) = unsafe { self.0.align_to_mut::<Block>() };
        debug_assert!(before.is_empty());
        blocks
    }
}

/// A hash of a password nobody knows. Logging in as a user that does not exist checks
/// against it, so that a missing user costs one hash like a wrong password does and the
/// answer's timing does not tell who has an account.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    hasher()
        .hash_password(b"not a real password, for timing only", &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
});

type Job = Box<dyn FnOnce() + Send>;

/// The queue of the hashing threads, started on first use.
static HASHERS: LazyLock<mpsc::Sender<Job>> = LazyLock::new(start_hashers);

fn start_hashers() -> mpsc::Sender<Job> {
    let (jobs, queue) = mpsc::channel::<Job>();
    let queue = Arc::new(Mutex::new(queue));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for n in 0..cores.saturating_sub(1).max(1) {
        let queue = queue.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("hearth-hash-{n}"))
            .spawn(move || {
                lower_priority();
                keep_off_first_core();
                loop {
                    let job = match queue.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return, // the server is gone
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start a hashing thread");
        }
    }
    jobs
}

/// The calling thread runs only when no other thread of the machine wants the CPU
/// (Linux's SCHED_IDLE class), at nice 19 besides. Nice 19 alone only weighs a thread
/// down: under a log-in storm a niced hashing thread still held a core from chat
/// threads that had just woken, and the chat's tail latency rose several times over
/// (figures in `bench/RESULTS.md`).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority take no pointers; on Linux a thread's nice
        // value is its own, named by its thread id. sched_setscheduler only reads the
        // `sched_param`, which outlives the call; pid 0 names the calling thread.
        let (niced, idle) = unsafe {
            let thread = libc::syscall(libc::SYS_gettid) as libc::id_t;
            let niced = libc::setpriority(libc::PRIO_PROCESS, thread, 19);
            let param = libc::sched_param { sched_priority: 0 };
            (niced, libc::sched_setscheduler(0, libc::SCHED_IDLE, &param))
        };
        if niced != 0 || idle != 0 {
            tracing::warn!("cannot lower the hashing thread's priority");
        }
    }
}

/// Keeps the calling thread off the first CPU this process may use, when it may use
/// more than one. argon2 streams 19 MiB through the caches of whichever core it runs
/// on, and the chat threads that wake on that core after it (the idle class lets them
/// in at once) start with cold caches. Kept to the other cores, hashing leaves one
/// core's caches to the chat, which halved the chat's tail latency during a log-in
/// storm (`bench/RESULTS.md`).
fn keep_off_first_core() {
    #[cfg(target_os = "linux")]
    {
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: a zeroed cpu_set_t is an empty set; the calls read or write exactly
        // `size` bytes of the sets they are given, which live on this stack frame; pid
        // 0 names the calling thread.
        let applied = unsafe {
            let mut allowed: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, size, &mut allowed) != 0 {
                return;
            }
            if libc::CPU_COUNT(&allowed) < 2 {
                return;
            }
            let Some(first) =
                (0..libc::CPU_SETSIZE as usize).find(|&cpu| libc::CPU_ISSET(cpu, &allowed))
            else {
                return;
            };
            libc::CPU_CLR(first, &mut allowed);
            libc::sched_setaffinity(0, size, &allowed)
        };
        if applied != 0 {
            tracing::warn!("cannot keep the hashing thread off the first core");
        }
    }
}

/// Runs `work` on a hashing thread; answers what it returns. The `turn` is held until
/// the work is done, even when the request is dropped while the job waits: it bounds
/// what is queued here, not only what is awaited.
async fn hashing<T: Send + 'static>(
    turn: HashingTurn,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = reply.send(work());
        drop(turn);
    });
    if let Err(mpsc::SendError(job)) = HASHERS.send(job) {
        // No hashing thread could start: the blocking pool does it instead.
        tokio::task::spawn_blocking(job);
    }
    answer
        .await
        .map_err(|_| AppError::Internal("the hashing thread stopped".into()))
}

pub async fn hash(password: Password, turn: HashingTurn) -> Result<String, AppError> {
    hashing(turn, move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        hasher()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(format!("hashing failed: {e}")))
    })
    .await?
}

/// Checks `password` against `stored`, or against a dummy hash when there is no user,
/// taking about the same time either way.
pub async fn verify(
    password: String,
    stored: Option<String>,
    turn: HashingTurn,
) -> Result<bool, AppError> {
    hashing(turn, move || {
        let (hash, real) = match stored {
            Some(hash) => (hash, true),
            None => (DUMMY_HASH.clone(), false),
        };
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return false;
        };
        let matches = hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        matches && real
    })
    .await
}

/// Computes the dummy hash now, so the first log-in for a missing user is not the one
/// request that pays for it.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain() -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, hasher().0)
    }

    #[test]
    fn mapped_hashes_are_argon2s_own_both_ways() {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let mapped = hasher()
            .hash_password(b"correct horse", &salt)
            .map(|h| h.to_string())
            .expect("a mapped hash");
        let own = plain()
            .hash_password(b"correct horse", &salt)
            .map(|h| h.to_string())
            .expect("argon2's hash");
        assert_eq!(mapped, own);

        let stored = PasswordHash::new(&own).expect("a PHC string");
        assert!(hasher().verify_password(b"correct horse", &stored).is_ok());
        assert!(hasher().verify_password(b"wrong horse", &stored).is_err());
        let stored = PasswordHash::new(&mapped).expect("a PHC string");
        assert!(plain().verify_password(b"correct horse", &stored).is_ok());
    }
}
