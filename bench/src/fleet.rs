//! A fleet of sockets under load: opening them, posting at a set rate, and checking
//! every frame that arrives.
//!
//! ## Shape
//! Socket `i` belongs to room `i % rooms` (so consecutive senders fall in different
//! rooms) and is user `i`. Against hearth it is `/ws?conversation={room id}` with that
//! user's session cookie; against limit-server `/room/{k}`. Senders take turns in
//! index order, so at `rate` messages per second in total each user posts every
//! `sockets / rate` seconds: at most once a second as long as `rate <= sockets`.
//!
//! ## What a post carries
//! The body is `"{sender} {seq} {stamp}"`: the sender's socket index, the message's
//! sequence number within its room, and when it was sent, in nanoseconds on this
//! process's monotonic clock. The stamp is taken when the scheduler hands the post out,
//! so a server that stops reading (and stalls the send) shows up as latency rather
//! than as a quietly slower rate. Over the socket the frame is hearth's
//! `{"type":"message","body":…}` (limit-server echoes it as it is); over HTTP it is
//! `POST /conversations/{id}/messages` as htmx sends it.
//!
//! ## What is checked on arrival
//! Every socket parses every frame: hearth's `id="message-N"` articles and their
//! `message-body`, or limit-server's echoed JSON. For messages sent inside the measured
//! window it records the latency from the stamp to now, whether it has seen that
//! (room, seq) before (a duplicate), whether it came after a later message of the same
//! sender or, on hearth, after a higher message id (out of order), and whether it came
//! from another room (misrouted). Loss is what is left of `sent × room size` once the
//! drain is over.
//!
//! Warm-up traffic flows like the rest but falls outside the window, so it counts for
//! nothing.
//!
//! ## Several server processes
//! With `processes > 1` (hearth on PostgreSQL, the scale-out case) the members of each
//! room take turns among the processes: member `m` connects to process `m % processes`,
//! and so posts. Each delivery is then also recorded as same-process (sender and
//! recipient on one process) or cross-process, so the run tells what crossing adds.
use std::{
    sync::{
        Arc, LazyLock, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow};
use futures_util::{SinkExt, StreamExt, stream};
use hdrhistogram::Histogram;
use memchr::{memchr, memmem::Finder};
use serde::Serialize;
use tokio::{net::TcpStream, sync::mpsc, task::JoinSet};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{
        Message, client::IntoClientRequest, http::HeaderValue, protocol::WebSocketConfig,
    },
};

use crate::{
    procstat::{CpuReading, Process, total_cpu, total_rss},
    seed::Population,
    servers::ServerKind,
};

/// Handshakes in flight at once while a fleet connects (the server's accept backlog
/// and the loadgen's 2 cores both like it bounded).
const CONNECTS_AT_ONCE: usize = 64;
const CONNECT_ATTEMPTS: usize = 3;
/// Attempts in all when the server answers 503 (busy with other handshakes).
const BUSY_ATTEMPTS: usize = 30;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// HTTP posts in flight at once.
const HTTP_POSTS_AT_ONCE: usize = 256;
/// Latency histogram shards (sockets record into `index % SHARDS`).
const SHARDS: usize = 16;
/// The largest latency the histograms hold; longer ones are recorded as this.
const MAX_LATENCY_US: u64 = 120_000_000;
/// How often the scheduler wakes to hand out the posts that are due.
const TICK: Duration = Duration::from_millis(1);
/// How often the server's memory is sampled during a step.
const RSS_EVERY: Duration = Duration::from_millis(500);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How many sockets, in how many rooms.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Layout {
    pub sockets: usize,
    pub rooms: usize,
    /// Server processes the sockets are spread over (1 but for the scale-out scenario).
    pub processes: usize,
    /// People the sockets belong to, each holding the same number of consecutive
    /// sockets (in different rooms, as tabs do); 0: one person per socket.
    pub people: usize,
}

impl Layout {
    pub fn room_of(&self, socket: usize) -> usize {
        socket % self.rooms
    }

    /// The socket's place among its room's members.
    pub fn member_of(&self, socket: usize) -> usize {
        socket / self.rooms
    }

    pub fn room_size(&self, room: usize) -> usize {
        self.sockets / self.rooms + usize::from(room < self.sockets % self.rooms)
    }

    pub fn largest_room(&self) -> usize {
        self.sockets.div_ceil(self.rooms)
    }

    /// People to sign in: one per socket unless the layout shares them.
    pub fn people_needed(&self) -> usize {
        if self.people == 0 {
            self.sockets
        } else {
            self.people.min(self.sockets)
        }
    }

    /// Whose socket `socket` is, as an index into the population's seats.
    pub fn seat_of(&self, socket: usize) -> usize {
        socket / self.sockets.div_ceil(self.people_needed().max(1))
    }

    /// Which server process socket `socket` connects (and posts) to.
    pub fn process_of(&self, socket: usize) -> usize {
        self.member_of(socket) % self.processes.max(1)
    }
}

