//! `loadgen`: runs issue 6's scenarios against hearth and against limit-server in the
//! same run, prints how they compare, and writes the results (JSON per scenario, the
//! SVG chart, a markdown table). See `bench/README.md` for the commands.
use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use clap::{Parser, ValueEnum};
use hearth_bench::{
    fleet::PostOver,
    report::{self, Machine, ScenarioReport},
    scenarios::{self, Ratios, Scenario, Settings},
    servers::{ServerKind, ServerSource, authority_of},
};

#[derive(Parser)]
#[command(
    name = "loadgen",
    about = "hearth's load generator: the issue-6 scenarios against hearth and limit-server"
)]
struct Cli {
    /// Scenarios to run, in order: a (1 room × 1000 sockets, 100 msg/s), b (100 rooms ×
    /// 50 sockets, 1000 msg/s), c (10,000 idle sockets), p (2,000 idle sockets of 1,000
    /// people, opened 100 at a time), h (5,000 handshakes at once:
    /// peak and retained memory), x (scale-out: 100 rooms × 20 sockets over two hearth
    /// processes on PostgreSQL, 1000 msg/s; hearth only), http (the room page and
    /// posting over HTTP under 64 clients, with wrk; hearth only), search (a million
    /// messages searched while people post, SQLite and PostgreSQL; hearth only),
    /// upload (five 100 MB files uploaded while 20 people talk: memory and their
    /// latency; hearth only), support (2,000 widget visitors and 10 operators on one
    /// site against a room of 2,010 at the same rate, on hearth and on limit-server),
    /// custom (needs --sockets and --rate).
    #[arg(
        long = "scenario",
        value_delimiter = ',',
        default_value = "a,b,c,p,h,x,http,search,upload,support"
    )]
    scenarios: Vec<String>,
    /// Start this hearth binary for every scenario (default: target/release/hearth).
    #[arg(long, value_name = "PATH", conflicts_with = "hearth_url")]
    spawn_hearth: Option<PathBuf>,
    /// Use the hearth already running here instead (e.g. http://127.0.0.1:8080).
    #[arg(long, value_name = "URL")]
    hearth_url: Option<String>,
    /// Its pid, for CPU and memory.
    #[arg(long, requires = "hearth_url")]
    hearth_pid: Option<u32>,
    /// Its database, for seeding users (not needed with --signup).
    #[arg(long, requires = "hearth_url")]
    database_url: Option<String>,
    /// Start this limit-server binary (default: target/limit-server/release/limit-server).
    #[arg(long, value_name = "PATH", conflicts_with = "limit_url")]
    limit_bin: Option<PathBuf>,
    /// Use the limit-server already running here instead (e.g. ws://127.0.0.1:9001).
    #[arg(long, value_name = "URL")]
    limit_url: Option<String>,
    /// Its pid, for CPU and memory.
    #[arg(long, requires = "limit_url")]
    limit_pid: Option<u32>,
    /// Which servers to measure (ratios need both).
    #[arg(long, value_enum, default_value = "both")]
    servers: Servers,
    /// Replace the scenarios' number of sockets.
    #[arg(long)]
    sockets: Option<usize>,
    /// Replace the scenarios' number of rooms.
    #[arg(long)]
    rooms: Option<usize>,
    /// Replace the scenarios' rate, posts per second in total.
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds measured per scenario, after the warm-up.
    #[arg(long, default_value_t = 20.0)]
    duration: f64,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 5.0)]
    warmup: f64,
    /// Seconds to wait after the window for messages on their way (later ones count as lost).
    #[arg(long, default_value_t = 5.0)]
    drain: f64,
    /// A smoke run: 5 s measured after 1 s of warm-up, short find-max steps.
    #[arg(long)]
    quick: bool,
    /// Also search each server's highest rate with p99 under --p99-limit-ms and no loss.
    #[arg(long)]
    find_max: bool,
    /// Seconds measured per find-max step.
    #[arg(long, default_value_t = 8.0)]
    step_duration: f64,
    /// Seconds of warm-up per find-max step.
    #[arg(long, default_value_t = 2.0)]
    step_warmup: f64,
    /// The p99 a sustained rate stays under, in milliseconds.
    #[arg(long, default_value_t = 100.0)]
    p99_limit_ms: f64,
    /// Post over the socket or over HTTP (limit-server always takes posts on the socket).
    #[arg(long, value_enum, default_value = "socket")]
    post_over: PostOver,
    /// Sign the users up over HTTP (one argon2 hash each: small runs only) instead of
    /// seeding hearth's database.
    #[arg(long)]
    signup: bool,
    /// Where results go (default: bench/results).
    #[arg(long)]
    results_dir: Option<PathBuf>,
    /// The PostgreSQL server the scale-out scenario (x) creates its database on.
    #[arg(
        long,
        env = "HEARTH_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    postgres_url: String,
    /// Log-ins at once during a second run of scenario (b), to show argon2 does not
    /// stall the chat (0: skip that run).
    #[arg(long, default_value_t = 50)]
    logins: usize,
    /// Print the results but write no file.
    #[arg(long)]
    no_save: bool,
    /// Messages the search scenario seeds (the figure is a million).
    #[arg(long, default_value_t = 1_000_000)]
    search_messages: usize,
    /// Measure the search scenario on SQLite only.
    #[arg(long)]
    search_sqlite_only: bool,
    /// Measure the search scenario on PostgreSQL only.
    #[arg(long, conflicts_with = "search_sqlite_only")]
    search_postgres_only: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Servers {
    Both,
    Hearth,
    Limit,
}

