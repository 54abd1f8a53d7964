//! Issue 23's search figures: a million messages in 100 rooms, written straight into a
//! database of hearth's schema (a SQLite file, then a PostgreSQL database), searched
//! over HTTP by a few clients while people keep posting; the latency of the first
//! page of results per kind of query, and what the index adds to the messages'
//! storage.
//!
//! The text is made of a vocabulary whose words are used with Zipf's law, as words
//! are: the commonest word is in most messages, the rarest in a few dozen of the
//! million. The queries pick words at known ranks, so a query that matches most of
//! the history and one that matches a few dozen messages are both measured.
//!
//! It owns nothing of the socket scenarios; it only reuses their seeding and servers.
use std::{
    fmt::Write as _,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow};
use hdrhistogram::Histogram;
use hearth_testkit::ScratchDatabase;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, Statement,
    sea_query::{Alias, Expr, Query},
};
use serde::Serialize;

use crate::{
    seed::{self, Population, Seat},
    servers::{RunningServer, ServerKind, ServerSource},
};

/// Rooms the messages are spread over, as the issue says.
const ROOMS: usize = 100;
/// People who wrote them (and who post while the searches run).
const AUTHORS: usize = 100;
/// Words in the vocabulary.
const VOCABULARY: usize = 20_000;
/// Words in a message: 4 to 19 (the first figure, and how many lengths).
const WORDS: (usize, usize) = (4, 16);
/// Rows per INSERT statement (7 values a row: 3,500 variables, under both limits).
const INSERT_BATCH: usize = 500;
/// Statements per transaction while seeding.
const BATCHES_PER_COMMIT: usize = 20;
/// Clients searching at once, each sending its next search when the answer came.
const SEARCHERS: usize = 4;
/// Posts a second while the searches run, over HTTP, spread over the authors.
const POSTS_PER_SECOND: f64 = 50.0;
/// The target for a first page of results.
const P99_TARGET_MS: f64 = 50.0;
/// The bound on what the index adds to the messages' storage.
const STORAGE_TARGET: f64 = 2.0;

/// One kind of query, with the words it asks for.
#[derive(Clone, Debug)]
struct Kind {
    name: &'static str,
    /// The rank of its one word, for the share of messages that hold it.
    rank: Option<usize>,
    /// Builds the query from the vocabulary, a room's slug and a person's name.
    build: fn(&Vocabulary, &str, &str) -> String,
}

const KINDS: &[Kind] = &[
    Kind {
        name: "the commonest word",
        rank: Some(0),
        build: |v, _, _| v.word(0).to_owned(),
    },
    Kind {
        name: "the word of rank 100",
        rank: Some(99),
        build: |v, _, _| v.word(99).to_owned(),
    },
    Kind {
        name: "a rare word (rank 15,000)",
        rank: Some(14_999),
        build: |v, _, _| v.word(14_999).to_owned(),
    },
    Kind {
        name: "two words (ranks 10 and 50)",
        rank: None,
        build: |v, _, _| format!("{} {}", v.word(9), v.word(49)),
    },
    Kind {
        name: "a quoted phrase (ranks 2 and 3)",
        rank: None,
        build: |v, _, _| format!("\"{} {}\"", v.word(1), v.word(2)),
    },
    Kind {
        name: "a word (rank 20) in:#room",
        rank: None,
        build: |v, room, _| format!("{} in:#{room}", v.word(19)),
    },
    Kind {
        name: "a word (rank 20) from:@person",
        rank: None,
        build: |v, _, person| format!("{} from:@{person}", v.word(19)),
    },
    Kind {
        name: "a word (rank 30) before:2026-06-01",
        rank: None,
        build: |v, _, _| format!("{} before:2026-06-01", v.word(29)),
    },
];

/// The share of messages that hold the word of `rank`: one minus the chance that
/// none of a message's words is it, over the lengths messages have.
fn share_of(vocabulary: &Vocabulary, rank: usize) -> f64 {
    let total = vocabulary.cumulative.last().copied().unwrap_or(1.0);
    let p = 1.0 / (rank as f64 + 1.0) / total;
    let lengths = WORDS.0..WORDS.0 + WORDS.1;
    let count = lengths.len() as f64;
    1.0 - lengths.map(|n| (1.0 - p).powi(n as i32)).sum::<f64>() / count
}

/// The latency of one kind of query.
#[derive(Clone, Debug, Serialize)]
pub struct KindResult {
    pub kind: String,
    pub example: String,
    pub searches: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub failed: u64,
}

