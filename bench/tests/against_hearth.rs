//! The instrument checked against a real hearth (in this process, on a temporary SQLite
//! file): users seeded through the admin path are signed in for hearth (their sockets
//! open, their posts are taken), and a small fleet counts every delivery of hearth's
//! real fragments, over the socket and over HTTP. If hearth's session format, cookie,
//! message fragment or composer answer drifts from what the load generator expects,
//! this fails rather than the benchmark quietly measuring nothing. The scale-out
//! variant runs two hearths on one PostgreSQL database (`HEARTH_TEST_POSTGRES_URL`)
//! and checks that deliveries are told apart by whether they crossed between them.
use std::{sync::Arc, time::Duration};

use hearth_bench::{
    fleet::{Fleet, Layout, PostOver, StepPlan, StepResult, Target},
    seed,
    servers::{ScratchDatabase, ServerKind},
};
use tokio::sync::oneshot;

struct RunningHearth {
    authority: String,
    database_url: String,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

/// A hearth on its own SQLite file, or on `shared` when given.
async fn hearth(shared: Option<&str>) -> RunningHearth {
    let dir = tempfile::tempdir().expect("a temp dir");
    let database_url = match shared {
        Some(url) => url.to_owned(),
        None => format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        ),
    };
    let mut config = hearth::Config::for_database(&database_url);
    config.shutdown_grace = Duration::from_secs(1);
    let server = hearth::Server::build(config).await.expect("hearth builds");
    let authority = server.local_addr().to_string();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = server
            .run_until(async {
                let _ = stopped.await;
            })
            .await;
    });
    RunningHearth {
        authority,
        database_url,
        stop,
        task,
        _dir: dir,
    }
}

async fn measured_step(post_over: PostOver) {
    let server = hearth(None).await;
    let layout = Layout {
        sockets: 6,
        rooms: 2,
        processes: 1,
        people: 0,
    };
    let step = run(&[&server], layout, post_over).await;
    stop(server).await;

    assert!(
        step.expected >= 6 * 3,
        "posts were sent and each goes to 3 sockets: {step:?}"
    );
    assert_counted(&step);
    assert!(
        step.same_process_latency_ms.is_none() && step.cross_process_latency_ms.is_none(),
        "one process has nothing to split: {step:?}"
    );
}

/// Seeds `layout` through the first server's database and runs one short step.
async fn run(servers: &[&RunningHearth], layout: Layout, post_over: PostOver) -> StepResult {
    let population = seed::seed_database(
        &servers[0].database_url,
        layout.sockets,
        layout.rooms,
        &seed::run_tag(),
    )
    .await
    .expect("seeding");
    assert_eq!(
        (population.seats.len(), population.rooms.len()),
        (layout.sockets, layout.rooms)
    );
    let target = Arc::new(Target {
        kind: ServerKind::Hearth,
        authorities: servers.iter().map(|s| s.authority.clone()).collect(),
        population,
    });
    let mut fleet = Fleet::connect(target, layout)
        .await
        .expect("every seeded user's socket opens");
    let plan = StepPlan {
        rate: layout.sockets as f64,
        warmup: Duration::from_millis(300),
        measure: Duration::from_millis(1500),
        drain_limit: Duration::from_secs(5),
        post_over,
    };
    let step = fleet.run_step(&plan, &[]).await;
    fleet.close().await;
    step
}

async fn stop(server: RunningHearth) {
    let _ = server.stop.send(());
    let _ = server.task.await;
}

/// Every delivery counted once, nothing refused or lost.
fn assert_counted(step: &StepResult) {
    assert_eq!(step.delivered, step.expected, "{step:?}");
    assert_eq!(
        (step.duplicates, step.out_of_order, step.misrouted),
        (0, 0, 0),
        "{step:?}"
    );
    assert_eq!(
        (step.refused, step.send_failures, step.http_errors),
        (0, 0, 0),
        "{step:?}"
    );
    assert!(
        step.latency_ms.samples == step.delivered && step.latency_ms.p50 > 0.0,
        "{step:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_users_post_over_their_sockets_and_every_delivery_is_counted() {
    measured_step(PostOver::Socket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_users_post_over_http_and_every_delivery_is_counted() {
    measured_step(PostOver::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs postgres"]
async fn deliveries_between_two_processes_are_told_from_those_within_one() {
    let postgres = std::env::var("HEARTH_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
    let database = ScratchDatabase::create(&postgres, &seed::run_tag())
        .await
        .expect("PostgreSQL is needed for this test (HEARTH_TEST_POSTGRES_URL)");
    let one = hearth(Some(&database.url)).await;
    let two = hearth(Some(&database.url)).await;
    // Two rooms of four: two members of each on each process.
    let layout = Layout {
        sockets: 8,
        rooms: 2,
        processes: 2,
        people: 0,
    };
    let step = run(&[&one, &two], layout, PostOver::Socket).await;
    stop(one).await;
    stop(two).await;
    database.drop_now().await;

    assert!(step.expected >= 8 * 4, "{step:?}");
    assert_counted(&step);
    let (Some(same), Some(cross)) = (
        &step.same_process_latency_ms,
        &step.cross_process_latency_ms,
    ) else {
        panic!("deliveries were not split by process: {step:?}");
    };
    // Each post reaches two sockets on its sender's process and two on the other.
    assert_eq!(same.samples, cross.samples, "{step:?}");
    assert_eq!(same.samples + cross.samples, step.delivered, "{step:?}");
}