/// How posts reach the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
pub enum PostOver {
    /// `{"type":"message","body":…}` on the poster's own socket.
    #[serde(rename = "socket")]
    Socket,
    /// `POST /conversations/{id}/messages` with `HX-Request` and `X-CSRF-Token`
    /// (hearth only; limit-server has no HTTP, so its posts stay on the socket).
    #[serde(rename = "http")]
    Http,
}

/// Where a fleet connects and who its sockets are.
pub struct Target {
    pub kind: ServerKind,
    /// `127.0.0.1:PORT` of each server process (one but for the scale-out scenario).
    pub authorities: Vec<String>,
    /// hearth's users and rooms; empty for limit-server.
    pub population: Population,
}

impl Target {
    /// Where socket `index` connects and posts.
    fn authority(&self, layout: &Layout, index: usize) -> anyhow::Result<&str> {
        self.authorities
            .get(layout.process_of(index))
            .map(String::as_str)
            .ok_or_else(|| anyhow!("no server process for socket {index}"))
    }

    fn socket_request(
        &self,
        layout: &Layout,
        index: usize,
    ) -> anyhow::Result<tokio_tungstenite::tungstenite::handshake::client::Request> {
        let room = layout.room_of(index);
        let authority = self.authority(layout, index)?;
        let url = match self.kind {
            ServerKind::Hearth => {
                let conversation = self
                    .population
                    .rooms
                    .get(room)
                    .ok_or_else(|| anyhow!("no room {room} was prepared"))?;
                format!("ws://{authority}/ws?conversation={conversation}")
            }
            ServerKind::Limit => format!("ws://{authority}/room/{room}"),
        };
        let mut request = url.into_client_request()?;
        if self.kind == ServerKind::Hearth {
            let seat = self
                .population
                .seats
                .get(layout.seat_of(index))
                .ok_or_else(|| anyhow!("no user for socket {index} was prepared"))?;
            request
                .headers_mut()
                .insert("Cookie", HeaderValue::from_str(&seat.cookie)?);
        }
        Ok(request)
    }
}

/// One post, as the scheduler hands it to a socket.
#[derive(Clone, Copy, Debug)]
struct Post {
    seq: u64,
    stamp_ns: u64,
}

/// The body of a post: `"{sender} {seq} {stamp}"`.
pub fn post_body(sender: usize, seq: u64, stamp_ns: u64) -> String {
    format!("{sender} {seq} {stamp_ns}")
}

/// A post's body taken apart again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival {
    pub sender: usize,
    pub seq: u64,
    pub stamp_ns: u64,
    /// hearth's message id, from `id="message-N"`.
    pub message_id: Option<i64>,
}

fn parse_body(body: &str, message_id: Option<i64>) -> Option<Arrival> {
    let mut parts = body.split(' ');
    let sender = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    let stamp_ns = parts.next()?.parse().ok()?;
    Some(Arrival {
        sender,
        seq,
        stamp_ns,
        message_id,
    })
}

/// What a hearth frame says to the load generator.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct HearthFrame {
    pub arrivals: Vec<Arrival>,
    /// The composer's answer to a post over this socket: `Some("")` when the post was
    /// taken, `Some(reason)` when it was refused.
    pub composer: Option<String>,
}

/// Reads the messages (`id="message-N"` … `class="message-body" …><p>BODY<`) and the
/// composer's answer out of a frame hearth sent.
///
/// This runs for every frame at every socket, on the cores the server under test
/// uses too, so its cost is part of what a run measures. The patterns are compiled
/// once (`memmem`, SIMD) rather than set up again on every search, and a frame that
/// carried messages is not searched again for the composer's answer, which hearth
/// sends in a frame of its own. A profile of (a) at 600 msg/s had `str::find`
/// and its searcher's set-up at a seventh of the load generator's CPU.
pub fn read_hearth_frame(frame: &str) -> HearthFrame {
    static ID: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("id=\"message-"));
    static BODY: LazyLock<Finder<'static>> =
        LazyLock::new(|| Finder::new("class=\"message-body\""));
    static COMPOSER: LazyLock<Finder<'static>> =
        LazyLock::new(|| Finder::new("id=\"composer-error\""));
    let mut read = HearthFrame::default();
    let mut rest = frame;
    while let Some(at) = ID.find(rest.as_bytes()) {
        rest = &rest[at + ID.needle().len()..];
        let id = memchr(b'"', rest.as_bytes()).and_then(|end| rest[..end].parse().ok());
        let Some(body_at) = BODY.find(rest.as_bytes()) else {
            break;
        };
        rest = &rest[body_at + BODY.needle().len()..];
        // The body's text follows its opening tag and the paragraph's: `…"><p>TEXT<`.
        while let Some(open) = memchr(b'>', rest.as_bytes()) {
            rest = &rest[open + 1..];
            if !rest.starts_with('<') {
                break;
            }
        }
        let body = &rest[..memchr(b'<', rest.as_bytes()).unwrap_or(rest.len())];
        if let Some(arrival) = parse_body(body, id) {
            read.arrivals.push(arrival);
        }
    }
    if !read.arrivals.is_empty() {
        return read;
    }
    if let Some(at) = COMPOSER.find(frame.as_bytes()) {
        let after = &frame[at..];
        let text = after
            .find('>')
            .map(|open| &after[open + 1..])
            .map(|inner| &inner[..inner.find("</p>").unwrap_or(inner.len())])
            .unwrap_or_default();
        read.composer = Some(text.trim().to_owned());
    }
    read
}

