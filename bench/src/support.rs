//! Issue 26's load figures: 2,000 visitors with the widget open on one site, writing
//! to its team, and ten operators with the inbox open, answering them; beside it, on
//! the same server and at the same rate, one room of the same size (the visitors and
//! the operators as 2,010 people in one room), which the support figures are compared
//! with.
//!
//! A visitor starts their conversation as the widget does (`POST /widget/{key}/start`),
//! opens the widget's socket (`/widget/{key}/ws?guest=…`) and writes over HTTP as the
//! widget's composer does; an operator holds the inbox's socket (`/ws`) and answers
//! over `POST /conversations/{id}/messages`. What is checked:
//! - every message reaches its conversation's parties: the visitor's socket gets each
//!   message of their conversation once, in order, and nothing of anyone else's;
//!   every operator's inbox gets a row of the conversation that shows it (or a
//!   message stored after it);
//! - the inbox costs each operator a bounded number of frames a second, however many
//!   visitors write (hearth gathers the rows and sends them once a flush);
//! - the visitors' p99 delivery against the room's.
//!
//! It owns nothing of the socket scenarios; it reuses their seeding, servers and fleet.
use std::{
    collections::{HashMap, HashSet},
    fmt::Write as _,
    sync::{Arc, LazyLock, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow, bail};
use futures_util::{StreamExt as _, stream};
use hdrhistogram::Histogram;
use memchr::memmem::Finder;
use serde::Serialize;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest as _, http::HeaderValue};

use crate::{
    fleet::{
        Fleet, Latency, Layout, PostOver, StepPlan, StepResult, Target, post_body,
        read_hearth_frame,
    },
    procstat::Process,
    seed::{self, Seat},
    servers::{RunningServer, ServerKind, ServerSource},
};

/// Visitors with the widget open, each in a conversation of their own.
const GUESTS: usize = 2_000;
/// The site's operators, each with the inbox open.
const OPERATORS: usize = 10;
/// The visitors' posts a second, all together (each writes every 22 s or so).
const GUEST_RATE: f64 = 90.0;
/// The operators' answers a second, all together: one each, hearth's default pace
/// for one person.
const OPERATOR_RATE: f64 = 10.0;
/// The origin the site is embedded on (never fetched: the widget's requests name it).
const SITE_ORIGIN: &str = "http://shop.example";
/// Conversations started at once, and sockets opened at once.
const AT_ONCE: usize = 16;
/// HTTP posts in flight at once.
const POSTS_AT_ONCE: usize = 256;
/// The issue's bound on the ratio of the visitors' p99 delivery to the room's.
const P99_RATIO_TARGET: f64 = 2.0;

/// When a post was stamped and when frames arrived, in nanoseconds since this.
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

fn now_ns() -> u64 {
    EPOCH.elapsed().as_nanos() as u64
}

/// How long each phase of the load lasts.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub warmup: Duration,
    pub measure: Duration,
    pub drain_limit: Duration,
}

/// What the visitors' side measured.
#[derive(Clone, Debug, Serialize)]
pub struct SupportSide {
    /// Messages sent inside the window, by the visitors and by the operators.
    pub guest_posts: u64,
    pub operator_posts: u64,
    /// From a post to its arrival on the visitor's socket: the visitor's own
    /// messages and the operators' answers together, then each.
    pub delivery_ms: Latency,
    pub own_ms: Latency,
    pub answers_ms: Latency,
    pub lost: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub misrouted: u64,
    /// Posts answered with anything but 2xx, and the first such answer.
    pub refused: u64,
    pub first_refusal: Option<String>,
    /// From a post to its conversation's row on an operator's inbox (gathered and
    /// sent once a flush), over every post and operator.
    pub inbox_row_ms: Latency,
    /// (post, operator) pairs whose row never came after the post.
    pub inbox_rows_missed: u64,
    /// Frames a second on the busiest operator's socket: inbox rows, and all.
    pub inbox_frames_per_second: f64,
    pub all_frames_per_second: f64,
    /// What hearth's flush interval allows: one inbox frame a flush.
    pub inbox_frames_bound: f64,
    pub server_cpu_cores: Option<f64>,
    pub server_rss_mib: Option<f64>,
    pub start_seconds: f64,
    pub connect_seconds: f64,
}

