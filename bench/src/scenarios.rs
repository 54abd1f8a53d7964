//! The issue's scenarios, run the same way against hearth and against limit-server,
//! one server at a time (the two never share the machine), and compared.
//!
//! For each server a scenario: starts it fresh (a new database for hearth), prepares
//! the users and rooms, notes the server's memory at rest, opens the fleet, then either
//! holds the scenario's rate for the warm-up and the measured window, or, for the idle
//! scenario, waits until the server's memory settles and measures what the sockets
//! cost. With `find_max` it then searches for the highest rate the server sustains
//! (p99 within the limit, nothing lost, duplicated, out of order or refused).
//!
//! The scale-out scenario (x) runs hearth only: two processes on one new PostgreSQL
//! database, every room's members alternating between them, and reports what a
//! delivery from one process to the other adds to one within a process.
use std::{sync::Arc, time::Duration};

use serde::Serialize;

use crate::{
    fleet::{Fleet, Layout, PostOver, StepPlan, StepResult, Target},
    procstat::Process,
    seed::{self, Population},
    servers::{RunningServer, ScratchDatabase, ServerKind, ServerSource},
};

/// Handshakes in flight while scenario (p) opens its sockets.
const PEOPLE_AT_ONCE: usize = 100;

/// One of the issue's scenarios (or a custom one).
#[derive(Clone, Debug, Serialize)]
pub struct Scenario {
    /// `a`, `b`, `c`, `x` or `custom`: the results file is `<date>-<name>.json`.
    pub name: String,
    pub title: String,
    pub layout: Layout,
    /// Posts per second; `None` for idle sockets.
    pub rate: Option<f64>,
    /// Handshakes in flight while the sockets open (`None`: the fleet's default).
    pub connect_at_once: Option<usize>,
}

impl Scenario {
    /// The issue's scenario `name`, with any of its numbers replaced.
    pub fn named(
        name: &str,
        sockets: Option<usize>,
        rooms: Option<usize>,
        rate: Option<f64>,
    ) -> anyhow::Result<Self> {
        let (default_sockets, default_rooms, default_rate) = match name {
            "a" => (1000, 1, Some(100.0)),
            "b" => (5000, 100, Some(1000.0)),
            // Idle sockets in 100 rooms: one room of 10,000 would measure the online
            // list's fan-out while they join, not what an idle socket costs.
            "c" => (10_000, 100, None),
            // Idle sockets of people with two tabs each, opened in waves of 100, as
            // people arrive in the morning: per-person state and handshake memory show.
            "p" => (2000, 100, None),
            // A burst: every handshake at once, as after a restart or a network blip.
            "h" => (5000, 50, None),
            // Scale-out: 20 people per room, half on each of two processes; each user
            // posts every 2 s, under the per-user limit.
            "x" => (2000, 100, Some(1000.0)),
            "custom" => (
                sockets.ok_or_else(|| anyhow::anyhow!("the custom scenario needs --sockets"))?,
                rooms.unwrap_or(1),
                Some(rate.ok_or_else(|| anyhow::anyhow!("the custom scenario needs --rate"))?),
            ),
            other => anyhow::bail!("unknown scenario {other}: a, b, c, h, p, x or custom"),
        };
        let layout = Layout {
            sockets: sockets.unwrap_or(default_sockets),
            rooms: rooms.unwrap_or(default_rooms),
            processes: if name == "x" { 2 } else { 1 },
            // Scenario (p): two sockets a person.
            people: if name == "p" {
                sockets.unwrap_or(default_sockets).div_ceil(2)
            } else {
                0
            },
        };
        let rate = default_rate.map(|r| rate.unwrap_or(r));
        let title = match rate {
            Some(rate) if layout.processes > 1 => format!(
                "({name}) {} rooms × {} sockets over {} processes on PostgreSQL, {rate} msg/s",
                layout.rooms,
                layout.sockets / layout.rooms,
                layout.processes,
            ),
            Some(rate) => format!(
                "({name}) {} room{} × {} sockets, {rate} msg/s",
                layout.rooms,
                if layout.rooms == 1 { "" } else { "s" },
                layout.sockets / layout.rooms,
            ),
            None if name == "h" => format!(
                "({name}) {} handshakes at once in {} rooms",
                layout.sockets, layout.rooms
            ),
            None if name == "p" => format!(
                "({name}) {} idle sockets of {} people in {} rooms, opened {PEOPLE_AT_ONCE} at a time",
                layout.sockets, layout.people, layout.rooms
            ),
            None => format!(
                "({name}) {} idle sockets in {} rooms",
                layout.sockets, layout.rooms
            ),
        };
        Ok(Self {
            name: name.to_owned(),
            title,
            layout,
            rate,
            connect_at_once: (name == "p").then_some(PEOPLE_AT_ONCE),
        })
    }
}