/// Reads the post out of a frame limit-server echoed.
pub fn read_limit_frame(frame: &str) -> Option<Arrival> {
    const BODY: &str = "\"body\":\"";
    let start = frame.find(BODY)? + BODY.len();
    let len = frame[start..].find('"')?;
    parse_body(&frame[start..start + len], None)
}

/// What one socket has seen, to tell duplicates and disorder.
struct SeenLog {
    /// One bit per sequence number of the socket's room.
    seqs: Vec<u64>,
    /// Per member of the room: the highest sequence number seen from them, plus one.
    last_from_member: Vec<u64>,
    last_message_id: i64,
}

#[derive(Debug, PartialEq, Eq)]
enum Seen {
    First { in_order: bool },
    Again,
}

impl SeenLog {
    fn new(members: usize) -> Self {
        Self {
            seqs: Vec::new(),
            last_from_member: vec![0; members],
            last_message_id: 0,
        }
    }

    fn observe(&mut self, member: usize, seq: u64, message_id: Option<i64>) -> Seen {
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if word >= self.seqs.len() {
            self.seqs.resize(word + 1, 0);
        }
        if self.seqs[word] & (1 << bit) != 0 {
            return Seen::Again;
        }
        self.seqs[word] |= 1 << bit;
        let mut in_order = true;
        if let Some(last) = self.last_from_member.get_mut(member) {
            in_order &= seq + 1 > *last;
            *last = (*last).max(seq + 1);
        }
        if let Some(id) = message_id {
            in_order &= id > self.last_message_id;
            self.last_message_id = self.last_message_id.max(id);
        }
        Seen::First { in_order }
    }
}

/// The counters and histograms every socket of a fleet records into. Reset between
/// steps, when nothing is in flight.
struct Meter {
    clock: Instant,
    window_start_ns: AtomicU64,
    window_end_ns: AtomicU64,
    latency_us: Vec<Mutex<Histogram<u64>>>,
    /// With several processes: deliveries whose sender posted to the recipient's own
    /// process, and those that crossed to another.
    same_process_us: Mutex<Histogram<u64>>,
    cross_process_us: Mutex<Histogram<u64>>,
    delivered: AtomicU64,
    duplicates: AtomicU64,
    out_of_order: AtomicU64,
    misrouted: AtomicU64,
    refused: AtomicU64,
    send_failures: AtomicU64,
    http_errors: AtomicU64,
    /// Posts sent (taken by the server, for HTTP) inside the window, per room.
    sent_in_window: Vec<AtomicU64>,
    /// Posts handed out but not yet sent or failed.
    posts_pending: AtomicU64,
    open_sockets: AtomicUsize,
    first_refusal: Mutex<Option<String>>,
}