/// One database's figures.
#[derive(Clone, Debug, Serialize)]
pub struct BackendResult {
    pub backend: String,
    pub messages: u64,
    pub seed_seconds: f64,
    /// The messages' own storage (table and its indexes), without search's.
    pub message_bytes: u64,
    /// What search adds: FTS5's tables, or the `tsvector` column and its GIN index.
    pub index_bytes: u64,
    pub kinds: Vec<KindResult>,
    pub all_p99_ms: f64,
    pub searches_per_second: f64,
    pub posts: u64,
    pub posts_failed: u64,
}

/// Both databases.
#[derive(Clone, Debug, Serialize)]
pub struct SearchReport {
    pub backends: Vec<BackendResult>,
    pub command: String,
}

impl SearchReport {
    /// The markdown for bench/RESULTS.md, with the targets met or missed.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        md.push_str(
            "| database | query | searches | p50 | p99 | max | failed |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |\n",
        );
        for backend in &self.backends {
            for kind in &backend.kinds {
                let _ = writeln!(
                    md,
                    "| {} | {} (`{}`) | {} | {:.1} ms | {:.1} ms | {:.1} ms | {} |",
                    backend.backend,
                    kind.kind,
                    kind.example,
                    kind.searches,
                    kind.p50_ms,
                    kind.p99_ms,
                    kind.max_ms,
                    kind.failed
                );
            }
        }
        md.push('\n');
        for b in &self.backends {
            let ratio = b.index_bytes as f64 / (b.message_bytes as f64).max(1.0);
            let _ = writeln!(
                md,
                "- {}: {} messages seeded in {:.0} s; all searches p99 {:.1} ms at {:.0} searches/s \
                 with {} posts answered ({} failed) — target p99 < {P99_TARGET_MS} ms: {}; index {:.0} MiB \
                 against the messages' {:.0} MiB ({ratio:.2}×) — target < {STORAGE_TARGET}×: {}",
                b.backend,
                b.messages,
                b.seed_seconds,
                b.all_p99_ms,
                b.searches_per_second,
                b.posts,
                b.posts_failed,
                verdict(b.all_p99_ms < P99_TARGET_MS),
                b.index_bytes as f64 / 1048576.0,
                b.message_bytes as f64 / 1048576.0,
                verdict(ratio < STORAGE_TARGET),
            );
        }
        md
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**MISSED**" }
}

/// Seeds and measures SQLite (a file in `dir`, when `sqlite`), then PostgreSQL (a
/// scratch database on `postgres_url`, when given).
pub async fn run(
    source: &ServerSource,
    messages: usize,
    seconds: u64,
    dir: &std::path::Path,
    sqlite: bool,
    postgres_url: Option<&str>,
) -> anyhow::Result<SearchReport> {
    let mut backends = Vec::new();
    if sqlite {
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.join(format!("search-{}.db", seed::run_tag())).display()
        );
        backends.push(measure_on("SQLite", source, &url, messages, seconds).await?);
    }
    if let Some(server) = postgres_url {
        let database = ScratchDatabase::create(server, &format!("search_{}", seed::run_tag()))
            .await
            .map_err(anyhow::Error::msg)?;
        let result = measure_on("PostgreSQL", source, &database.url, messages, seconds).await;
        database.drop_now().await;
        backends.push(result?);
    }
    Ok(SearchReport {
        backends,
        command: format!(
            "{SEARCHERS} clients searching for {seconds} s, {POSTS_PER_SECOND} posts/s beside"
        ),
    })
}