/// How a run measures.
#[derive(Clone, Debug, Serialize)]
pub struct Settings {
    pub warmup: Duration,
    pub measure: Duration,
    pub drain_limit: Duration,
    pub post_over: PostOver,
    pub find_max: bool,
    /// The find-max steps' own warm-up and window (shorter than the scenario's).
    pub step_warmup: Duration,
    pub step_measure: Duration,
    /// The p99 a sustained rate must stay under.
    pub p99_limit_ms: f64,
    /// Sign users up over HTTP instead of seeding the database.
    pub signup: bool,
    /// Longest wait for an idle server's memory to settle.
    pub settle_limit: Duration,
    /// The PostgreSQL server the scale-out scenario makes its database on
    /// (`postgres://user@host:port`).
    pub postgres_url: String,
    /// Log-ins at once during a second run of scenario (b) (0: no such run).
    pub logins: usize,
}

/// Scenario (b) run again while people log in: argon2 must not stall the chat.
#[derive(Clone, Debug, Serialize)]
pub struct LoginStorm {
    pub logins: usize,
    pub failed: usize,
    pub first_failure: Option<String>,
    /// From the first log-in sent to the last answered.
    pub seconds: f64,
    pub step: StepResult,
}

/// The search for the highest sustained rate.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FindMax {
    pub steps: Vec<StepResult>,
    /// The highest rate that held, posts per second.
    pub max_sustained_rate: Option<f64>,
    pub max_sustained_deliveries_per_second: Option<f64>,
    /// The rate the search may not pass (1 post per user per second).
    pub cap: f64,
    /// The search reached the cap without failing: the server can do more.
    pub reached_cap: bool,
}

/// What idle sockets cost.
#[derive(Clone, Debug, Serialize)]
pub struct IdleResult {
    pub sockets: usize,
    /// The server's memory after the users were prepared, before any socket.
    pub rss_before_bytes: u64,
    /// The server's memory with every socket open, once it settled.
    pub rss_with_sockets_bytes: u64,
    pub rss_per_socket_bytes: f64,
    /// CPU while the sockets sit idle.
    pub idle_cpu_cores: Option<f64>,
    pub settle_seconds: f64,
}

/// What a burst of handshakes costs, while it lasts and after.
#[derive(Clone, Debug, Serialize)]
pub struct BurstResult {
    pub sockets: usize,
    pub rss_before_bytes: u64,
    /// The most the server held while the handshakes came in (sampled every 20 ms).
    pub rss_peak_bytes: u64,
    /// Once every socket was open and the server settled.
    pub rss_open_bytes: u64,
    /// Once every socket had closed again and the server settled.
    pub rss_after_bytes: u64,
    pub connect_seconds: f64,
}

/// One server's part of a scenario.
#[derive(Clone, Debug, Serialize)]
pub struct ServerRun {
    pub server: ServerKind,
    pub prepare_seconds: f64,
    pub connect_seconds: f64,
    pub main: Option<StepResult>,
    pub idle: Option<IdleResult>,
    pub burst: Option<BurstResult>,
    pub find_max: Option<FindMax>,
    /// (b) again with log-ins at the same time, when asked for.
    pub login_storm: Option<LoginStorm>,
    /// Why the run stopped short, if it did.
    pub error: Option<String>,
}