impl Meter {
    fn new(rooms: usize) -> anyhow::Result<Self> {
        let histogram = || Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).map(Mutex::new);
        Ok(Self {
            clock: Instant::now(),
            window_start_ns: AtomicU64::new(u64::MAX),
            window_end_ns: AtomicU64::new(u64::MAX),
            latency_us: (0..SHARDS).map(|_| histogram()).collect::<Result<_, _>>()?,
            same_process_us: histogram()?,
            cross_process_us: histogram()?,
            delivered: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            out_of_order: AtomicU64::new(0),
            misrouted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            send_failures: AtomicU64::new(0),
            http_errors: AtomicU64::new(0),
            sent_in_window: (0..rooms).map(|_| AtomicU64::new(0)).collect(),
            posts_pending: AtomicU64::new(0),
            open_sockets: AtomicUsize::new(0),
            first_refusal: Mutex::new(None),
        })
    }

    fn now_ns(&self) -> u64 {
        self.clock.elapsed().as_nanos() as u64
    }

    fn in_window(&self, stamp_ns: u64) -> bool {
        stamp_ns >= self.window_start_ns.load(Ordering::Relaxed)
            && stamp_ns < self.window_end_ns.load(Ordering::Relaxed)
    }

    fn reset(&self) {
        for shard in self
            .latency_us
            .iter()
            .chain([&self.same_process_us, &self.cross_process_us])
        {
            lock(shard).reset();
        }
        for counter in [
            &self.delivered,
            &self.duplicates,
            &self.out_of_order,
            &self.misrouted,
            &self.refused,
            &self.send_failures,
            &self.http_errors,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
        for sent in &self.sent_in_window {
            sent.store(0, Ordering::Relaxed);
        }
        *lock(&self.first_refusal) = None;
    }

    fn refusal(&self, reason: String) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        lock(&self.first_refusal).get_or_insert(reason);
    }

    fn sent(&self, room: usize, stamp_ns: u64) {
        if self.in_window(stamp_ns) {
            if let Some(sent) = self.sent_in_window.get(room) {
                sent.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One step of load: a rate held for a while, measured after a warm-up.
#[derive(Clone, Debug)]
pub struct StepPlan {
    /// Posts per second, all senders together.
    pub rate: f64,
    pub warmup: Duration,
    pub measure: Duration,
    /// How long to wait after the window for messages still on their way; what has
    /// not arrived by then is lost.
    pub drain_limit: Duration,
    pub post_over: PostOver,
}

/// Latencies in milliseconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
    pub samples: u64,
}

impl Latency {
    pub fn of(histogram: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            p50: ms(histogram.value_at_quantile(0.50)),
            p90: ms(histogram.value_at_quantile(0.90)),
            p99: ms(histogram.value_at_quantile(0.99)),
            p999: ms(histogram.value_at_quantile(0.999)),
            max: ms(histogram.max()),
            mean: histogram.mean() / 1000.0,
            samples: histogram.len(),
        }
    }
}

/// What one step measured.
#[derive(Clone, Debug, Serialize)]
pub struct StepResult {
    /// The rate asked for, posts per second.
    pub rate: f64,
    /// The rate sent inside the window.
    pub achieved_rate: f64,
    /// Deliveries per second the sent posts called for (posts × room size).
    pub deliveries_per_second: f64,
    pub measured_seconds: f64,
    pub latency_ms: Latency,
    /// With several server processes: latency when sender and recipient share a
    /// process, and when the message crossed between processes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_process_latency_ms: Option<Latency>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cross_process_latency_ms: Option<Latency>,
    pub expected: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub misrouted: u64,
    /// Posts the server answered with a refusal (hearth's composer error).
    pub refused: u64,
    pub first_refusal: Option<String>,
    pub send_failures: u64,
    pub http_errors: u64,
    /// Sockets of the fleet that were no longer open at the end of the step (the
    /// server closed them, or they broke).
    pub sockets_closed: u64,
    /// Server CPU over the window, in cores (1.0 = one core busy).
    pub server_cpu_cores: Option<f64>,
    /// The server's largest resident memory seen during the step.
    pub server_peak_rss_bytes: Option<u64>,
    /// The load generator's own CPU over the window, in cores.
    pub loadgen_cpu_cores: f64,
    /// How late the scheduler handed out posts at worst (the load generator falling
    /// behind shows here).
    pub max_dispatch_lag_ms: f64,
    pub drain_seconds: f64,
}

impl StepResult {
    /// Whether the step held: everything delivered once and in order, nothing refused,
    /// p99 within `p99_limit_ms`.
    pub fn sustained(&self, p99_limit_ms: f64) -> bool {
        self.problems(p99_limit_ms).is_empty()
    }

    /// What went wrong, in words; empty when the step held.
    pub fn problems(&self, p99_limit_ms: f64) -> Vec<String> {
        let mut problems = Vec::new();
        if self.expected == 0 {
            problems.push("nothing was sent in the window".to_owned());
        }
        if self.latency_ms.p99 > p99_limit_ms {
            problems.push(format!(
                "p99 {:.1} ms > {p99_limit_ms} ms",
                self.latency_ms.p99
            ));
        }
        problems.extend(counted(&[
            (self.lost, "lost"),
            (self.duplicates, "duplicated"),
            (self.out_of_order, "out of order"),
            (self.misrouted, "misrouted"),
            (self.refused, "refused"),
            (self.send_failures, "failed to send"),
            (self.http_errors, "HTTP errors"),
            (self.sockets_closed, "sockets closed"),
        ]));
        if let Some(first) = &self.first_refusal {
            problems.push(format!("the first refusal: {first}"));
        }
        if self.achieved_rate < self.rate * 0.95 {
            problems.push(format!(
                "sent only {:.0}/s of {:.0}/s",
                self.achieved_rate, self.rate
            ));
        }
        problems
    }
}

/// `"3 lost"` for each count that is not zero: what went wrong, in words.
pub fn counted(counts: &[(u64, &str)]) -> Vec<String> {
    counts
        .iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, what)| format!("{count} {what}"))
        .collect()
}

/// Open sockets to one server, ready to carry steps of load.
pub struct Fleet {
    target: Arc<Target>,
    layout: Layout,
    meter: Arc<Meter>,
    posts: Vec<Option<mpsc::UnboundedSender<Post>>>,
    tasks: JoinSet<()>,
    next_seq: Vec<u64>,
    next_sender: usize,
    http: reqwest::Client,
    http_slots: Arc<tokio::sync::Semaphore>,
    pub connect_seconds: f64,
}

impl Fleet {
    /// Opens `layout.sockets` sockets to `target`; fails if any cannot be opened.
    pub async fn connect(target: Arc<Target>, layout: Layout) -> anyhow::Result<Self> {
        Self::connect_with(target, layout, CONNECTS_AT_ONCE).await
    }

    /// Starts every handshake of `layout` at once (a server that is busy answers 503,
    /// and those sockets try again, as browsers do).
    pub async fn connect_all_at_once(target: Arc<Target>, layout: Layout) -> anyhow::Result<Self> {
        Self::connect_with(target, layout, layout.sockets.max(1)).await
    }