/// The figures of one run.
#[derive(Clone, Debug, Serialize)]
pub struct SupportReport {
    pub guests: usize,
    pub operators: usize,
    pub rate: f64,
    pub measured_seconds: f64,
    /// The room of the same size at the same rate, posted over HTTP.
    pub room: StepResult,
    pub support: SupportSide,
    /// The visitors' p99 delivery over the room's.
    pub p99_ratio: f64,
    /// limit-server's room of the same size at the same rate (posts on the socket,
    /// as it has no HTTP), when it was run, and hearth's room p99 over its.
    pub limit_room: Option<StepResult>,
    pub room_p99_over_limit: Option<f64>,
    pub command: String,
}

impl SupportReport {
    /// The problems that make the run fail its targets; empty when it met them.
    pub fn problems(&self) -> Vec<String> {
        let s = &self.support;
        let mut problems = crate::fleet::counted(&[
            (s.lost, "lost"),
            (s.duplicates, "duplicated"),
            (s.out_of_order, "out of order"),
            (s.misrouted, "misrouted"),
            (s.refused, "refused"),
            (s.inbox_rows_missed, "inbox rows missed"),
        ]);
        if s.inbox_frames_per_second > s.inbox_frames_bound {
            problems.push(format!(
                "{:.2} inbox frames/s per operator > {:.2}",
                s.inbox_frames_per_second, s.inbox_frames_bound
            ));
        }
        if self.p99_ratio > P99_RATIO_TARGET {
            problems.push(format!(
                "p99 {:.1}× the room's > {P99_RATIO_TARGET}×",
                self.p99_ratio
            ));
        }
        problems
    }

    /// The markdown for bench/RESULTS.md, with the targets met or missed.
    pub fn markdown(&self) -> String {
        let s = &self.support;
        let r = &self.room;
        let mut md = String::from(
            "| delivery | messages | p50 | p99 | max | lost |\n| --- | ---: | ---: | ---: | ---: | ---: |\n",
        );
        let mut row = |name: &str, l: &Latency, lost: u64| {
            let _ = writeln!(
                md,
                "| {name} | {} | {:.1} ms | {:.1} ms | {:.1} ms | {lost} |",
                l.samples, l.p50, l.p99, l.max
            );
        };
        row(
            &format!("room of {} (each message to everyone)", GUESTS + OPERATORS),
            &r.latency_ms,
            r.lost,
        );
        if let Some(limit) = &self.limit_room {
            row(
                "limit-server: the same room, posts on the socket",
                &limit.latency_ms,
                limit.lost,
            );
        }
        row(
            "visitors: all their conversation's messages",
            &s.delivery_ms,
            s.lost,
        );
        row("visitors: their own", &s.own_ms, 0);
        row("visitors: the operators' answers", &s.answers_ms, 0);
        row(
            "operators: the inbox row after a post",
            &s.inbox_row_ms,
            s.inbox_rows_missed,
        );
        let problems = self.problems();
        let _ = writeln!(
            md,
            "\n- {} visitors and {} operators, {:.0} posts/s ({} by visitors, {} answers) over \
             {:.0} s. p99 {:.2}× the room's (target ≤ {P99_RATIO_TARGET}×); hearth's room p99 {} \
             limit-server's. Inbox frames per \
             operator: {:.2}/s (bound {:.2}/s), all frames {:.2}/s. Duplicates {}, out of order \
             {}, misrouted {}, refused {}. hearth: {} cores, {} MiB. {}",
            self.guests,
            self.operators,
            self.rate,
            s.guest_posts,
            s.operator_posts,
            self.measured_seconds,
            self.p99_ratio,
            self.room_p99_over_limit
                .map_or("? ×".to_owned(), |r| format!("{r:.2}×")),
            s.inbox_frames_per_second,
            s.inbox_frames_bound,
            s.all_frames_per_second,
            s.duplicates,
            s.out_of_order,
            s.misrouted,
            s.refused,
            s.server_cpu_cores.map_or("?".into(), |c| format!("{c:.2}")),
            s.server_rss_mib.map_or("?".into(), |m| format!("{m:.0}")),
            if problems.is_empty() {
                "Targets met.".to_owned()
            } else {
                format!("**MISSED**: {}", problems.join("; "))
            }
        );
        md
    }
}