impl ServerRun {
    fn new(server: ServerKind) -> Self {
        Self {
            server,
            prepare_seconds: 0.0,
            connect_seconds: 0.0,
            main: None,
            idle: None,
            burst: None,
            find_max: None,
            login_storm: None,
            error: None,
        }
    }
}

/// hearth's figure over limit-server's.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Ratios {
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    pub cpu: Option<f64>,
    pub max_rate: Option<f64>,
    pub rss_per_socket: Option<f64>,
}

impl Ratios {
    pub fn of(hearth: Option<&ServerRun>, limit: Option<&ServerRun>) -> Self {
        let (Some(hearth), Some(limit)) = (hearth, limit) else {
            return Self::default();
        };
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        };
        let main = |run: &ServerRun, pick: fn(&StepResult) -> Option<f64>| {
            run.main.as_ref().and_then(pick)
        };
        let max_rate = |run: &ServerRun| run.find_max.as_ref().and_then(|f| f.max_sustained_rate);
        let per_socket = |run: &ServerRun| run.idle.as_ref().map(|i| i.rss_per_socket_bytes);
        Self {
            p50: ratio(
                main(hearth, |s| Some(s.latency_ms.p50)),
                main(limit, |s| Some(s.latency_ms.p50)),
            ),
            p99: ratio(
                main(hearth, |s| Some(s.latency_ms.p99)),
                main(limit, |s| Some(s.latency_ms.p99)),
            ),
            cpu: ratio(
                main(hearth, |s| s.server_cpu_cores),
                main(limit, |s| s.server_cpu_cores),
            ),
            max_rate: ratio(max_rate(hearth), max_rate(limit)),
            rss_per_socket: ratio(per_socket(hearth), per_socket(limit)),
        }
    }
}

/// A target of the issue, and whether this run met it.
#[derive(Clone, Debug, Serialize)]
pub struct TargetCheck {
    pub target: String,
    pub met: bool,
    pub detail: String,
}

/// Checks the issue's targets that this scenario's figures speak to.
pub fn check_targets(
    scenario: &Scenario,
    hearth: Option<&ServerRun>,
    ratios: &Ratios,
) -> Vec<TargetCheck> {
    let mut checks = Vec::new();
    let Some(hearth) = hearth else { return checks };
    if let Some(main) = &hearth.main {
        let faults = main.lost + main.duplicates + main.out_of_order + main.misrouted;
        checks.push(TargetCheck {
            target: format!("{}: no loss, no duplicate, in order", scenario.name),
            met: faults == 0 && main.expected > 0,
            detail: format!(
                "{} of {} delivered, {} duplicates, {} out of order, {} misrouted",
                main.delivered, main.expected, main.duplicates, main.out_of_order, main.misrouted
            ),
        });
    }
    if let Some(p99) = ratios.p99 {
        checks.push(TargetCheck {
            target: format!("{}: p99 at most 2× limit-server's", scenario.name),
            met: p99 <= 2.0,
            detail: format!("{p99:.2}×"),
        });
    }
    if let Some(rate) = ratios.max_rate {
        checks.push(TargetCheck {
            target: format!(
                "{}: highest sustainable rate at least 70% of limit-server's",
                scenario.name
            ),
            met: rate >= 0.7,
            detail: format!("{:.0}%", rate * 100.0),
        });
    }
    if let Some((same, cross)) = hearth.main.as_ref().and_then(|m| {
        m.same_process_latency_ms
            .as_ref()
            .zip(m.cross_process_latency_ms.as_ref())
    }) {
        let added = cross.p99 - same.p99;
        checks.push(TargetCheck {
            target: format!(
                "{}: delivery across processes adds at most 20 ms at p99",
                scenario.name
            ),
            met: added <= 20.0,
            detail: format!(
                "{added:+.1} ms (p99 {:.1} ms across, {:.1} ms within a process; p50 {:+.1} ms)",
                cross.p99,
                same.p99,
                cross.p50 - same.p50
            ),
        });
    }
    if let (Some(main), Some(storm)) = (&hearth.main, &hearth.login_storm) {
        let ratio = storm.step.latency_ms.p99 / main.latency_ms.p99.max(1e-9);
        checks.push(TargetCheck {
            target: format!(
                "{}: with {} log-ins at once, p99 within 2× of its value without",
                scenario.name, storm.logins
            ),
            met: ratio <= 2.0 && storm.failed == 0 && storm.step.sustained(f64::INFINITY),
            detail: format!(
                "p99 {:.1} ms against {:.1} ms ({ratio:.2}×); {} of {} log-ins failed, all done in {:.1} s",
                storm.step.latency_ms.p99, main.latency_ms.p99, storm.failed, storm.logins, storm.seconds
            ),
        });
    }
    if let Some(idle) = &hearth.idle {
        checks.push(TargetCheck {
            target: format!(
                "{}: at most 16 KiB RSS per idle socket above the idle server",
                scenario.name
            ),
            met: idle.rss_per_socket_bytes <= 16.0 * 1024.0,
            detail: format!("{:.1} KiB", idle.rss_per_socket_bytes / 1024.0),
        });
        checks.push(TargetCheck {
            target: format!(
                "{}: at most 8 KiB RSS per idle socket above the idle server (issue 18)",
                scenario.name
            ),
            met: idle.rss_per_socket_bytes <= 8.0 * 1024.0,
            detail: format!("{:.1} KiB", idle.rss_per_socket_bytes / 1024.0),
        });
    }
    checks
}