async fn measure_on(
    backend: &str,
    source: &ServerSource,
    database_url: &str,
    messages: usize,
    seconds: u64,
) -> anyhow::Result<BackendResult> {
    let tag = seed::run_tag();
    let started = Instant::now();
    let population = seed::seed_database(database_url, AUTHORS, ROOMS, &tag).await?;
    let vocabulary = Vocabulary::new();
    let db = hearth::db::connect(database_url).await?;
    seed_messages(&db, &population, &vocabulary, messages).await?;
    let seed_seconds = started.elapsed().as_secs_f64();
    let (message_bytes, index_bytes) = storage(&db, backend == "SQLite").await?;
    db.close().await?;
    eprintln!(
        "  {backend}: {messages} messages in {seed_seconds:.0} s; index {:.0} MiB, messages {:.0} MiB",
        index_bytes as f64 / 1048576.0,
        message_bytes as f64 / 1048576.0
    );

    let server = RunningServer::start(ServerKind::Hearth, source, &[], Some(database_url)).await?;
    let measured = search_while_posting(&server, &population, &vocabulary, &tag, seconds).await;
    server.stop().await;
    let (kinds, all_p99_ms, searches_per_second, posts, posts_failed) = measured?;
    for kind in &kinds {
        eprintln!(
            "  {backend}: {:<36} {:>6} searches, p50 {:>6.1} ms, p99 {:>6.1} ms, {} failed",
            kind.kind, kind.searches, kind.p50_ms, kind.p99_ms, kind.failed
        );
    }
    Ok(BackendResult {
        backend: backend.to_owned(),
        messages: messages as u64,
        seed_seconds,
        message_bytes,
        index_bytes,
        kinds,
        all_p99_ms,
        searches_per_second,
        posts,
        posts_failed,
    })
}

/// Words made of syllables, ranked: word `r` is used with weight 1 / (r + 1).
struct Vocabulary {
    words: Vec<String>,
    /// Cumulative weights, for drawing a word by rank.
    cumulative: Vec<f64>,
}

impl Vocabulary {
    fn new() -> Self {
        const SYLLABLES: [&str; 40] = [
            "ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "zi", "ba", "de", "fu", "go", "hi",
            "ju", "pe", "qui", "ro", "su", "ta", "un", "ve", "wa", "xe", "yo", "zu", "ar", "el",
            "in", "os", "ul", "an", "em", "ir", "ok", "us", "ay", "ey", "oy", "ex",
        ];
        let mut words = Vec::with_capacity(VOCABULARY);
        let mut seen = std::collections::HashSet::new();
        let mut n: usize = 0;
        while words.len() < VOCABULARY {
            // Two to four syllables, by the digits of n in base 40.
            let mut word = String::new();
            let mut rest = n + 40 * 40;
            while rest > 0 {
                word.push_str(SYLLABLES[rest % 40]);
                rest /= 40;
            }
            n += 1;
            if seen.insert(word.clone()) {
                words.push(word);
            }
        }
        let mut total = 0.0;
        let cumulative = (0..VOCABULARY)
            .map(|rank| {
                total += 1.0 / (rank as f64 + 1.0);
                total
            })
            .collect();
        Self { words, cumulative }
    }

    fn word(&self, rank: usize) -> &str {
        &self.words[rank.min(self.words.len() - 1)]
    }

    /// A word drawn by Zipf's law, from a uniform `u` in [0, 1).
    fn draw(&self, u: f64) -> &str {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let rank = self.cumulative.partition_point(|&c| c < u * total);
        self.word(rank)
    }
}

/// A small fast generator (xorshift64*): the text must be the same in every run, and
/// needs no cryptographic quality.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Writes `count` messages over the rooms, a year of them up to now, and moves each
/// room's event counter past them.
async fn seed_messages(
    db: &DatabaseConnection,
    population: &Population,
    vocabulary: &Vocabulary,
    count: usize,
) -> anyhow::Result<()> {
    let authors = author_ids(db, population).await?;
    let rooms = &population.rooms;
    anyhow::ensure!(
        !rooms.is_empty() && !authors.is_empty(),
        "nothing to seed into"
    );
    let now = hearth::db::now_ms();
    let year_ms: i64 = 365 * 24 * 3600 * 1000;
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let mut seq = vec![0i64; rooms.len()];
    let mut written = 0;
    while written < count {
        let txn_rows = (INSERT_BATCH * BATCHES_PER_COMMIT).min(count - written);
        let txn = sea_orm::TransactionTrait::begin(db).await?;
        for start in (0..txn_rows).step_by(INSERT_BATCH) {
            let mut insert = Query::insert();
            insert.into_table(Alias::new("messages")).columns([
                Alias::new("conversation_id"),
                Alias::new("author_id"),
                Alias::new("body"),
                Alias::new("created_at"),
                Alias::new("seq"),
                Alias::new("updated_seq"),
            ]);
            for i in start..(start + INSERT_BATCH).min(txn_rows) {
                let index = written + i;
                let room = index % rooms.len();
                seq[room] += 1;
                let words = WORDS.0 + (random.next() % WORDS.1 as u64) as usize;
                let mut body = String::new();
                for w in 0..words {
                    if w > 0 {
                        body.push(' ');
                    }
                    body.push_str(vocabulary.draw(random.unit()));
                }
                // Oldest first, so ids and times grow together as they do in use.
                let created_at = now - year_ms + (year_ms * index as i64) / count as i64;
                insert.values([
                    rooms[room].into(),
                    authors[(random.next() % authors.len() as u64) as usize].into(),
                    body.into(),
                    created_at.into(),
                    seq[room].into(),
                    seq[room].into(),
                ])?;
            }
            txn.execute(&insert).await.context("inserting messages")?;
        }
        txn.commit().await?;
        written += txn_rows;
    }
    use sea_orm::sea_query::ExprTrait as _;
    for (room, last) in rooms.iter().zip(&seq) {
        let statement = Query::update()
            .table(Alias::new("conversations"))
            .value(Alias::new("last_seq"), *last)
            .value(Alias::new("last_activity_at"), now)
            .and_where(Expr::col(Alias::new("id")).eq(*room))
            .to_owned();
        db.execute(&statement)
            .await
            .context("moving a room's counter")?;
    }
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        db.execute_unprepared("VACUUM ANALYZE messages").await?;
    } else {
        db.execute_unprepared("ANALYZE").await?;
    }
    Ok(())
}