/// Seeds a SQLite database in `dir` (the people, the room, the site and its
/// operators), starts hearth on it and measures; then, with `limit`, the room on
/// limit-server.
pub async fn run(
    source: &ServerSource,
    limit: Option<&ServerSource>,
    dir: &std::path::Path,
    timing: Timing,
) -> anyhow::Result<SupportReport> {
    anyhow::ensure!(
        matches!(source, ServerSource::Spawn(_)),
        "the support scenario starts its own hearth on its own database (drop --hearth-url)"
    );
    let tag = seed::run_tag();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.join(format!("support-{tag}.db")).display()
    );
    let population = seed::seed_database(&url, GUESTS + OPERATORS, 1, &tag).await?;
    let operators = population
        .seats
        .get(..OPERATORS)
        .ok_or_else(|| anyhow!("too few people were seeded"))?
        .to_vec();
    let key = create_site(&url, &tag, &operators).await?;
    // Every visitor starts from this one address, where in use each has their own.
    let env = [(
        "HEARTH_GUESTS_PER_MINUTE".to_owned(),
        (GUESTS + 10).to_string(),
    )];
    let server = RunningServer::start(ServerKind::Hearth, source, &env, Some(&url)).await?;
    let measured = measure(&server, population, &operators, &key, timing).await;
    server.stop().await;
    let mut report = measured?;
    if let Some(limit) = limit {
        let room = limit_room(limit, timing).await?;
        report.room_p99_over_limit =
            Some(report.room.latency_ms.p99 / room.latency_ms.p99.max(0.001));
        report.limit_room = Some(room);
    }
    Ok(report)
}

/// The room of [`room_layout`] on limit-server, at the same rate, posts on the socket.
async fn limit_room(source: &ServerSource, timing: Timing) -> anyhow::Result<StepResult> {
    let server = RunningServer::start(ServerKind::Limit, source, &[], None).await?;
    let measured = async {
        let target = Arc::new(Target {
            kind: ServerKind::Limit,
            authorities: vec![server.authority.clone()],
            population: seed::Population::default(),
        });
        let processes: Vec<Process> = server.process().into_iter().collect();
        let mut fleet = Fleet::connect(target, room_layout()).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let step = fleet
            .run_step(&room_plan(timing, PostOver::Socket), &processes)
            .await;
        fleet.close().await;
        eprintln!(
            "  limit-server's room: p50 {:.1} ms, p99 {:.1} ms, {} lost",
            step.latency_ms.p50, step.latency_ms.p99, step.lost
        );
        anyhow::Ok(step)
    }
    .await;
    server.stop().await;
    measured
}

/// The visitors and the operators as people of one room.
fn room_layout() -> Layout {
    Layout {
        sockets: GUESTS + OPERATORS,
        rooms: 1,
        processes: 1,
        people: 0,
    }
}

/// The room's load: the support side's rate, with its warm-up, window and drain.
fn room_plan(timing: Timing, post_over: PostOver) -> StepPlan {
    StepPlan {
        rate: GUEST_RATE + OPERATOR_RATE,
        warmup: timing.warmup,
        measure: timing.measure,
        drain_limit: timing.drain_limit,
        post_over,
    }
}

/// The site, with the first seats as its operators, as an administrator makes it;
/// answers its key.
async fn create_site(url: &str, tag: &str, operators: &[Seat]) -> anyhow::Result<String> {
    use hearth::support::queries;
    let db = hearth::db::connect(url).await?;
    let site = queries::create_site(
        &db,
        &hearth::support::Site {
            id: 0,
            key: format!("{tag}site"),
            name: "Bench shop".into(),
            origins: vec![SITE_ORIGIN.into()],
            title: "Support".into(),
            color: "#3b6ea5".into(),
            position: "right".into(),
            theme: "auto".into(),
            guests_allowed: true,
            greeting: "Hi! How can we help?".into(),
            away_message: "We are away.".into(),
            language: "en".into(),
            identity_secret: "bench-identity-secret".into(),
            created_at: 0,
        },
    )
    .await
    .context("creating the site")?;
    for seat in operators {
        let row = sea_orm::ConnectionTrait::query_one_raw(
            &db,
            hearth::db::statement(
                &db,
                "SELECT id FROM users WHERE username = ?",
                [seat.username.clone().into()],
            ),
        )
        .await?
        .ok_or_else(|| anyhow!("{} was not seeded", seat.username))?;
        let id: i64 = row.try_get("", "id")?;
        queries::add_operator(&db, site.id, id).await?;
    }
    db.close().await?;
    Ok(site.key)
}