fn workspace_path(relative: &str) -> PathBuf {
    // The bench crate sits in the workspace root.
    let bench = Path::new(env!("CARGO_MANIFEST_DIR"));
    bench.parent().unwrap_or(bench).join(relative)
}

/// `bench/results`, where results go unless `--results-dir` says otherwise.
fn results_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("results")
}

impl Cli {
    fn settings(&self) -> Settings {
        let seconds = Duration::from_secs_f64;
        let (warmup, measure, drain, step_warmup, step_measure) = if self.quick {
            (1.0, 5.0, 3.0, 1.0, 3.0)
        } else {
            (
                self.warmup,
                self.duration,
                self.drain,
                self.step_warmup,
                self.step_duration,
            )
        };
        Settings {
            warmup: seconds(warmup),
            measure: seconds(measure),
            drain_limit: seconds(drain),
            post_over: self.post_over,
            find_max: self.find_max,
            step_warmup: seconds(step_warmup),
            step_measure: seconds(step_measure),
            p99_limit_ms: self.p99_limit_ms,
            signup: self.signup,
            settle_limit: Duration::from_secs(if self.quick { 10 } else { 30 }),
            postgres_url: self.postgres_url.clone(),
            logins: self.logins,
        }
    }

    fn hearth_source(&self) -> anyhow::Result<ServerSource> {
        Ok(match &self.hearth_url {
            Some(url) => ServerSource::External {
                authority: authority_of(url)?,
                pid: self.hearth_pid,
                database_url: self.database_url.clone(),
            },
            None => ServerSource::Spawn(
                self.spawn_hearth
                    .clone()
                    .unwrap_or_else(|| workspace_path("target/release/hearth")),
            ),
        })
    }