/// Runs `scenario` against one server from `source` (or, for the scale-out scenario,
/// several processes of it on one new PostgreSQL database). Errors end up in the
/// result (and the server's log tail in the error), so one server failing still leaves
/// the other's figures.
pub async fn run_on(
    kind: ServerKind,
    source: &ServerSource,
    scenario: &Scenario,
    settings: &Settings,
) -> ServerRun {
    let mut run = ServerRun::new(kind);
    // Signing everyone up from one address needs hearth's sign-up limit raised.
    let mut env = match (kind, settings.signup) {
        (ServerKind::Hearth, true) => vec![(
            "HEARTH_SIGNUP_BURST".to_owned(),
            (scenario.layout.sockets + 10).to_string(),
        )],
        _ => Vec::new(),
    };
    // The burst comes from one address here, where in use it comes from many.
    if kind == ServerKind::Hearth && scenario.name == "h" {
        env.push((
            "HEARTH_CONNECTIONS_PER_ADDRESS".to_owned(),
            (scenario.layout.sockets + 10).to_string(),
        ));
    }
    let processes = scenario.layout.processes.max(1);
    let database = if processes > 1 {
        match shared_database(kind, source, settings).await {
            Ok(database) => Some(database),
            Err(e) => {
                run.error = Some(format!("{e:#}"));
                return run;
            }
        }
    } else {
        None
    };
    let mut servers = Vec::with_capacity(processes);
    for _ in 0..processes {
        let url = database.as_ref().map(|d| d.url.as_str());
        match RunningServer::start(kind, source, &env, url).await {
            Ok(server) => servers.push(server),
            Err(e) => {
                run.error = Some(format!("{e:#}"));
                break;
            }
        }
    }
    if run.error.is_none() {
        if let Err(e) = measure(&mut servers, scenario, settings, &mut run).await {
            let mut message = format!("{e:#}");
            for server in &mut servers {
                if server.has_exited() {
                    message.push_str(&format!(
                        "\n{kind} at {} exited; its log ends with:\n{}",
                        server.authority,
                        server.log_tail()
                    ));
                }
            }
            eprintln!("  {kind}: {message}");
            run.error = Some(message);
        }
    }
    for server in servers {
        server.stop().await;
    }
    if let Some(database) = database {
        database.drop_now().await;
    }
    run
}