async fn measure(
    server: &RunningServer,
    population: seed::Population,
    operators: &[Seat],
    key: &str,
    timing: Timing,
) -> anyhow::Result<SupportReport> {
    let process = server
        .process()
        .ok_or_else(|| anyhow!("hearth's pid is not known"))?;
    let rate = GUEST_RATE + OPERATOR_RATE;

    let target = Arc::new(Target {
        kind: ServerKind::Hearth,
        authorities: vec![server.authority.clone()],
        population,
    });
    let layout = room_layout();
    eprintln!(
        "  a room of {} people, {rate:.0} posts/s over HTTP",
        layout.sockets
    );
    let mut fleet = Fleet::connect(target, layout).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let room = fleet
        .run_step(&room_plan(timing, PostOver::Http), &[process])
        .await;
    fleet.close().await;
    eprintln!(
        "  room: p50 {:.1} ms, p99 {:.1} ms, {} lost",
        room.latency_ms.p50, room.latency_ms.p99, room.lost
    );

    eprintln!("  {GUESTS} visitors and {OPERATORS} operators, {rate:.0} posts/s");
    let support = measure_support(server, process, operators, key, timing).await?;
    let p99_ratio = support.delivery_ms.p99 / room.latency_ms.p99.max(0.001);
    Ok(SupportReport {
        guests: GUESTS,
        operators: OPERATORS,
        rate,
        measured_seconds: timing.measure.as_secs_f64(),
        room,
        support,
        p99_ratio,
        limit_room: None,
        room_p99_over_limit: None,
        command: format!(
            "{GUESTS} visitors + {OPERATORS} operators on one site, {GUEST_RATE} + {OPERATOR_RATE} \
             posts/s over HTTP, against one room of {} at the same rate",
            GUESTS + OPERATORS
        ),
    })
}

/// A visitor whose conversation has started.
#[derive(Clone, Debug)]
struct Guest {
    token: String,
    conversation_id: i64,
}

/// What a visitor's socket saw.
#[derive(Default)]
struct GuestLog {
    /// `(seq, stamp, arrived, message id)` of each bench message, by arrival.
    arrivals: Vec<(u64, u64, u64, i64)>,
    seen: HashSet<u64>,
    duplicates: u64,
    out_of_order: u64,
    misrouted: u64,
    last_message_id: i64,
    closed: bool,
}

/// What an operator's socket saw: when each frame came, and which inbox rows it held.
#[derive(Default)]
struct OperatorLog {
    frames: Vec<u64>,
    inbox_frames: Vec<u64>,
    /// `(conversation id, the sequence of the last message it shows, arrived)`.
    rows: Vec<(i64, u64, u64)>,
    closed: bool,
}

/// A post that hearth took: whose conversation, its sequence there, when it was
/// stamped, and whether an operator sent it.
#[derive(Clone, Copy)]
struct Sent {
    guest: usize,
    seq: u64,
    stamp: u64,
    by_operator: bool,
}

#[derive(Default)]
struct Outcome {
    sent: Vec<Sent>,
    /// The stamps of the posts hearth did not take.
    refused: Vec<u64>,
    first_refusal: Option<String>,
}

