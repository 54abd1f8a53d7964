//! `soak`: hearth under hours-long-looking churn, compressed into minutes. Starts a
//! hearth (release build) on a fresh SQLite database, keeps `--sockets` WebSockets
//! (2000) connecting and leaving continuously across `--rooms` rooms, posts at a
//! modest rate over HTTP, and samples the server's resident memory every few seconds.
//!
//! At the end it checks two things and exits non-zero if either fails:
//! - **No message lost**: every message whose post was answered 2xx reached every
//!   socket of its room that was connected throughout the send (ready before the post
//!   went out, and still open a grace period after the answer), once.
//! - **Memory comes back**: the server's RSS after the load has stopped and settled,
//!   and at the end of the soak while still loaded, are both within 10% of where it
//!   was at the start of the soak (after the fleet connected and warmed up).
//!
//! `just soak` runs it for 10 minutes; `--quick` is a 1-minute smoke run.
use std::{
    collections::HashSet,
    path::PathBuf,
    process::{ExitCode, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow, bail};
use clap::Parser;
use futures_util::StreamExt;
use hearth_bench::{
    procstat::Process,
    seed::{Population, Seat, run_tag, seed_database},
};
use tokio::{process::Child, sync::Semaphore, task::JoinSet};
use tokio_tungstenite::tungstenite::{
    Message, client::IntoClientRequest, http::HeaderValue, protocol::WebSocketConfig,
};

#[derive(Parser, Debug)]
#[command(
    name = "soak",
    about = "hearth under continuous socket churn: no message lost, memory comes back"
)]
struct Cli {
    /// The hearth binary to start (a release build).
    #[arg(long, value_name = "PATH", default_value = "target/release/hearth")]
    hearth_bin: PathBuf,
    /// How long the measured soak runs, after the fleet has connected and warmed up.
    #[arg(long, default_value_t = 10.0)]
    minutes: f64,
    /// A 1-minute smoke run (shorter warm-up and settle too).
    #[arg(long)]
    quick: bool,
    /// Sockets kept open at once.
    #[arg(long, default_value_t = 2000)]
    sockets: usize,
    /// Rooms they spread over.
    #[arg(long, default_value_t = 50)]
    rooms: usize,
    /// Posts per second in total, over HTTP.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Shortest stay of a socket before it leaves, in seconds.
    #[arg(long, default_value_t = 5.0)]
    min_stay: f64,
    /// Longest stay of a socket before it leaves, in seconds.
    #[arg(long, default_value_t = 45.0)]
    max_stay: f64,
    /// Seconds of load before the start figure is taken, and of quiet before the end one.
    #[arg(long, default_value_t = 30.0)]
    settle: f64,
    /// Seconds between memory samples.
    #[arg(long, default_value_t = 5.0)]
    sample_every: f64,
    /// Also write the results as JSON here.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
}

/// How long after its post was answered a message may take to reach a socket.
const DELIVERY_GRACE: Duration = Duration::from_secs(3);
/// Users who post (over HTTP), besides one user per socket slot.
const POSTERS: usize = 20;
/// Posts in flight at once at most.
const POSTS_AT_ONCE: usize = 32;
/// Memory may end at most this much above where it started.
const MEMORY_TOLERANCE: f64 = 0.10;