/// The database several hearth processes share: a new one on `--postgres-url`.
async fn shared_database(
    kind: ServerKind,
    source: &ServerSource,
    settings: &Settings,
) -> anyhow::Result<ScratchDatabase> {
    anyhow::ensure!(
        kind == ServerKind::Hearth,
        "only hearth runs as several processes"
    );
    anyhow::ensure!(
        matches!(source, ServerSource::Spawn(_)),
        "the scale-out scenario starts its own hearth processes (drop --hearth-url)"
    );
    ScratchDatabase::create(
        &settings.postgres_url,
        &format!("bench_{}", seed::run_tag()),
    )
    .await
    .map_err(anyhow::Error::msg)
}

async fn measure(
    servers: &mut [RunningServer],
    scenario: &Scenario,
    settings: &Settings,
    run: &mut ServerRun,
) -> anyhow::Result<()> {
    let first = servers
        .first()
        .ok_or_else(|| anyhow::anyhow!("no server to measure"))?;
    let kind = first.kind;
    let layout = scenario.layout;
    let prepare_started = std::time::Instant::now();
    let population = match kind {
        ServerKind::Limit => Population::default(),
        ServerKind::Hearth => prepare_hearth(first, layout, settings.signup).await?,
    };
    run.prepare_seconds = prepare_started.elapsed().as_secs_f64();
    eprintln!(
        "  {kind}: {} users and {} rooms ready in {:.1} s",
        population.seats.len(),
        population.rooms.len(),
        run.prepare_seconds
    );

    // Memory at rest, before any socket.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let processes: Vec<Process> = servers.iter().filter_map(RunningServer::process).collect();
    let rss_before = crate::procstat::total_rss(&processes);

    let target = Arc::new(Target {
        kind,
        authorities: servers.iter().map(|s| s.authority.clone()).collect(),
        population,
    });
    if scenario.name == "h" {
        let process = processes.first().copied();
        run.burst = Some(measure_burst(target, layout, process, rss_before, settings).await?);
        return Ok(());
    }
    let mut fleet = match scenario.connect_at_once {
        Some(at_once) => Fleet::connect_with(target.clone(), layout, at_once).await?,
        None => Fleet::connect(target.clone(), layout).await?,
    };
    run.connect_seconds = fleet.connect_seconds;
    eprintln!(
        "  {kind}: {} sockets open in {:.1} s",
        layout.sockets, fleet.connect_seconds
    );

    let Some(rate) = scenario.rate else {
        let process = processes.first().copied();
        run.idle = Some(measure_idle(&fleet, process, rss_before, settings).await?);
        fleet.close().await;
        return Ok(());
    };

    // Let the joins' presence frames go out before the clock starts.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rate = rate.min(layout.sockets as f64);
    let plan = StepPlan {
        rate,
        warmup: settings.warmup,
        measure: settings.measure,
        drain_limit: settings.drain_limit,
        post_over: settings.post_over,
    };
    let main = fleet.run_step(&plan, &processes).await;
    print_step(kind, &main, settings.p99_limit_ms);
    let main_held = main.sustained(settings.p99_limit_ms);
    run.main = Some(main);

    if kind == ServerKind::Hearth && scenario.name == "b" && settings.logins > 0 {
        let storm = log_in_storm(first, &target, settings.logins, plan.warmup);
        let (step, (logins, failures, seconds)) =
            tokio::join!(fleet.run_step(&plan, &processes), storm);
        eprint!("  with {logins} log-ins at once ({seconds:.1} s): ");
        print_step(kind, &step, settings.p99_limit_ms);
        run.login_storm = Some(LoginStorm {
            logins,
            failed: failures.len(),
            first_failure: failures.into_iter().next(),
            seconds,
            step,
        });
    }

    if settings.find_max {
        let step_plan = StepPlan {
            warmup: settings.step_warmup,
            measure: settings.step_measure,
            ..plan
        };
        let (fleet_after, found) = find_max(
            fleet,
            target,
            step_plan,
            rate,
            main_held,
            &processes,
            settings.p99_limit_ms,
        )
        .await;
        run.find_max = Some(found);
        fleet = fleet_after?;
    }
    fleet.close().await;
    Ok(())
}