async fn measure_support(
    server: &RunningServer,
    process: Process,
    operators: &[Seat],
    key: &str,
    timing: Timing,
) -> anyhow::Result<SupportSide> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(POSTS_AT_ONCE)
        .timeout(Duration::from_secs(30))
        .build()?;
    let base = server.http_url("");
    let started = Instant::now();
    let guests = start_guests(&http, &base, key).await?;
    let start_seconds = started.elapsed().as_secs_f64();

    let mut tasks = JoinSet::new();
    let connected = Instant::now();
    let operator_logs: Vec<Arc<Mutex<OperatorLog>>> =
        (0..OPERATORS).map(|_| Arc::default()).collect();
    for (seat, log) in operators.iter().zip(&operator_logs) {
        let mut request = server.ws_url("/ws").into_client_request()?;
        request
            .headers_mut()
            .insert("Cookie", HeaderValue::from_str(&seat.cookie)?);
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .with_context(|| format!("{}'s inbox socket", seat.username))?;
        tasks.spawn(read_inbox(socket, log.clone()));
    }
    let guest_logs: Vec<Arc<Mutex<GuestLog>>> = (0..GUESTS).map(|_| Arc::default()).collect();
    let mut opened = stream::iter(guests.iter().enumerate())
        .map(|(index, guest)| {
            let url = server.ws_url(&format!("/widget/{key}/ws?guest={}", guest.token));
            async move {
                let socket = tokio_tungstenite::connect_async(url)
                    .await
                    .with_context(|| format!("visitor {index}'s socket"));
                (index, socket)
            }
        })
        .buffer_unordered(AT_ONCE);
    while let Some((index, socket)) = opened.next().await {
        let (socket, _) = socket?;
        let log = guest_logs
            .get(index)
            .ok_or_else(|| anyhow!("no log for visitor {index}"))?
            .clone();
        tasks.spawn(read_guest(socket, index, log));
    }
    drop(opened);
    let connect_seconds = connected.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;

    let guests = Arc::new(guests);
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let window_start = now_ns() + timing.warmup.as_nanos() as u64;
    let window_end = window_start + timing.measure.as_nanos() as u64;
    let cpu_at_window = Arc::new(Mutex::new(None));
    {
        let cpu_at_window = cpu_at_window.clone();
        let wait = Duration::from_nanos(window_start.saturating_sub(now_ns()));
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            *lock(&cpu_at_window) = process.cpu();
        });
    }
    post_for(
        &http,
        &base,
        key,
        &guests,
        operators,
        window_end,
        outcome.clone(),
    )
    .await;
    let cpu = match (lock(&cpu_at_window).take(), process.cpu()) {
        (Some(before), Some(after)) => Some(before.cores_until(&after)),
        _ => None,
    };
    let rss = process.rss_bytes().map(|b| b as f64 / (1024.0 * 1024.0));

    // Messages on their way arrive; the inbox's last rows wait for the next flush.
    let in_window = |s: &Sent| s.stamp >= window_start && s.stamp < window_end;
    let drain_until = Instant::now()
        + timing
            .drain_limit
            .max(hearth::support::live::FLUSH_EVERY * 2);
    loop {
        let missing = {
            let outcome = lock(&outcome);
            outcome
                .sent
                .iter()
                .filter(|s| in_window(s))
                .filter(|s| {
                    guest_logs
                        .get(s.guest)
                        .is_some_and(|l| !lock(l).seen.contains(&s.seq))
                })
                .count()
        };
        let rows_due = {
            let outcome = lock(&outcome);
            let window: Vec<&Sent> = outcome.sent.iter().filter(|s| in_window(s)).collect();
            !inbox_caught_up(&window, &guests, &operator_logs)
        };
        if (missing == 0 && !rows_due) || Instant::now() > drain_until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tasks.abort_all();

    let outcome = std::mem::take(&mut *lock(&outcome));
    tally(
        &outcome,
        &guests,
        &guest_logs,
        &operator_logs,
        (window_start, window_end),
        Tallied {
            cpu,
            rss,
            start_seconds,
            connect_seconds,
        },
    )
}

/// Whether every operator has had a row of each conversation in `sent` since its
/// latest post there (what [`tally`] then checks exactly, by what the row shows).
fn inbox_caught_up(
    sent: &[&Sent],
    guests: &[Guest],
    operator_logs: &[Arc<Mutex<OperatorLog>>],
) -> bool {
    let mut latest: HashMap<i64, u64> = HashMap::new();
    for post in sent {
        if let Some(guest) = guests.get(post.guest) {
            let stamp = latest.entry(guest.conversation_id).or_default();
            *stamp = (*stamp).max(post.stamp);
        }
    }
    operator_logs.iter().all(|log| {
        let mut last_row: HashMap<i64, u64> = HashMap::new();
        for &(id, _, arrived) in &lock(log).rows {
            let at = last_row.entry(id).or_default();
            *at = (*at).max(arrived);
        }
        latest
            .iter()
            .all(|(id, stamp)| last_row.get(id).is_some_and(|at| at >= stamp))
    })
}

/// The figures read off the server and the clock, beside what the sockets saw.
struct Tallied {
    cpu: Option<f64>,
    rss: Option<f64>,
    start_seconds: f64,
    connect_seconds: f64,
}