    /// Opens the sockets of `layout`, `at_once` handshakes at a time.
    pub async fn connect_with(
        target: Arc<Target>,
        layout: Layout,
        at_once: usize,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(
            layout.rooms > 0 && layout.sockets >= layout.rooms,
            "need at least one socket per room"
        );
        let meter = Arc::new(Meter::new(layout.rooms)?);
        let started = Instant::now();
        let mut tasks = JoinSet::new();
        let mut posts: Vec<Option<mpsc::UnboundedSender<Post>>> =
            (0..layout.sockets).map(|_| None).collect();
        let mut opened = stream::iter(0..layout.sockets)
            .map(|index| {
                let target = target.clone();
                async move { (index, open_socket(&target, &layout, index).await) }
            })
            .buffer_unordered(at_once);
        let mut failures = Vec::new();
        while let Some((index, socket)) = opened.next().await {
            match socket {
                Ok(socket) => {
                    let (tx, rx) = mpsc::unbounded_channel();
                    posts[index] = Some(tx);
                    meter.open_sockets.fetch_add(1, Ordering::Relaxed);
                    tasks.spawn(drive_socket(
                        socket,
                        index,
                        layout,
                        target.kind,
                        meter.clone(),
                        rx,
                    ));
                }
                Err(e) => failures.push(format!("socket {index}: {e:#}")),
            }
        }
        drop(opened);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(HTTP_POSTS_AT_ONCE)
            .timeout(Duration::from_secs(30))
            .build()?;
        let fleet = Self {
            target,
            layout,
            meter,
            posts,
            tasks,
            next_seq: vec![0; layout.rooms],
            next_sender: 0,
            http,
            http_slots: Arc::new(tokio::sync::Semaphore::new(HTTP_POSTS_AT_ONCE)),
            connect_seconds: started.elapsed().as_secs_f64(),
        };
        if let Some(first) = failures.first() {
            let count = failures.len();
            fleet.close().await;
            anyhow::bail!(
                "{count} of {} sockets could not be opened; first: {first}",
                layout.sockets
            );
        }
        Ok(fleet)
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Sockets still open.
    pub fn open_sockets(&self) -> usize {
        self.meter.open_sockets.load(Ordering::Relaxed)
    }

    /// Runs one step of load and measures it. `servers` (their processes together) are
    /// sampled for CPU and memory.
    pub async fn run_step(&mut self, plan: &StepPlan, servers: &[Process]) -> StepResult {
        let meter = self.meter.clone();
        meter.reset();
        let started_ns = meter.now_ns();
        let window_start = started_ns + plan.warmup.as_nanos() as u64;
        let window_end = window_start + plan.measure.as_nanos() as u64;
        meter.window_start_ns.store(window_start, Ordering::Relaxed);
        meter.window_end_ns.store(window_end, Ordering::Relaxed);

        let mut server_cpu_start: Option<CpuReading> = None;
        let mut own_cpu_start: Option<CpuReading> = None;
        let mut peak_rss: Option<u64> = None;
        let mut next_rss = Instant::now();
        let mut max_lag_ns = 0u64;
        let mut dispatched = 0u64;
        let interval_ns = 1e9 / plan.rate.max(1e-9);

        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let (server_cpu_end, own_cpu_end) = loop {
            ticker.tick().await;
            let now = meter.now_ns();
            if own_cpu_start.is_none() && now >= window_start {
                server_cpu_start = total_cpu(servers);
                own_cpu_start = Process::This.cpu();
            }
            if now >= window_end {
                break (total_cpu(servers), Process::This.cpu());
            }
            if Instant::now() >= next_rss {
                next_rss += RSS_EVERY;
                if let Some(rss) = total_rss(servers) {
                    peak_rss = Some(peak_rss.map_or(rss, |peak| peak.max(rss)));
                }
            }
            let due = ((now - started_ns) as f64 / interval_ns) as u64;
            while dispatched < due {
                let ideal = started_ns + (dispatched as f64 * interval_ns) as u64;
                max_lag_ns = max_lag_ns.max(now.saturating_sub(ideal));
                self.dispatch(plan.post_over, now);
                dispatched += 1;
            }
        };

        // Drain: wait for what is still on its way, up to the limit.
        let drain_started = Instant::now();
        loop {
            let expected = self.expected();
            let settled = meter.posts_pending.load(Ordering::Relaxed) == 0
                && meter.delivered.load(Ordering::Relaxed) >= expected;
            if settled || drain_started.elapsed() >= plan.drain_limit {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let drain_seconds = drain_started.elapsed().as_secs_f64();
        if let Some(rss) = total_rss(servers) {
            peak_rss = Some(peak_rss.map_or(rss, |peak| peak.max(rss)));
        }

        let mut merged = Histogram::<u64>::new_with_bounds(1, MAX_LATENCY_US, 3).ok();
        for shard in &meter.latency_us {
            if let Some(merged) = merged.as_mut() {
                let _ = merged.add(&*lock(shard));
            }
        }
        let measured_seconds = plan.measure.as_secs_f64();
        let sent: u64 = meter
            .sent_in_window
            .iter()
            .map(|s| s.load(Ordering::Relaxed))
            .sum();
        let expected = self.expected();
        let delivered = meter.delivered.load(Ordering::Relaxed);
        let cores =
            |a: Option<CpuReading>, b: Option<CpuReading>| a.zip(b).map(|(a, b)| a.cores_until(&b));
        let split = |histogram: &Mutex<Histogram<u64>>| {
            let histogram = lock(histogram);
            (self.layout.processes > 1 && !histogram.is_empty()).then(|| Latency::of(&histogram))
        };
        StepResult {
            rate: plan.rate,
            achieved_rate: sent as f64 / measured_seconds,
            deliveries_per_second: expected as f64 / measured_seconds,
            measured_seconds,
            latency_ms: merged.as_ref().map(Latency::of).unwrap_or_default(),
            same_process_latency_ms: split(&meter.same_process_us),
            cross_process_latency_ms: split(&meter.cross_process_us),
            expected,
            delivered,
            lost: expected.saturating_sub(delivered),
            duplicates: meter.duplicates.load(Ordering::Relaxed),
            out_of_order: meter.out_of_order.load(Ordering::Relaxed),
            misrouted: meter.misrouted.load(Ordering::Relaxed),
            refused: meter.refused.load(Ordering::Relaxed),
            first_refusal: lock(&meter.first_refusal).clone(),
            send_failures: meter.send_failures.load(Ordering::Relaxed),
            http_errors: meter.http_errors.load(Ordering::Relaxed),
            sockets_closed: (self.layout.sockets - self.open_sockets().min(self.layout.sockets))
                as u64,
            server_cpu_cores: cores(server_cpu_start, server_cpu_end),
            server_peak_rss_bytes: peak_rss,
            loadgen_cpu_cores: cores(own_cpu_start, own_cpu_end).unwrap_or_default(),
            max_dispatch_lag_ms: max_lag_ns as f64 / 1e6,
            drain_seconds,
        }
    }

    /// Deliveries the posts sent in the window call for.
    fn expected(&self) -> u64 {
        self.meter
            .sent_in_window
            .iter()
            .enumerate()
            .map(|(room, sent)| sent.load(Ordering::Relaxed) * self.layout.room_size(room) as u64)
            .sum()
    }

    /// Hands the next sender its next post.
    fn dispatch(&mut self, post_over: PostOver, stamp_ns: u64) {
        let sender = self.next_sender;
        self.next_sender = (self.next_sender + 1) % self.layout.sockets;
        let room = self.layout.room_of(sender);
        let seq = self.next_seq[room];
        self.next_seq[room] += 1;
        let post = Post { seq, stamp_ns };
        let meter = &self.meter;
        if post_over == PostOver::Http && self.target.kind == ServerKind::Hearth {
            self.post_over_http(sender, room, post);
            return;
        }
        meter.posts_pending.fetch_add(1, Ordering::Relaxed);
        let handed = self.posts[sender]
            .as_ref()
            .is_some_and(|tx| tx.send(post).is_ok());
        if !handed {
            meter.posts_pending.fetch_sub(1, Ordering::Relaxed);
            meter.send_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn post_over_http(&self, sender: usize, room: usize, post: Post) {
        let meter = self.meter.clone();
        let (Some(seat), Some(conversation), Ok(authority)) = (
            self.target
                .population
                .seats
                .get(self.layout.seat_of(sender)),
            self.target.population.rooms.get(room),
            self.target.authority(&self.layout, sender),
        ) else {
            meter.send_failures.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let request = self
            .http
            .post(format!(
                "http://{authority}/conversations/{conversation}/messages"
            ))
            .header("Cookie", &seat.cookie)
            .header("HX-Request", "true")
            .header("X-CSRF-Token", &seat.csrf)
            .form(&[("body", post_body(sender, post.seq, post.stamp_ns))]);
        let slots = self.http_slots.clone();
        meter.posts_pending.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let _slot = slots.acquire_owned().await;
            match request.send().await {
                Ok(resp) if resp.status().is_success() => {
                    // Read the fragment, as a browser would, so the connection is reused.
                    let _ = resp.bytes().await;
                    meter.sent(room, post.stamp_ns);
                }
                Ok(resp) if resp.status() == reqwest::StatusCode::UNPROCESSABLE_ENTITY => {
                    let status = resp.status();
                    let text = resp.text().await.unwrap_or_default();
                    meter.refusal(format!(
                        "{status}: {}",
                        read_hearth_frame(&text).composer.unwrap_or_default()
                    ));
                }
                Ok(resp) => {
                    meter.http_errors.fetch_add(1, Ordering::Relaxed);
                    lock(&meter.first_refusal)
                        .get_or_insert_with(|| format!("HTTP {}", resp.status()));
                }
                Err(e) => {
                    meter.http_errors.fetch_add(1, Ordering::Relaxed);
                    lock(&meter.first_refusal)
                        .get_or_insert_with(|| format!("HTTP request failed: {e}"));
                }
            }
            meter.posts_pending.fetch_sub(1, Ordering::Relaxed);
        });
    }

    /// Closes every socket (a close frame each) and waits for their tasks.
    pub async fn close(mut self) {
        self.posts.clear();
        let all_closed = tokio::time::timeout(Duration::from_secs(15), async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if all_closed.is_err() {
            self.tasks.abort_all();
        }
    }
}

/// Opens socket `index`, retrying a few times.
async fn open_socket(target: &Target, layout: &Layout, index: usize) -> anyhow::Result<Socket> {
    // A small read buffer: 10,000 sockets at the default 128 KiB would be 1.3 GB here.
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
    let mut last_error = anyhow!("no attempt made");
    let mut busy = 0;
    for attempt in 0..BUSY_ATTEMPTS {
        if attempt >= CONNECT_ATTEMPTS + busy {
            break;
        }
        if attempt > 0 {
            // Spread over the sockets, so that the retries do not come back together.
            let spread = (index % 16) as u64 * 25;
            tokio::time::sleep(Duration::from_millis(200 * attempt.min(5) as u64 + spread)).await;
        }
        let request = target.socket_request(layout, index)?;
        match tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio_tungstenite::connect_async_with_config(request, Some(config), true),
        )
        .await
        {
            Ok(Ok((socket, _))) => return Ok(socket),
            Ok(Err(tokio_tungstenite::tungstenite::Error::Http(resp)))
                if resp.status() == 503 && attempt + 1 < BUSY_ATTEMPTS =>
            {
                // The server is busy with other handshakes: come back in a moment.
                busy += 1;
                last_error = anyhow!("refused with HTTP 503 {busy} times");
                continue;
            }
            Ok(Err(tokio_tungstenite::tungstenite::Error::Http(resp))) => {
                // A refusal (401, 403, 404) will not change on a retry.
                return Err(anyhow!("refused with HTTP {}", resp.status()));
            }
            Ok(Err(e)) => last_error = anyhow::Error::new(e).context("handshake failed"),
            Err(_) => last_error = anyhow!("no handshake within {CONNECT_TIMEOUT:?}"),
        }
    }
    Err(last_error).context(format!("after {CONNECT_ATTEMPTS} attempts"))
}

/// A socket's task: sends the posts it is handed, reads and checks every frame.
async fn drive_socket(
    mut socket: Socket,
    index: usize,
    layout: Layout,
    kind: ServerKind,
    meter: Arc<Meter>,
    mut posts: mpsc::UnboundedReceiver<Post>,
) {
    let room = layout.room_of(index);
    let mut seen = SeenLog::new(layout.largest_room());
    let closed_by_us = loop {
        tokio::select! {
            post = posts.recv() => {
                let Some(post) = post else { break true };
                let body = post_body(index, post.seq, post.stamp_ns);
                let frame = serde_json::json!({ "type": "message", "body": body }).to_string();
                match socket.send(Message::text(frame)).await {
                    Ok(()) => meter.sent(room, post.stamp_ns),
                    Err(_) => {
                        meter.send_failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
                meter.posts_pending.fetch_sub(1, Ordering::Relaxed);
            }
            frame = socket.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break false,
                    Some(Ok(_)) => continue,
                };
                let now = meter.now_ns();
                match kind {
                    ServerKind::Hearth => {
                        let read = read_hearth_frame(text.as_str());
                        for arrival in read.arrivals {
                            record(&meter, &layout, room, index, &mut seen, arrival, now);
                        }
                        match read.composer {
                            Some(reason) if !reason.is_empty() => meter.refusal(reason),
                            _ => {}
                        }
                    }
                    ServerKind::Limit => {
                        if let Some(arrival) = read_limit_frame(text.as_str()) {
                            record(&meter, &layout, room, index, &mut seen, arrival, now);
                        }
                    }
                }
            }
        }
    };
    meter.open_sockets.fetch_sub(1, Ordering::Relaxed);
    if closed_by_us {
        let _ = tokio::time::timeout(Duration::from_secs(5), socket.close(None)).await;
    } else {
        // Posts that will never go out are failures, not pending forever.
        posts.close();
        while posts.try_recv().is_ok() {
            meter.send_failures.fetch_add(1, Ordering::Relaxed);
            meter.posts_pending.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

fn record(
    meter: &Meter,
    layout: &Layout,
    room: usize,
    socket: usize,
    seen: &mut SeenLog,
    arrival: Arrival,
    now_ns: u64,
) {
    if !meter.in_window(arrival.stamp_ns) {
        return;
    }
    if arrival.sender >= layout.sockets || layout.room_of(arrival.sender) != room {
        meter.misrouted.fetch_add(1, Ordering::Relaxed);
        return;
    }
    match seen.observe(
        layout.member_of(arrival.sender),
        arrival.seq,
        arrival.message_id,
    ) {
        Seen::Again => {
            meter.duplicates.fetch_add(1, Ordering::Relaxed);
        }
        Seen::First { in_order } => {
            meter.delivered.fetch_add(1, Ordering::Relaxed);
            if !in_order {
                meter.out_of_order.fetch_add(1, Ordering::Relaxed);
            }
            let latency_us =
                (now_ns.saturating_sub(arrival.stamp_ns) / 1000).clamp(1, MAX_LATENCY_US);
            lock(&meter.latency_us[socket % SHARDS]).saturating_record(latency_us);
            if layout.processes > 1 {
                let across = layout.process_of(socket) != layout.process_of(arrival.sender);
                let split = if across {
                    &meter.cross_process_us
                } else {
                    &meter.same_process_us
                };
                lock(split).saturating_record(latency_us);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_spread_sockets_over_rooms() {
        let layout = Layout {
            sockets: 10,
            rooms: 3,
            processes: 2,
            people: 0,
        };
        assert_eq!(
            (0..10).map(|i| layout.room_of(i)).collect::<Vec<_>>(),
            [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]
        );
        assert_eq!(
            [
                layout.room_size(0),
                layout.room_size(1),
                layout.room_size(2)
            ],
            [4, 3, 3]
        );
        assert_eq!(layout.largest_room(), 4);
        assert_eq!(layout.member_of(9), 3);
        // Each room's members alternate between the two processes.
        assert_eq!(
            (0..10).map(|i| layout.process_of(i)).collect::<Vec<_>>(),
            [0, 0, 0, 1, 1, 1, 0, 0, 0, 1]
        );
        assert_eq!(layout.people_needed(), 10);
        assert_eq!(layout.seat_of(7), 7);
    }

    #[test]
    fn shared_layouts_give_each_person_consecutive_sockets_in_different_rooms() {
        let layout = Layout {
            sockets: 8,
            rooms: 4,
            processes: 1,
            people: 4,
        };
        assert_eq!(layout.people_needed(), 4);
        assert_eq!(
            (0..8).map(|i| layout.seat_of(i)).collect::<Vec<_>>(),
            [0, 0, 1, 1, 2, 2, 3, 3]
        );
        assert_ne!(layout.room_of(0), layout.room_of(1));
    }

    #[test]
    fn hearth_frames_give_ids_bodies_and_composer_answers() {
        let frame = r#"<div hx-swap-oob="beforeend:#messages"><article class="message" id="message-42" data-author-id="3" data-author="bk-u1" data-ts="2026-01-01T00:00:00Z"><header class="message-meta"><span class="author">bk-u1</span> <time datetime="x">00:00</time></header><div class="message-body" dir="auto"><p>1 7 123456789</p></div></article></div>"#;
        let read = read_hearth_frame(frame);
        assert_eq!(
            read.arrivals,
            [Arrival {
                sender: 1,
                seq: 7,
                stamp_ns: 123_456_789,
                message_id: Some(42)
            }]
        );
        assert_eq!(read.composer, None);

        let ack =
            r#"<p id="composer-error" class="form-error" role="alert" hx-swap-oob="true"></p>"#;
        assert_eq!(read_hearth_frame(ack).composer.as_deref(), Some(""));
        let refusal = r#"<p id="composer-error" class="form-error" role="alert" hx-swap-oob="true">Slow down.</p>"#;
        assert_eq!(
            read_hearth_frame(refusal).composer.as_deref(),
            Some("Slow down.")
        );
        assert_eq!(
            read_hearth_frame(r#"<span id="online-count">3</span>"#),
            HearthFrame::default()
        );
    }

    #[test]
    fn limit_frames_are_the_posts_echoed() {
        let frame =
            serde_json::json!({ "type": "message", "body": post_body(5, 9, 77) }).to_string();
        assert_eq!(
            read_limit_frame(&frame),
            Some(Arrival {
                sender: 5,
                seq: 9,
                stamp_ns: 77,
                message_id: None
            })
        );
        assert_eq!(read_limit_frame("{}"), None);
    }

    #[test]
    fn seen_logs_tell_duplicates_and_disorder() {
        let mut seen = SeenLog::new(2);
        assert_eq!(seen.observe(0, 0, Some(10)), Seen::First { in_order: true });
        assert_eq!(seen.observe(1, 2, Some(12)), Seen::First { in_order: true });
        assert_eq!(seen.observe(0, 0, Some(10)), Seen::Again);
        // Seq 1 from member 0 after member 1's seq 2: fine by sender, but hearth's id went back.
        assert_eq!(
            seen.observe(0, 1, Some(11)),
            Seen::First { in_order: false }
        );
        assert_eq!(seen.observe(1, 200, None), Seen::First { in_order: true });
        assert_eq!(seen.observe(1, 150, None), Seen::First { in_order: false });
    }

    #[test]
    fn steps_hold_only_when_everything_arrived_in_time() {
        let mut step = StepResult {
            rate: 100.0,
            achieved_rate: 100.0,
            deliveries_per_second: 1000.0,
            measured_seconds: 1.0,
            latency_ms: Latency {
                p99: 20.0,
                ..Latency::default()
            },
            same_process_latency_ms: None,
            cross_process_latency_ms: None,
            expected: 1000,
            delivered: 1000,
            lost: 0,
            duplicates: 0,
            out_of_order: 0,
            misrouted: 0,
            refused: 0,
            first_refusal: None,
            send_failures: 0,
            http_errors: 0,
            sockets_closed: 0,
            server_cpu_cores: None,
            server_peak_rss_bytes: None,
            loadgen_cpu_cores: 0.0,
            max_dispatch_lag_ms: 0.0,
            drain_seconds: 0.0,
        };
        assert!(step.sustained(100.0));
        step.lost = 1;
        assert_eq!(step.problems(100.0), ["1 lost"]);
        step.lost = 0;
        step.latency_ms.p99 = 150.0;
        assert!(!step.sustained(100.0));
    }
}