async fn author_ids(db: &DatabaseConnection, population: &Population) -> anyhow::Result<Vec<i64>> {
    use sea_orm::sea_query::ExprTrait as _;
    let names: Vec<String> = population
        .seats
        .iter()
        .map(|s| s.username.clone())
        .collect();
    let select = Query::select()
        .column(Alias::new("id"))
        .from(Alias::new("users"))
        .and_where(Expr::col(Alias::new("username")).is_in(names))
        .to_owned();
    let mut ids = Vec::new();
    for row in db.query_all(&select).await? {
        ids.push(row.try_get::<i64>("", "id")?);
    }
    Ok(ids)
}

/// The messages' own bytes and what search adds to them.
async fn storage(db: &DatabaseConnection, sqlite: bool) -> anyhow::Result<(u64, u64)> {
    let sum = |sql: &'static str| {
        let statement = Statement::from_string(db.get_database_backend(), sql);
        async move {
            let row = db
                .query_one_raw(statement)
                .await?
                .ok_or_else(|| anyhow!("no answer to {sql}"))?;
            let value: Option<i64> = row.try_get_by_index(0)?;
            anyhow::Ok(u64::try_from(value.unwrap_or(0)).unwrap_or(0))
        }
    };
    if sqlite {
        // dbstat: every table's and index's pages; FTS5's tables are message_search_*.
        let index = sum("SELECT SUM(pgsize) FROM dbstat WHERE name LIKE 'message_search%'").await?;
        let messages = sum(
            "SELECT SUM(pgsize) FROM dbstat WHERE name = 'messages' OR name IN \
             (SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages')",
        )
        .await?;
        Ok((messages, index))
    } else {
        let gin = sum("SELECT pg_relation_size('idx_messages_search')").await?;
        let column = sum("SELECT SUM(pg_column_size(search))::bigint FROM messages").await?;
        let total = sum("SELECT pg_total_relation_size('messages')").await?;
        Ok((total.saturating_sub(gin + column), gin + column))
    }
}

type Measured = (Vec<KindResult>, f64, f64, u64, u64);