fn tally(
    outcome: &Outcome,
    guests: &[Guest],
    guest_logs: &[Arc<Mutex<GuestLog>>],
    operator_logs: &[Arc<Mutex<OperatorLog>>],
    (window_start, window_end): (u64, u64),
    tallied: Tallied,
) -> anyhow::Result<SupportSide> {
    let new = || Histogram::<u64>::new_with_bounds(1, 120_000_000, 3);
    let (mut all, mut own, mut answers, mut inbox) = (new()?, new()?, new()?, new()?);
    let sent: Vec<&Sent> = outcome
        .sent
        .iter()
        .filter(|s| s.stamp >= window_start && s.stamp < window_end)
        .collect();
    let mut lost = 0;
    let (mut duplicates, mut out_of_order, mut misrouted) = (0, 0, 0);
    for log in guest_logs {
        let log = lock(log);
        duplicates += log.duplicates;
        out_of_order += log.out_of_order;
        misrouted += log.misrouted;
        if log.closed {
            bail!("a visitor's socket closed during the run");
        }
    }
    for post in &sent {
        let log = guest_logs
            .get(post.guest)
            .ok_or_else(|| anyhow!("no log for visitor {}", post.guest))?;
        let log = lock(log);
        let Some(&(_, stamp, arrived, _)) = log.arrivals.iter().find(|(seq, ..)| *seq == post.seq)
        else {
            lost += 1;
            continue;
        };
        let micros = (arrived.saturating_sub(stamp) / 1_000).clamp(1, 120_000_000);
        all.record(micros)?;
        if post.by_operator {
            answers.record(micros)?;
        } else {
            own.record(micros)?;
        }
    }
    // Which message each bench post became, by conversation and sequence: a row shows
    // a post once its last message is that one or one stored after it (posts to one
    // conversation can be stored in another order than they were sent).
    let mut stored: HashMap<(i64, u64), i64> = HashMap::new();
    for (log, guest) in guest_logs.iter().zip(guests) {
        for &(seq, _, _, id) in &lock(log).arrivals {
            stored.insert((guest.conversation_id, seq), id);
        }
    }
    let mut inbox_rows_missed = 0;
    let (mut inbox_frames, mut all_frames) = (0usize, 0usize);
    for log in operator_logs {
        let log = lock(log);
        if log.closed {
            bail!("an operator's socket closed during the run");
        }
        let within = |t: &&u64| **t >= window_start && **t < window_end;
        inbox_frames = inbox_frames.max(log.inbox_frames.iter().filter(within).count());
        all_frames = all_frames.max(log.frames.iter().filter(within).count());
        for post in &sent {
            let conversation = guests
                .get(post.guest)
                .map(|g| g.conversation_id)
                .ok_or_else(|| anyhow!("no visitor {}", post.guest))?;
            // A lost post is counted as lost; no row can show it.
            let Some(&message) = stored.get(&(conversation, post.seq)) else {
                continue;
            };
            // The first row that shows this post or a later one of its conversation.
            match log.rows.iter().find(|(id, seq, _)| {
                *id == conversation
                    && *seq > 0
                    && stored
                        .get(&(conversation, *seq))
                        .is_some_and(|shown| *shown >= message)
            }) {
                Some((_, _, arrived)) => {
                    inbox.record(((arrived - post.stamp) / 1_000).clamp(1, 120_000_000))?
                }
                None => inbox_rows_missed += 1,
            }
        }
    }
    let seconds = (window_end - window_start) as f64 / 1e9;
    let flush = hearth::support::live::FLUSH_EVERY.as_secs_f64();
    Ok(SupportSide {
        guest_posts: sent.iter().filter(|s| !s.by_operator).count() as u64,
        operator_posts: sent.iter().filter(|s| s.by_operator).count() as u64,
        delivery_ms: Latency::of(&all),
        own_ms: Latency::of(&own),
        answers_ms: Latency::of(&answers),
        lost,
        duplicates,
        out_of_order,
        misrouted,
        refused: outcome
            .refused
            .iter()
            .filter(|stamp| **stamp >= window_start && **stamp < window_end)
            .count() as u64,
        first_refusal: outcome.first_refusal.clone(),
        inbox_row_ms: Latency::of(&inbox),
        inbox_rows_missed,
        inbox_frames_per_second: inbox_frames as f64 / seconds,
        all_frames_per_second: all_frames as f64 / seconds,
        // A window of n flushes can hold n + 1 of them.
        inbox_frames_bound: (seconds / flush + 1.0) / seconds,
        server_cpu_cores: tallied.cpu,
        server_rss_mib: tallied.rss,
        start_seconds: tallied.start_seconds,
        connect_seconds: tallied.connect_seconds,
    })
}

/// Starts every visitor's conversation as the widget's first message does, a few at
/// a time; answers their tokens and conversations, read from the frame's page.
async fn start_guests(http: &reqwest::Client, base: &str, key: &str) -> anyhow::Result<Vec<Guest>> {
    let mut started: Vec<(usize, Guest)> = stream::iter(0..GUESTS)
        .map(|index| async move {
            let page = http
                .post(format!("{base}/widget/{key}/start"))
                .form(&[
                    ("body", "Hello, I have a question."),
                    ("host", SITE_ORIGIN),
                    ("page", &format!("{SITE_ORIGIN}/products/{index}")),
                ])
                .send()
                .await?
                .error_for_status()?
                .text()
                .await?;
            let guest = guest_in(&page)
                .ok_or_else(|| anyhow!("visitor {index}'s frame names no conversation"))?;
            anyhow::Ok((index, guest))
        })
        .buffer_unordered(AT_ONCE)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    started.sort_by_key(|(index, _)| *index);
    Ok(started.into_iter().map(|(_, guest)| guest).collect())
}

