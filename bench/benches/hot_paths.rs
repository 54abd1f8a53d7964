//! Criterion micro-benchmarks of hearth's hot paths, through its public API:
//! - `render`: one message's live fragment (`hearth::chat::views::appended`), for a
//!   typical line and for a 4000-character body;
//! - `parse`: sanitising a body (`hearth::chat::MessageBody::parse`), 4000 characters
//!   of plain text and of text full of characters it removes;
//! - `hub`: the fan-out of one committed message to 1000 sockets of one conversation:
//!   the message rendered once (as the writer does) → `Hub::committed` queues a shared
//!   frame on every socket's queue → each of the 1000 queues is read (what the 1000
//!   socket tasks would do, minus the socket writes).
//!
//! `cargo bench -p hearth-bench --bench hot_paths` (add `-- hub` for one group).
use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;

use hearth::{
    chat::{MessageBody, MessageView, members::Members, source::ChatSource, views},
    live::{Committed, Hub, LiveSettings, LocalBus, OutgoingKind, SocketOwner},
};

const FANOUT_SOCKETS: usize = 1000;

fn message(id: i64, body: String) -> MessageView {
    MessageView {
        id,
        conversation_id: 1,
        author_id: 42,
        author: "alice_bench".to_owned(),
        author_avatar: None,
        body_html: Some(hearth::chat::format::render(&body)),
        body,
        created_at: 1_790_000_000_000,
        seq: id,
        updated_seq: id,
        edited_at: None,
        deleted_at: None,
        reply: None,
        reactions: Vec::new(),
        attachments: Vec::new(),
    }
}

fn render(c: &mut Criterion) {
    let mut group = c.benchmark_group("render");
    let typical = message(
        123_456,
        "see https://example.com/docs?page=2 for the <b>details</b> & the rest".to_owned(),
    );
    group.bench_function("appended/typical", |b| {
        b.iter(|| views::appended(std::slice::from_ref(black_box(&typical))).into_string())
    });
    let long = message(
        123_457,
        "lorem ipsum dolor sit amet, ".repeat(143)[..4000].to_owned(),
    );
    group.bench_function("appended/4000 chars", |b| {
        b.iter(|| views::appended(std::slice::from_ref(black_box(&long))).into_string())
    });
    group.finish();
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    let plain = "The quick brown fox jumps over the lazy dog. ".repeat(89)[..4000].to_owned();
    group.throughput(Throughput::Bytes(plain.len() as u64));
    group.bench_function("MessageBody/4000 plain", |b| {
        b.iter(|| MessageBody::parse(black_box(&plain)))
    });
    // Accents, emoji, tabs and newlines kept; NUL, BEL and bidi overrides removed.
    let mixed: String = "café ☕ déjà vu\t\u{7}ok\u{202E}\n\u{0}"
        .chars()
        .cycle()
        .take(4000)
        .collect();
    group.throughput(Throughput::Bytes(mixed.len() as u64));
    group.bench_function("MessageBody/4000 mixed", |b| {
        b.iter(|| MessageBody::parse(black_box(&mixed)))
    });
    group.finish();
}

fn hub_fanout(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("hub.db").display());
    let (hub, mut registrations, conversation_id) = runtime.block_on(async {
        let population =
            hearth_bench::seed::seed_database(&url, 1, 1, &hearth_bench::seed::run_tag())
                .await
                .expect("seeding the bench database");
        let conversation_id = population.rooms[0];
        let db = hearth::db::connect(&url).await.expect("the bench database");
        let members = Arc::new(Members::new(db.clone()));
        let events = hearth::app_events::Latest::load(&db)
            .await
            .expect("the published events");
        let source = Arc::new(ChatSource::new(
            db,
            members,
            events,
            hearth::support::live::Inbox::new(),
        ));
        let hub = Hub::start(
            Box::new(LocalBus),
            None,
            None,
            source,
            LiveSettings::default(),
            Default::default(),
        );
        let mut registrations = Vec::with_capacity(FANOUT_SOCKETS);
        for i in 0..FANOUT_SOCKETS {
            let owner = SocketOwner {
                user_id: 1_000 + i as i64,
                username: format!("listener{i}"),
                session: None,
                conversation: Some((conversation_id, true)),
                watching: Vec::new(),
                visitor: false,
            };
            registrations.push(hub.register(owner));
        }
        // Let the conversation learn where it stands and the joins' presence frame go
        // out, then empty the queues.
        tokio::time::sleep(Duration::from_millis(600)).await;
        for registration in &mut registrations {
            while registration.rx.try_recv().is_some() {}
        }
        (hub, registrations, conversation_id)
    });

    let mut last_id = 0i64;
    let mut group = c.benchmark_group("hub");
    group.throughput(Throughput::Elements(FANOUT_SOCKETS as u64));
    group.bench_function("fanout/1 message to 1000 sockets", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iterations {
                    let id = last_id + 1;
                    let posted = MessageView {
                        conversation_id,
                        ..message(id, format!("fan-out {id}"))
                    };
                    last_id = id;
                    hub.committed(Committed {
                        conversation_id,
                        seq: posted.seq,
                        html: views::appended(std::slice::from_ref(&posted)).into_string(),
                        author_id: Some(posted.author_id),
                        coalesce: None,
                    });
                    let delivered = OutgoingKind::Events {
                        after: id - 1,
                        upto: id,
                    };
                    for registration in &mut registrations {
                        loop {
                            let out = registration.rx.recv().await;
                            if out.kind() == delivered {
                                black_box(out.frame());
                                break;
                            }
                        }
                    }
                }
                started.elapsed()
            })
        })
    });
    group.finish();
    drop(registrations);
    drop(hub);
}

criterion_group!(hot_paths, render, parse, hub_fanout);
criterion_main!(hot_paths);