/// Searches with every kind of query from [`SEARCHERS`] clients for `seconds`, while
/// the authors post.
async fn search_while_posting(
    server: &RunningServer,
    population: &Population,
    vocabulary: &Vocabulary,
    tag: &str,
    seconds: u64,
) -> anyhow::Result<Measured> {
    let http = reqwest::Client::builder()
        .tls_certs_only([])
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(SEARCHERS + 4)
        .build()?;
    let room_slug = seed::room_path(tag, 0)?
        .trim_start_matches("/rooms/")
        .to_owned();
    let searcher = population
        .seats
        .first()
        .ok_or_else(|| anyhow!("no one to search as"))?
        .clone();
    let person = population
        .seats
        .get(1)
        .map_or_else(|| searcher.username.clone(), |s| s.username.clone());
    let queries: Vec<(usize, String)> = KINDS
        .iter()
        .enumerate()
        .map(|(i, k)| (i, (k.build)(vocabulary, &room_slug, &person)))
        .collect();
    // One search of each kind first: the first touch of an index reads it from disk.
    for (_, q) in &queries {
        let _ = search_at(&http, &server.http_url(""), &searcher, q).await;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let posts = Arc::new(AtomicU64::new(0));
    let posts_failed = Arc::new(AtomicU64::new(0));
    let poster = tokio::spawn(post_steadily(
        http.clone(),
        server.http_url(""),
        population.seats.clone(),
        population.rooms.clone(),
        stop.clone(),
        posts.clone(),
        posts_failed.clone(),
    ));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut clients = Vec::new();
    for client in 0..SEARCHERS {
        let http = http.clone();
        let queries = queries.clone();
        let searcher = searcher.clone();
        let url = server.http_url("");
        clients.push(tokio::spawn(async move {
            let mut histograms: Vec<Histogram<u64>> = queries
                .iter()
                .map(|_| Histogram::new_with_bounds(1, 60_000_000, 3))
                .collect::<Result<_, _>>()?;
            let mut failed = vec![0u64; queries.len()];
            let mut turn = client;
            while Instant::now() < deadline {
                let (kind, q) = &queries[turn % queries.len()];
                turn += 1;
                let began = Instant::now();
                let ok = search_at(&http, &url, &searcher, q).await;
                let micros = began.elapsed().as_micros().max(1) as u64;
                if ok {
                    histograms[*kind].record(std::cmp::min(micros, 60_000_000))?;
                } else {
                    failed[*kind] += 1;
                }
            }
            anyhow::Ok((histograms, failed))
        }));
    }
    let mut merged: Vec<Histogram<u64>> = queries
        .iter()
        .map(|_| Histogram::new_with_bounds(1, 60_000_000, 3))
        .collect::<Result<_, _>>()?;
    let mut failed = vec![0u64; queries.len()];
    for client in clients {
        let (histograms, fails) = client.await??;
        for (i, h) in histograms.iter().enumerate() {
            merged[i].add(h)?;
            failed[i] += fails[i];
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    poster.await?;
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut kinds = Vec::new();
    for (i, (kind, q)) in queries.iter().enumerate() {
        let h = &merged[i];
        all.add(h)?;
        kinds.push(KindResult {
            kind: match KINDS[*kind].rank {
                Some(rank) => format!(
                    "{} (in {:.2}% of messages)",
                    KINDS[*kind].name,
                    100.0 * share_of(vocabulary, rank)
                ),
                None => KINDS[*kind].name.to_owned(),
            },
            example: q.clone(),
            searches: h.len(),
            p50_ms: h.value_at_quantile(0.5) as f64 / 1000.0,
            p99_ms: h.value_at_quantile(0.99) as f64 / 1000.0,
            max_ms: h.max() as f64 / 1000.0,
            failed: failed[i],
        });
    }
    Ok((
        kinds,
        all.value_at_quantile(0.99) as f64 / 1000.0,
        all.len() as f64 / elapsed,
        posts.load(Ordering::Relaxed),
        posts_failed.load(Ordering::Relaxed),
    ))
}

/// One search, its whole page read; whether it answered 200 with results.
async fn search_at(http: &reqwest::Client, base: &str, seat: &Seat, q: &str) -> bool {
    let url = match reqwest::Url::parse_with_params(&format!("{base}/search"), [("q", q)]) {
        Ok(url) => url,
        Err(_) => return false,
    };
    let answer = http.get(url).header("Cookie", &seat.cookie).send().await;
    match answer {
        Ok(response) if response.status().is_success() => response
            .text()
            .await
            .is_ok_and(|page| page.contains("id=\"search-results\"")),
        _ => false,
    }
}

/// Posts at [`POSTS_PER_SECOND`] over HTTP, rotating over the authors and rooms, until
/// `stop`.
async fn post_steadily(
    http: reqwest::Client,
    base: String,
    seats: Vec<Seat>,
    rooms: Vec<i64>,
    stop: Arc<AtomicBool>,
    posts: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / POSTS_PER_SECOND));
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let (Some(seat), Some(room)) = (
            seats.get(i % seats.len().max(1)),
            rooms.get(i % rooms.len().max(1)),
        ) else {
            return;
        };
        i += 1;
        let answer = http
            .post(format!("{base}/conversations/{room}/messages"))
            .header("Cookie", &seat.cookie)
            .header("X-CSRF-Token", &seat.csrf)
            .header("HX-Request", "true")
            .form(&[("body", format!("posted while searching, number {i}"))])
            .send()
            .await;
        match answer {
            Ok(r) if r.status().is_success() => posts.fetch_add(1, Ordering::Relaxed),
            _ => failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}