/// The token (`name="guest" value="…"`) and conversation (`data-conversation-id="…"`)
/// of a started frame.
fn guest_in(page: &str) -> Option<Guest> {
    let after = |mark: &str| {
        let at = page.find(mark)? + mark.len();
        let rest = &page[at..];
        Some(rest[..rest.find('"')?].to_owned())
    };
    Some(Guest {
        token: after("name=\"guest\" value=\"")?,
        conversation_id: after("data-conversation-id=\"")?.parse().ok()?,
    })
}

/// Posts until `window_end`: the visitors in turn at [`GUEST_RATE`], and the operators
/// in turn at [`OPERATOR_RATE`], each answering the visitor who wrote last.
async fn post_for(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    guests: &Arc<Vec<Guest>>,
    operators: &[Seat],
    window_end: u64,
    outcome: Arc<Mutex<Outcome>>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(POSTS_AT_ONCE));
    let mut sends = JoinSet::new();
    let mut next_seq = vec![0u64; guests.len()];
    let (mut guest_posts, mut operator_posts) = (0usize, 0usize);
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    while now_ns() < window_end {
        tick.tick().await;
        let elapsed = started.elapsed().as_secs_f64();
        while (guest_posts as f64) < elapsed * GUEST_RATE {
            let guest = guest_posts % guests.len().max(1);
            guest_posts += 1;
            let Some(seq) = next_seq.get_mut(guest) else {
                return;
            };
            *seq += 1;
            let post = Sent {
                guest,
                seq: *seq,
                stamp: now_ns(),
                by_operator: false,
            };
            let Some(token) = guests.get(guest).map(|g| g.token.clone()) else {
                return;
            };
            let request = http
                .post(format!("{base}/widget/{key}/messages"))
                .header("HX-Request", "true")
                .form(&[
                    ("guest", token),
                    ("body", post_body(guest, post.seq, post.stamp)),
                ]);
            send(&mut sends, request, post, slots.clone(), outcome.clone());
        }
        while (operator_posts as f64) < elapsed * OPERATOR_RATE {
            let Some(seat) = operators.get(operator_posts % operators.len().max(1)) else {
                return;
            };
            operator_posts += 1;
            // The visitor who wrote last gets the answer.
            let guest = guest_posts.saturating_sub(1) % guests.len().max(1);
            let (Some(seq), Some(conversation)) = (
                next_seq.get_mut(guest),
                guests.get(guest).map(|g| g.conversation_id),
            ) else {
                return;
            };
            *seq += 1;
            let post = Sent {
                guest,
                seq: *seq,
                stamp: now_ns(),
                by_operator: true,
            };
            let request = http
                .post(format!("{base}/conversations/{conversation}/messages"))
                .header("Cookie", &seat.cookie)
                .header("X-CSRF-Token", &seat.csrf)
                .header("HX-Request", "true")
                .form(&[("body", post_body(GUESTS + guest, post.seq, post.stamp))]);
            send(&mut sends, request, post, slots.clone(), outcome.clone());
        }
    }
    // Every post is answered before the drain starts counting what arrived.
    while sends.join_next().await.is_some() {}
}