/// After `wait` (the step's warm-up), `count` of the fleet's users log in at once
/// over HTTP; answers how many, the failures and how long they took.
///
/// The log-ins are other people's browsers, not part of the instrument: they run on a
/// thread and runtime of their own, so that their client-side work (building 50 HTTP
/// clients, reading the pages) does not hold up the tasks that time deliveries.
async fn log_in_storm(
    server: &RunningServer,
    target: &Target,
    count: usize,
    wait: Duration,
) -> (usize, Vec<String>, f64) {
    tokio::time::sleep(wait).await;
    let base = server.http_url("");
    let names: Vec<String> = target
        .population
        .seats
        .iter()
        .take(count)
        .map(|seat| seat.username.clone())
        .collect();
    let logins = names.len();
    let (done, answer) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("log-in-storm".into())
        .spawn(move || {
            let storm = async {
                let started = std::time::Instant::now();
                let results = futures_util::future::join_all(
                    names.iter().map(|name| seed::log_in_over_http(&base, name)),
                )
                .await;
                let failures: Vec<String> = results
                    .into_iter()
                    .filter_map(|r| r.err().map(|e| format!("{e:#}")))
                    .collect();
                (failures, started.elapsed().as_secs_f64())
            };
            let outcome = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|runtime| runtime.block_on(storm));
            let _ = done.send(outcome);
        });
    let outcome = match spawned {
        Ok(_) => answer.await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match outcome {
        Ok(Ok((failures, seconds))) => (logins, failures, seconds),
        Ok(Err(e)) => (
            logins,
            vec![format!("cannot start the log-ins' runtime: {e}")],
            0.0,
        ),
        Err(e) => (
            logins,
            vec![format!("the log-ins' thread failed: {e}")],
            0.0,
        ),
    }
}

async fn prepare_hearth(
    server: &RunningServer,
    layout: Layout,
    signup: bool,
) -> anyhow::Result<Population> {
    let tag = seed::run_tag();
    if signup {
        return seed::sign_up_over_http(
            &server.http_url(""),
            layout.people_needed(),
            layout.rooms,
            &tag,
        )
        .await;
    }
    let database_url = server
        .database_url
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("seeding needs hearth's database: pass --database-url with --hearth-url, or use --signup"))?;
    seed::seed_database(database_url, layout.people_needed(), layout.rooms, &tag).await
}

/// Waits until the server's memory settles: four readings in a row, half a second
/// apart, within 0.5% of each other (or the settle limit). Answers the last reading.
async fn settled_rss(process: Process, settings: &Settings) -> anyhow::Result<u64> {
    let started = std::time::Instant::now();
    let mut readings: Vec<u64> = Vec::new();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let rss = process
            .rss_bytes()
            .ok_or_else(|| anyhow::anyhow!("the server is gone"))?;
        readings.push(rss);
        let last = &readings[readings.len().saturating_sub(4)..];
        let (low, high) = (
            last.iter().min().copied().unwrap_or(0),
            last.iter().max().copied().unwrap_or(0),
        );
        let settled = last.len() == 4 && (high - low) as f64 <= high as f64 * 0.005;
        if settled || started.elapsed() >= settings.settle_limit {
            return Ok(rss);
        }
    }
}