#[tokio::main]
async fn main() -> ExitCode {
    let mut cli = Cli::parse();
    if cli.quick {
        cli.minutes = 1.0;
        cli.settle = cli.settle.min(15.0);
    }
    match run(cli).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("soak: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// What the run found.
#[derive(serde::Serialize)]
struct Results {
    minutes: f64,
    sockets: usize,
    rooms: usize,
    rate: f64,
    connects: u64,
    connect_failures: u64,
    posts_answered: usize,
    posts_failed: u64,
    deliveries_expected: u64,
    deliveries_missing: u64,
    duplicates: u64,
    out_of_order: u64,
    rss_idle_before_mb: f64,
    rss_start_mb: f64,
    rss_peak_mb: f64,
    rss_loaded_end_mb: f64,
    rss_settled_end_mb: f64,
    /// (seconds since the soak started, MB) every sample.
    rss_samples: Vec<(f64, f64)>,
    memory_ok: bool,
    delivery_ok: bool,
}

async fn run(cli: Cli) -> anyhow::Result<bool> {
    let open_files = rlimit::increase_nofile_limit(u64::MAX)?;
    if open_files < (cli.sockets as u64) * 2 + 256 {
        bail!(
            "the open-files limit is {open_files}, too low for {} sockets on both ends: raise it (ulimit -n 65536)",
            cli.sockets
        );
    }
    if cli.rooms == 0 || cli.sockets == 0 {
        bail!("--rooms and --sockets must be above zero");
    }

    let dir = tempfile::Builder::new().prefix("hearth-soak-").tempdir()?;
    let database_url = format!("sqlite://{}?mode=rwc", dir.path().join("soak.db").display());
    eprintln!(
        "seeding {} users and {} rooms …",
        cli.sockets + POSTERS,
        cli.rooms
    );
    let population = seed_database(&database_url, cli.sockets + POSTERS, cli.rooms, &run_tag())
        .await
        .context("seeding the soak's users and rooms")?;
    let mut server = Server::start(&cli.hearth_bin, &database_url, dir.path()).await?;
    let result = soak(&cli, &server, population).await;
    let tail = server.log_tail();
    server.stop().await;
    let results = match result {
        Ok(results) => results,
        Err(e) => return Err(e.context(format!("hearth's log ends with:\n{tail}"))),
    };
    print_results(&results);
    if let Some(path) = &cli.json {
        std::fs::write(path, serde_json::to_string_pretty(&results)?)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(results.memory_ok && results.delivery_ok)
}

/// One socket's stay in a room.
struct Stay {
    room: usize,
    /// When the server had registered it (its first frame came).
    ready: Instant,
    /// When it started to leave.
    left: Instant,
    ids: Vec<i64>,
}

/// One post the server answered 2xx.
struct Post {
    room: usize,
    id: i64,
    sent: Instant,
    answered: Instant,
}

/// What every task shares.
struct Shared {
    authority: String,
    population: Population,
    stop_churn: AtomicBool,
    stop_posting: AtomicBool,
    open: AtomicUsize,
    connects: AtomicU64,
    connect_failures: AtomicU64,
    posts_failed: AtomicU64,
    stays: Mutex<Vec<Stay>>,
    posts: Mutex<Vec<Post>>,
    min_stay: f64,
    max_stay: f64,
}

async fn soak(cli: &Cli, server: &Server, population: Population) -> anyhow::Result<Results> {
    let process = Process::Pid(server.pid);
    let mb = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    let rss = || process.rss_bytes().map(mb);
    tokio::time::sleep(Duration::from_secs(2)).await; // let the server finish starting
    let idle_before = rss().context("the server is gone")?;
    eprintln!(
        "hearth idles at {idle_before:.1} MB; connecting {} sockets …",
        cli.sockets
    );

    let shared = Arc::new(Shared {
        authority: server.authority.clone(),
        population,
        stop_churn: AtomicBool::new(false),
        stop_posting: AtomicBool::new(false),
        open: AtomicUsize::new(0),
        connects: AtomicU64::new(0),
        connect_failures: AtomicU64::new(0),
        posts_failed: AtomicU64::new(0),
        stays: Mutex::new(Vec::new()),
        posts: Mutex::new(Vec::new()),
        min_stay: cli.min_stay,
        max_stay: cli.max_stay.max(cli.min_stay),
    });

    // The fleet: one task per socket slot, started over a ramp so handshakes spread out.
    let mut slots = JoinSet::new();
    let ramp = Duration::from_secs(20);
    for slot in 0..cli.sockets {
        let shared = shared.clone();
        let delay = ramp.mul_f64(slot as f64 / cli.sockets as f64);
        slots.spawn(async move {
            tokio::time::sleep(delay).await;
            socket_slot(slot, shared).await;
        });
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while shared.open.load(Ordering::Relaxed) < cli.sockets * 98 / 100 {
        if Instant::now() > deadline {
            bail!(
                "only {} of {} sockets open after two minutes ({} connects failed)",
                shared.open.load(Ordering::Relaxed),
                cli.sockets,
                shared.connect_failures.load(Ordering::Relaxed)
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "{} sockets open; posting {} messages a second, warming up for {:.0} s …",
        shared.open.load(Ordering::Relaxed),
        cli.rate,
        cli.settle
    );
    let poster = tokio::spawn(post_steadily(shared.clone(), cli.rooms, cli.rate));
    tokio::time::sleep(Duration::from_secs_f64(cli.settle)).await;

    let start = average_rss(&process).await.context("the server is gone")?;
    let soak_started = Instant::now();
    let length = Duration::from_secs_f64(cli.minutes * 60.0);
    let every = Duration::from_secs_f64(cli.sample_every.max(0.5));
    let mut samples = vec![(0.0, start)];
    let mut peak = start;
    eprintln!(
        "soak started: RSS {start:.1} MB, for {:.1} minutes",
        cli.minutes
    );
    while soak_started.elapsed() < length {
        tokio::time::sleep(every.min(length.saturating_sub(soak_started.elapsed()))).await;
        let Some(now) = rss() else {
            bail!("the server died during the soak")
        };
        let at = soak_started.elapsed().as_secs_f64();
        samples.push((at, now));
        peak = peak.max(now);
        eprintln!(
            "[{at:>5.0} s] {:>5} sockets open, {:>7} connects, {:>6} posts, RSS {now:.1} MB",
            shared.open.load(Ordering::Relaxed),
            shared.connects.load(Ordering::Relaxed),
            shared.posts.lock().expect("lock").len()
        );
    }
    let loaded_end = average_rss(&process).await.context("the server is gone")?;

    // Quiet down: no more posts, let the last ones arrive, then every socket leaves.
    shared.stop_posting.store(true, Ordering::Relaxed);
    poster.await.context("the poster")?;
    tokio::time::sleep(DELIVERY_GRACE + Duration::from_secs(1)).await;
    shared.stop_churn.store(true, Ordering::Relaxed);
    let closing = tokio::time::timeout(Duration::from_secs(60), async {
        while slots.join_next().await.is_some() {}
    })
    .await;
    if closing.is_err() {
        bail!("sockets still open a minute after they were told to leave");
    }
    eprintln!("every socket left; settling for {:.0} s …", cli.settle);
    tokio::time::sleep(Duration::from_secs_f64(cli.settle)).await;
    let settled_end = average_rss(&process).await.context("the server is gone")?;
    samples.push((soak_started.elapsed().as_secs_f64(), settled_end));

    let check = check_deliveries(&shared);
    let posts_answered = shared.posts.lock().expect("lock").len();
    let posts_failed = shared.posts_failed.load(Ordering::Relaxed);
    let within = |mb: f64| mb <= start * (1.0 + MEMORY_TOLERANCE);
    Ok(Results {
        minutes: cli.minutes,
        sockets: cli.sockets,
        rooms: cli.rooms,
        rate: cli.rate,
        connects: shared.connects.load(Ordering::Relaxed),
        connect_failures: shared.connect_failures.load(Ordering::Relaxed),
        posts_answered,
        posts_failed,
        deliveries_expected: check.expected,
        deliveries_missing: check.missing,
        duplicates: check.duplicates,
        out_of_order: check.out_of_order,
        rss_idle_before_mb: idle_before,
        rss_start_mb: start,
        rss_peak_mb: peak,
        rss_loaded_end_mb: loaded_end,
        rss_settled_end_mb: settled_end,
        rss_samples: samples,
        memory_ok: within(loaded_end) && within(settled_end),
        delivery_ok: check.missing == 0
            && check.duplicates == 0
            && check.out_of_order == 0
            && posts_failed == 0
            && posts_answered > 0
            && check.expected > 0,
    })
}

/// The mean of three samples a second apart, in MB.
async fn average_rss(process: &Process) -> Option<f64> {
    let mut total = 0.0;
    for i in 0..3 {
        if i > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        total += process.rss_bytes()? as f64 / (1024.0 * 1024.0);
    }
    Some(total / 3.0)
}

struct DeliveryCheck {
    expected: u64,
    missing: u64,
    duplicates: u64,
    out_of_order: u64,
}

/// Every answered post against every stay in its room that spanned it.
fn check_deliveries(shared: &Shared) -> DeliveryCheck {
    let posts = shared.posts.lock().expect("lock");
    let stays = shared.stays.lock().expect("lock");
    let mut by_room: Vec<Vec<&Post>> = Vec::new();
    for post in posts.iter() {
        if by_room.len() <= post.room {
            by_room.resize_with(post.room + 1, Vec::new);
        }
        by_room[post.room].push(post);
    }
    let mut check = DeliveryCheck {
        expected: 0,
        missing: 0,
        duplicates: 0,
        out_of_order: 0,
    };
    let mut examples = Vec::new();
    for stay in stays.iter() {
        let received: HashSet<i64> = stay.ids.iter().copied().collect();
        check.duplicates += (stay.ids.len() - received.len()) as u64;
        check.out_of_order += stay.ids.windows(2).filter(|w| w[1] <= w[0]).count() as u64;
        for post in by_room.get(stay.room).into_iter().flatten() {
            let spanned = post.sent >= stay.ready && post.answered + DELIVERY_GRACE <= stay.left;
            if !spanned {
                continue;
            }
            check.expected += 1;
            if !received.contains(&post.id) {
                check.missing += 1;
                if examples.len() < 5 {
                    examples.push(format!(
                        "message {} in room {} (sent {:.1} s after the socket was ready, answered {:.1} s before it left)",
                        post.id,
                        post.room,
                        post.sent.duration_since(stay.ready).as_secs_f64(),
                        stay.left.duration_since(post.answered).as_secs_f64()
                    ));
                }
            }
        }
    }
    for example in examples {
        eprintln!("missing: {example}");
    }
    check
}

/// A tiny xorshift generator: the soak needs spread, not statistics.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Self((seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ nanos) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One socket slot: joins a random room, stays a while reading every frame, leaves,
/// and does it again until told to stop.
async fn socket_slot(slot: usize, shared: Arc<Shared>) {
    let seat = shared.population.seats[POSTERS + slot].clone();
    let rooms = shared.population.rooms.len();
    let mut rng = Rng::new(slot as u64);
    while !shared.stop_churn.load(Ordering::Relaxed) {
        let room = (rng.next() % rooms as u64) as usize;
        let stay_for = Duration::from_secs_f64(
            shared.min_stay + rng.unit() * (shared.max_stay - shared.min_stay),
        );
        if let Some(stay) = visit(&shared, &seat, room, stay_for).await {
            shared.stays.lock().expect("lock").push(stay);
        } else {
            shared.connect_failures.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// One stay: `None` if the socket could not be opened (or never became ready).
async fn visit(shared: &Shared, seat: &Seat, room: usize, stay_for: Duration) -> Option<Stay> {
    let conversation = shared.population.rooms[room];
    let mut request = format!("ws://{}/ws?conversation={conversation}", shared.authority)
        .into_client_request()
        .ok()?;
    let headers = request.headers_mut();
    headers.insert("Cookie", HeaderValue::from_str(&seat.cookie).ok()?);
    headers.insert(
        "Origin",
        HeaderValue::from_str(&format!("http://{}", shared.authority)).ok()?,
    );
    let config = WebSocketConfig::default().max_message_size(Some(1 << 20));
    let connecting = tokio_tungstenite::connect_async_with_config(request, Some(config), false);
    let (mut ws, _) = tokio::time::timeout(Duration::from_secs(20), connecting)
        .await
        .ok()?
        .ok()?;
    shared.connects.fetch_add(1, Ordering::Relaxed);
    // The server registers the socket before it sends anything: the first frame (the
    // sidebar) says it is in the room.
    let first = tokio::time::timeout(Duration::from_secs(20), ws.next()).await;
    if !matches!(first, Ok(Some(Ok(_)))) {
        return None;
    }
    let ready = Instant::now();
    shared.open.fetch_add(1, Ordering::Relaxed);
    let mut ids = Vec::new();
    let until = tokio::time::Instant::now() + stay_for;
    loop {
        if shared.stop_churn.load(Ordering::Relaxed) {
            break;
        }
        // Wake at least every second to notice the stop.
        let wake = until.min(tokio::time::Instant::now() + Duration::from_secs(1));
        match tokio::time::timeout_at(wake, ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => ids.extend(message_ids_in(text.as_str())),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_)) | None) => break, // closed by the server
            Err(_) if tokio::time::Instant::now() >= until => break,
            Err(_) => {}
        }
    }
    let left = Instant::now();
    shared.open.fetch_sub(1, Ordering::Relaxed);
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = ws.close(None).await;
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
    Some(Stay {
        room,
        ready,
        left,
        ids,
    })
}

/// Message ids in a frame (`id="message-N"`), in order.
fn message_ids_in(frame: &str) -> Vec<i64> {
    const ID: &str = "id=\"message-";
    frame
        .match_indices(ID)
        .filter_map(|(at, _)| {
            let rest = &frame[at + ID.len()..];
            rest[..rest.find('"')?].parse().ok()
        })
        .collect()
}

/// Posts at `rate` per second in total, each by one of the posters into a random room,
/// as htmx does; records what was answered 2xx.
async fn post_steadily(shared: Arc<Shared>, rooms: usize, rate: f64) {
    let Ok(http) = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
    else {
        return;
    };
    let gap = Duration::from_secs_f64(1.0 / rate.max(0.1));
    let mut tick = tokio::time::interval(gap);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let in_flight = Arc::new(Semaphore::new(POSTS_AT_ONCE));
    let mut rng = Rng::new(u64::MAX);
    let mut posts = JoinSet::new();
    let mut seq: u64 = 0;
    while !shared.stop_posting.load(Ordering::Relaxed) {
        tick.tick().await;
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            break;
        };
        seq += 1;
        let room = (rng.next() % rooms as u64) as usize;
        let poster = shared.population.seats[(seq as usize) % POSTERS].clone();
        let (http, shared) = (http.clone(), shared.clone());
        posts.spawn(async move {
            let _permit = permit;
            let conversation = shared.population.rooms[room];
            let sent = Instant::now();
            let answer = http
                .post(format!(
                    "http://{}/conversations/{conversation}/messages",
                    shared.authority
                ))
                .header("Cookie", &poster.cookie)
                .header("X-CSRF-Token", &poster.csrf)
                .header("HX-Request", "true")
                .form(&[("body", format!("soak message {seq}"))])
                .send()
                .await;
            let id = match answer {
                Ok(resp) if resp.status().is_success() => resp
                    .text()
                    .await
                    .ok()
                    .and_then(|text| message_ids_in(&text).first().copied()),
                _ => None,
            };
            match id {
                Some(id) => shared.posts.lock().expect("lock").push(Post {
                    room,
                    id,
                    sent,
                    answered: Instant::now(),
                }),
                None => {
                    shared.posts_failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        while posts.try_join_next().is_some() {}
    }
    while posts.join_next().await.is_some() {}
}

fn print_results(r: &Results) {
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    println!();
    println!(
        "soak: {:.1} minutes, {} sockets churning over {} rooms, {} posts/s",
        r.minutes, r.sockets, r.rooms, r.rate
    );
    println!(
        "  sockets: {} connects, {} failed",
        r.connects, r.connect_failures
    );
    println!(
        "  posts: {} answered 2xx, {} failed",
        r.posts_answered, r.posts_failed
    );
    println!(
        "  deliveries: {} expected, {} missing, {} duplicated, {} out of order  [{}]",
        r.deliveries_expected,
        r.deliveries_missing,
        r.duplicates,
        r.out_of_order,
        verdict(r.delivery_ok)
    );
    let pct = |mb: f64| (mb / r.rss_start_mb - 1.0) * 100.0;
    println!("  RSS idle before load: {:.1} MB", r.rss_idle_before_mb);
    println!(
        "  RSS at the start (loaded, warmed up): {:.1} MB",
        r.rss_start_mb
    );
    println!(
        "  RSS peak: {:.1} MB ({:+.1}%)",
        r.rss_peak_mb,
        pct(r.rss_peak_mb)
    );
    println!(
        "  RSS at the end, still loaded: {:.1} MB ({:+.1}%)",
        r.rss_loaded_end_mb,
        pct(r.rss_loaded_end_mb)
    );
    println!(
        "  RSS at the end, load gone and settled: {:.1} MB ({:+.1}%)",
        r.rss_settled_end_mb,
        pct(r.rss_settled_end_mb)
    );
    println!(
        "  memory within {:.0}% of the start: {}",
        MEMORY_TOLERANCE * 100.0,
        verdict(r.memory_ok)
    );
}

/// The hearth under test: started here, on the seeded database, stopped at the end.
struct Server {
    child: Child,
    pid: u32,
    authority: String,
    log: PathBuf,
}

impl Server {
    async fn start(
        binary: &std::path::Path,
        database_url: &str,
        dir: &std::path::Path,
    ) -> anyhow::Result<Self> {
        if !binary.exists() {
            bail!(
                "{} does not exist: build it first (cargo build --release -p hearth)",
                binary.display()
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let authority = format!("127.0.0.1:{port}");
        let log = dir.join("hearth.log");
        let file = std::fs::File::create(&log)?;
        let child = tokio::process::Command::new(binary)
            .args([
                "serve",
                "--addr",
                &authority,
                "--database-url",
                database_url,
            ])
            // The posters post far more than one person's burst allows.
            .env("HEARTH_MESSAGE_BURST", "10000000")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let pid = child.id().ok_or_else(|| anyhow!("hearth exited at once"))?;
        let mut server = Self {
            child,
            pid,
            authority,
            log,
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let up = http
                .get(format!("http://{}/healthz", server.authority))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if up {
                eprintln!("hearth is up at {} (pid {})", server.authority, server.pid);
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                bail!("hearth exited ({status}):\n{}", server.log_tail());
            }
            if Instant::now() > deadline {
                server.stop().await;
                bail!("hearth did not come up within a minute");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// SIGTERM, then SIGKILL if it is not gone in 15 s.
    async fn stop(&mut self) {
        // SAFETY: kill(2) on the pid of our own child, which we have not reaped.
        unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGTERM) };
        if tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}