    fn limit_source(&self) -> anyhow::Result<ServerSource> {
        Ok(match &self.limit_url {
            Some(url) => ServerSource::External {
                authority: authority_of(url)?,
                pid: self.limit_pid,
                database_url: None,
            },
            None => ServerSource::Spawn(
                self.limit_bin
                    .clone()
                    .unwrap_or_else(|| workspace_path("target/limit-server/release/limit-server")),
            ),
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(2),
        Err(e) => {
            eprintln!("loadgen: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Answers whether every server run measured something.
async fn run(cli: Cli) -> anyhow::Result<bool> {
    let open_files = rlimit::increase_nofile_limit(u64::MAX)?;
    let settings = cli.settings();
    let with_http = cli.scenarios.iter().any(|name| name.trim() == "http");
    let with_search = cli.scenarios.iter().any(|name| name.trim() == "search");
    let with_upload = cli.scenarios.iter().any(|name| name.trim() == "upload");
    let with_support = cli.scenarios.iter().any(|name| name.trim() == "support");
    let scenarios = cli
        .scenarios
        .iter()
        .filter(|name| !matches!(name.trim(), "http" | "search" | "upload" | "support"))
        .map(|name| Scenario::named(name.trim(), cli.sockets, cli.rooms, cli.rate))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let largest = scenarios
        .iter()
        .map(|s| s.layout.sockets)
        .max()
        .unwrap_or(0) as u64;
    if open_files < largest + 256 {
        eprintln!(
            "loadgen: warning: the open-files limit is {open_files}, too low for {largest} sockets (raise `ulimit -n`)"
        );
    }
    let hearth = (cli.servers != Servers::Limit)
        .then(|| cli.hearth_source())
        .transpose()?;
    let limit = (cli.servers != Servers::Hearth)
        .then(|| cli.limit_source())
        .transpose()?;
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let machine = Machine::here();
    eprintln!(
        "loadgen: {} on {} ({} cores, load average {}), open-files limit {open_files}",
        machine.date, machine.cpu, machine.nproc, machine.load_average
    );

    let mut reports = Vec::new();
    let mut all_measured = true;
    for scenario in scenarios {
        eprintln!("\n{}", scenario.title);
        let mut runs = Vec::new();
        for (kind, source) in [(ServerKind::Hearth, &hearth), (ServerKind::Limit, &limit)] {
            let Some(source) = source else { continue };
            if kind == ServerKind::Limit && scenario.layout.processes > 1 {
                eprintln!("  limit-server: skipped (it has no processes to spread over)");
                continue;
            }
            let run = scenarios::run_on(kind, source, &scenario, &settings).await;
            all_measured &= run.error.is_none();
            runs.push(run);
        }
        let hearth_run = runs
            .iter()
            .find(|r| r.server == ServerKind::Hearth)
            .cloned();
        let limit_run = runs.iter().find(|r| r.server == ServerKind::Limit).cloned();
        let ratios = Ratios::of(hearth_run.as_ref(), limit_run.as_ref());
        let targets = scenarios::check_targets(&scenario, hearth_run.as_ref(), &ratios);
        let report = ScenarioReport {
            scenario,
            machine: machine.clone(),
            command: command.clone(),
            settings: settings.clone(),
            hearth: hearth_run,
            limit_server: limit_run,
            ratios,
            targets,
        };
        if !cli.no_save {
            let dir = cli.results_dir.clone().unwrap_or_else(results_dir);
            let path = report.write_json(&dir)?;
            eprintln!("  results: {}", path.display());
        }
        reports.push(report);
    }

    if !cli.no_save {
        let dir = cli.results_dir.clone().unwrap_or_else(results_dir);
        let chart = dir.join("latency.svg");
        if report::write_chart(&reports, settings.p99_limit_ms, &chart)? {
            eprintln!("loadgen: chart: {}", chart.display());
        }
    }
    println!("\n{}", report::markdown(&reports));

    if let (true, Some(source)) = (with_http, &hearth) {
        eprintln!("\n(http) the room page and posting over HTTP, 64 clients (wrk)");
        let dir = tempfile::tempdir()?;
        let seconds = if cli.quick { 5 } else { 10 };
        let measured = hearth_bench::http::run(source, seconds, dir.path()).await;
        all_measured &= finish(&cli, &machine.date, "http", measured, |r| r.markdown())?;
    }
    if let (true, Some(source)) = (with_search, &hearth) {
        eprintln!(
            "\n(search) {} messages in 100 rooms, searched while people post",
            cli.search_messages
        );
        let dir = tempfile::tempdir()?;
        let seconds = if cli.quick { 5 } else { cli.duration as u64 };
        let postgres = (!cli.search_sqlite_only).then_some(cli.postgres_url.as_str());
        let sqlite = !cli.search_postgres_only;
        let measured = hearth_bench::search::run(
            source,
            cli.search_messages,
            seconds,
            dir.path(),
            sqlite,
            postgres,
        )
        .await;
        all_measured &= finish(&cli, &machine.date, "search", measured, |r| r.markdown())?;
    }
    if let (true, Some(source)) = (with_upload, &hearth) {
        eprintln!("\n(upload) 100 MB files uploaded while people talk");
        let dir = tempfile::tempdir()?;
        let measured = hearth_bench::upload::run(source, dir.path()).await;
        all_measured &= finish(&cli, &machine.date, "upload", measured, |r| r.markdown())?;
    }
    if let (true, Some(source)) = (with_support, &hearth) {
        eprintln!("\n(support) 2,000 widget visitors and 10 operators, against a room of 2,010");
        let dir = tempfile::tempdir()?;
        let timing = hearth_bench::support::Timing {
            warmup: settings.warmup,
            measure: settings.measure,
            drain_limit: settings.drain_limit,
        };
        let measured = hearth_bench::support::run(source, limit.as_ref(), dir.path(), timing).await;
        all_measured &= finish(&cli, &machine.date, "support", measured, |r| r.markdown())?;
    }
    Ok(all_measured)
}

/// Writes a hearth-only scenario's report to `<date>-<name>.json` (unless `--no-save`)
/// and prints its markdown; answers whether it was measured.
fn finish<R: serde::Serialize>(
    cli: &Cli,
    date: &str,
    name: &str,
    measured: anyhow::Result<R>,
    markdown: impl Fn(&R) -> String,
) -> anyhow::Result<bool> {
    match measured {
        Ok(report) => {
            if !cli.no_save {
                let dir = cli.results_dir.clone().unwrap_or_else(results_dir);
                std::fs::create_dir_all(&dir)?;
                let path = dir.join(format!("{date}-{name}.json"));
                std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
                eprintln!("  results: {}", path.display());
            }
            println!("{}", markdown(&report));
            Ok(true)
        }
        Err(e) => {
            eprintln!("  hearth: {e:#}");
            Ok(false)
        }
    }
}