/// Opens every socket of `layout` at once, samples the server's memory meanwhile,
/// then closes them all and reads what stayed.
async fn measure_burst(
    target: Arc<Target>,
    layout: Layout,
    process: Option<Process>,
    rss_before: Option<u64>,
    settings: &Settings,
) -> anyhow::Result<BurstResult> {
    let process = process.ok_or_else(|| anyhow::anyhow!("the burst needs the server's pid"))?;
    let rss_before =
        rss_before.ok_or_else(|| anyhow::anyhow!("cannot read the server's memory"))?;
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = tokio::spawn({
        let sampling = sampling.clone();
        async move {
            let mut peak = 0;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(process.rss_bytes().unwrap_or(0));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            peak
        }
    });
    let fleet = Fleet::connect_all_at_once(target, layout).await;
    let fleet = match fleet {
        Ok(fleet) => fleet,
        Err(e) => {
            sampling.store(false, std::sync::atomic::Ordering::Relaxed);
            let _ = sampler.await;
            return Err(e);
        }
    };
    let connect_seconds = fleet.connect_seconds;
    let rss_open = settled_rss(process, settings).await?;
    fleet.close().await;
    let rss_after = settled_rss(process, settings).await?;
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let rss_peak = sampler.await?.max(rss_open);
    eprintln!(
        "  burst: {:.1} MiB before, peak {:.1} MiB, {:.1} MiB with {} sockets open ({connect_seconds:.1} s), {:.1} MiB after they closed",
        rss_before as f64 / 1048576.0,
        rss_peak as f64 / 1048576.0,
        rss_open as f64 / 1048576.0,
        layout.sockets,
        rss_after as f64 / 1048576.0,
    );
    Ok(BurstResult {
        sockets: layout.sockets,
        rss_before_bytes: rss_before,
        rss_peak_bytes: rss_peak,
        rss_open_bytes: rss_open,
        rss_after_bytes: rss_after,
        connect_seconds,
    })
}

async fn measure_idle(
    fleet: &Fleet,
    process: Option<Process>,
    rss_before: Option<u64>,
    settings: &Settings,
) -> anyhow::Result<IdleResult> {
    let process = process.ok_or_else(|| {
        anyhow::anyhow!("the idle scenario needs the server's pid (--hearth-pid / --limit-pid)")
    })?;
    let rss_before =
        rss_before.ok_or_else(|| anyhow::anyhow!("cannot read the server's memory"))?;
    let started = std::time::Instant::now();
    settled_rss(process, settings).await?;
    let settle_seconds = started.elapsed().as_secs_f64();
    let cpu_start = process.cpu();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle_cpu_cores = cpu_start.zip(process.cpu()).map(|(a, b)| a.cores_until(&b));
    let rss_with_sockets = process
        .rss_bytes()
        .ok_or_else(|| anyhow::anyhow!("the server is gone"))?;
    let sockets = fleet.open_sockets();
    anyhow::ensure!(
        sockets == fleet.layout().sockets,
        "only {sockets} of {} sockets stayed open",
        fleet.layout().sockets
    );
    let per_socket = rss_with_sockets.saturating_sub(rss_before) as f64 / sockets as f64;
    eprintln!(
        "  idle: {:.1} MiB before, {:.1} MiB with {sockets} sockets: {:.1} KiB per socket, {:.3} cores idle",
        rss_before as f64 / 1048576.0,
        rss_with_sockets as f64 / 1048576.0,
        per_socket / 1024.0,
        idle_cpu_cores.unwrap_or_default()
    );
    Ok(IdleResult {
        sockets,
        rss_before_bytes: rss_before,
        rss_with_sockets_bytes: rss_with_sockets,
        rss_per_socket_bytes: per_socket,
        idle_cpu_cores,
        settle_seconds,
    })
}