/// Sends one post on a task of its own (a slow answer must not delay the next post)
/// and notes whether hearth took it.
fn send(
    sends: &mut JoinSet<()>,
    request: reqwest::RequestBuilder,
    post: Sent,
    slots: Arc<tokio::sync::Semaphore>,
    outcome: Arc<Mutex<Outcome>>,
) {
    sends.spawn(async move {
        let Ok(_slot) = slots.acquire_owned().await else {
            return;
        };
        let answer = request.send().await;
        let mut outcome = lock(&outcome);
        match answer {
            Ok(resp) if resp.status().is_success() => outcome.sent.push(post),
            Ok(resp) => {
                outcome.refused.push(post.stamp);
                outcome
                    .first_refusal
                    .get_or_insert_with(|| format!("HTTP {}", resp.status()));
            }
            Err(e) => {
                outcome.refused.push(post.stamp);
                outcome.first_refusal.get_or_insert_with(|| e.to_string());
            }
        }
    });
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Reads a visitor's frames until aborted: each bench message once, in hearth's
/// order, and only of their own conversation.
async fn read_guest(mut socket: Socket, index: usize, log: Arc<Mutex<GuestLog>>) {
    while let Some(frame) = socket.next().await {
        let text = match frame {
            Ok(Message::Text(text)) => text,
            Ok(_) => continue,
            Err(_) => break,
        };
        let arrived = now_ns();
        let read = read_hearth_frame(&text);
        let mut log = lock(&log);
        for arrival in read.arrivals {
            if arrival.sender % GUESTS != index {
                log.misrouted += 1;
                continue;
            }
            if !log.seen.insert(arrival.seq) {
                log.duplicates += 1;
                continue;
            }
            if let Some(id) = arrival.message_id {
                if id < log.last_message_id {
                    log.out_of_order += 1;
                }
                log.last_message_id = log.last_message_id.max(id);
            }
            let id = arrival.message_id.unwrap_or(0);
            log.arrivals
                .push((arrival.seq, arrival.stamp_ns, arrived, id));
        }
    }
    lock(&log).closed = true;
}

/// Reads an operator's frames until aborted, noting the inbox rows each carries
/// (`id="inbox-N"`) and the last message each shows.
async fn read_inbox(mut socket: Socket, log: Arc<Mutex<OperatorLog>>) {
    while let Some(frame) = socket.next().await {
        let text = match frame {
            Ok(Message::Text(text)) => text,
            Ok(_) => continue,
            Err(_) => break,
        };
        let arrived = now_ns();
        let mut log = lock(&log);
        log.frames.push(arrived);
        let rows = rows_in(&text);
        if !rows.is_empty() {
            log.inbox_frames.push(arrived);
        }
        log.rows
            .extend(rows.into_iter().map(|(id, seq)| (id, seq, arrived)));
    }
    lock(&log).closed = true;
}

/// The rows of an inbox frame: each conversation id (`id="inbox-N"`), and the
/// sequence of the bench message its `inbox-last` shows (0 for any other text, such
/// as the visitor's first message).
fn rows_in(text: &str) -> Vec<(i64, u64)> {
    static ROW: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("id=\"inbox-"));
    static LAST: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("class=\"inbox-last\""));
    let mut rows = Vec::new();
    let mut rest = text;
    while let Some(at) = ROW.find(rest.as_bytes()) {
        rest = &rest[at + ROW.needle().len()..];
        let Some(id) = rest
            .find('"')
            .and_then(|end| rest[..end].parse::<i64>().ok())
        else {
            continue;
        };
        // This row's part of the frame: up to the next row.
        let row = &rest[..ROW.find(rest.as_bytes()).unwrap_or(rest.len())];
        let seq = LAST
            .find(row.as_bytes())
            .map(|at| &row[at..])
            .and_then(|last| last.find('>').map(|open| &last[open + 1..]))
            .and_then(|body| body.split('<').next())
            .and_then(|body| body.split(' ').nth(1))
            .and_then(|seq| seq.parse().ok())
            .unwrap_or(0);
        rows.push((id, seq));
    }
    rows
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_started_frame_names_its_token_and_conversation() {
        let page = r#"<main id="main" class="conversation" data-conversation-id="42" data-kind="support">
            <form><input type="hidden" name="guest" value="guest-7-3.abc_D-e"></form>"#;
        let guest = guest_in(page).expect("a guest");
        assert_eq!(guest.token, "guest-7-3.abc_D-e");
        assert_eq!(guest.conversation_id, 42);
        assert!(guest_in("<main></main>").is_none());
    }

    #[test]
    fn an_inbox_frame_names_each_row_and_the_message_it_shows() {
        let frame = r#"<div hx-swap-oob="afterbegin:#inbox-list"><li class="inbox-row" id="inbox-7" data-conversation-id="7"><a class="inbox-link" href="/inbox/7"><strong dir="auto">Visitor 1a</strong></a><p class="inbox-last" dir="auto">12 3 456789</p></li><li class="inbox-row" id="inbox-9"><p class="inbox-last" dir="auto">Hello, I have a question.</p></li></div>"#;
        assert_eq!(rows_in(frame), vec![(7, 3), (9, 0)]);
        assert!(rows_in("<div id=\"inbox-list\"></div>").is_empty());
    }
}
