//! The instrument checked against a real hearth (in this process, on a temporary SQLite
//! file): users seeded through the admin path are signed in for hearth (their sockets
//! open, their posts are taken), and a small fleet counts every delivery of hearth's
//! real fragments, over the socket and over HTTP. If hearth's session format, cookie,
//! message fragment or composer answer drifts from what the load generator expects,
//! this fails rather than the benchmark quietly measuring nothing.
use std::{sync::Arc, time::Duration};

use hearth_bench::{
    fleet::{Fleet, Layout, PostOver, StepPlan, Target},
    seed,
    servers::ServerKind,
};
use tokio::sync::oneshot;

struct RunningHearth {
    authority: String,
    database_url: String,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

async fn hearth() -> RunningHearth {
    let dir = tempfile::tempdir().expect("a temp dir");
    let database_url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
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
    let server = hearth().await;
    let layout = Layout {
        sockets: 6,
        rooms: 2,
    };
    let population = seed::seed_database(
        &server.database_url,
        layout.sockets,
        layout.rooms,
        &seed::run_tag(),
    )
    .await
    .expect("seeding");
    assert_eq!((population.seats.len(), population.rooms.len()), (6, 2));
    let target = Arc::new(Target {
        kind: ServerKind::Hearth,
        authority: server.authority.clone(),
        population,
    });
    let mut fleet = Fleet::connect(target, layout)
        .await
        .expect("every seeded user's socket opens");
    let plan = StepPlan {
        rate: 6.0,
        warmup: Duration::from_millis(300),
        measure: Duration::from_millis(1500),
        drain_limit: Duration::from_secs(5),
        post_over,
    };
    let step = fleet.run_step(&plan, None).await;
    fleet.close().await;
    let _ = server.stop.send(());
    let _ = server.task.await;

    assert!(
        step.expected >= 6 * 3,
        "posts were sent and each goes to 3 sockets: {step:?}"
    );
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