/// Searches for the highest rate that holds: up by half again while steps hold, down
/// by half while they fail, then between the highest that held and the lowest that
/// failed until they are within 15%. After a failed step the sockets are opened anew
/// (the server may have closed slow ones). Answers the fleet to close.
async fn find_max(
    mut fleet: Fleet,
    target: Arc<Target>,
    plan: StepPlan,
    start_rate: f64,
    start_held: bool,
    processes: &[Process],
    p99_limit_ms: f64,
) -> (anyhow::Result<Fleet>, FindMax) {
    const MAX_STEPS: usize = 14;
    let layout = fleet.layout();
    let cap = layout.sockets as f64;
    let mut found = FindMax {
        cap,
        ..FindMax::default()
    };
    let (mut held, mut failed) = if start_held {
        (Some(start_rate), None)
    } else {
        (None, Some(start_rate))
    };
    let mut last_failed = !start_held;
    for _ in 0..MAX_STEPS {
        let rate = match (held, failed) {
            (Some(h), None) if h >= cap => {
                found.reached_cap = true;
                break;
            }
            (Some(h), None) => (h * 1.5).min(cap),
            (None, Some(f)) if f / 2.0 < 1.0 => break,
            (None, Some(f)) => f / 2.0,
            (Some(h), Some(f)) if f / h <= 1.15 => break,
            (Some(h), Some(f)) => (h * f).sqrt(),
            (None, None) => start_rate,
        };
        if last_failed {
            fleet.close().await;
            // Give the server time to work off what it still holds.
            tokio::time::sleep(Duration::from_secs(2)).await;
            fleet = match Fleet::connect(target.clone(), layout).await {
                Ok(fleet) => fleet,
                Err(e) => {
                    return (
                        Err(e.context("reopening the sockets for the next find-max step")),
                        found,
                    );
                }
            };
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let step = fleet
            .run_step(
                &StepPlan {
                    rate,
                    ..plan.clone()
                },
                processes,
            )
            .await;
        print_step(target.kind, &step, p99_limit_ms);
        last_failed = !step.sustained(p99_limit_ms);
        if last_failed {
            failed = Some(failed.map_or(rate, |f: f64| f.min(rate)));
        } else {
            held = Some(held.map_or(rate, |h: f64| h.max(rate)));
        }
        found.steps.push(step);
    }
    found.max_sustained_rate = held;
    found.max_sustained_deliveries_per_second = held.and_then(|rate| {
        found
            .steps
            .iter()
            .filter(|s| s.rate == rate)
            .map(|s| s.deliveries_per_second)
            .next()
            .or(Some(rate * layout.sockets as f64 / layout.rooms as f64))
    });
    eprintln!(
        "  {}: highest sustained rate {}",
        target.kind,
        match held {
            Some(rate) if found.reached_cap =>
                format!("≥ {rate:.0} msg/s (the cap of 1 msg/s per user)"),
            Some(rate) => format!("{rate:.0} msg/s"),
            None => "none".to_owned(),
        }
    );
    (Ok(fleet), found)
}

fn print_step(kind: ServerKind, step: &StepResult, p99_limit_ms: f64) {
    let problems = step.problems(p99_limit_ms);
    eprintln!(
        "  {kind} @ {:.0} msg/s ({:.0} deliveries/s): p50 {:.1} ms, p99 {:.1} ms, p99.9 {:.1} ms, max {:.1} ms; {}/{} delivered; server {} cores, loadgen {:.2} cores{}",
        step.rate,
        step.deliveries_per_second,
        step.latency_ms.p50,
        step.latency_ms.p99,
        step.latency_ms.p999,
        step.latency_ms.max,
        step.delivered,
        step.expected,
        step.server_cpu_cores
            .map_or("?".to_owned(), |c| format!("{c:.2}")),
        step.loadgen_cpu_cores,
        if problems.is_empty() {
            String::new()
        } else {
            format!("; NOT SUSTAINED: {}", problems.join(", "))
        }
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issues_scenarios_have_its_numbers() {
        let a = Scenario::named("a", None, None, None).ok();
        assert_eq!(
            a.as_ref()
                .map(|s| (s.layout.sockets, s.layout.rooms, s.rate)),
            Some((1000, 1, Some(100.0)))
        );
        let b = Scenario::named("b", None, None, None).ok();
        assert_eq!(
            b.as_ref()
                .map(|s| (s.layout.sockets, s.layout.rooms, s.rate)),
            Some((5000, 100, Some(1000.0)))
        );
        let c = Scenario::named("c", Some(50), Some(5), None).ok();
        assert_eq!(
            c.as_ref()
                .map(|s| (s.layout.sockets, s.layout.rooms, s.rate)),
            Some((50, 5, None))
        );
        let x = Scenario::named("x", None, None, None).ok();
        assert_eq!(
            x.as_ref()
                .map(|s| (s.layout.sockets, s.layout.rooms, s.layout.processes, s.rate)),
            Some((2000, 100, 2, Some(1000.0)))
        );
        assert!(Scenario::named("custom", None, None, Some(5.0)).is_err());
        assert!(Scenario::named("z", None, None, None).is_err());
    }
}
