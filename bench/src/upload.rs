//! Issue 22's upload figures: 100 MB files uploaded to a room, one after another at
//! the speed of loopback, while other people keep talking in it. It reports the
//! server's resident memory before, at its peak during and after the uploads, and the
//! latency of the others' messages (posted over HTTP, received on a socket in the
//! room) before and during the uploads.
//!
//! It owns nothing of the socket scenarios; it only reuses their seeding and servers.
use std::{
    collections::HashMap,
    fmt::Write as _,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow, bail};
use futures_util::StreamExt as _;
use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest as _, http::HeaderValue};

use crate::{
    procstat::Process,
    seed::{self, Seat},
    servers::{RunningServer, ServerKind, ServerSource},
};

const MIB: usize = 1024 * 1024;
/// The file: 100 MB.
const FILE_BYTES: usize = 100 * MIB;
/// Files uploaded one after another (each different, so each is stored).
const UPLOADS: usize = 5;
/// People talking beside the uploads, each under the one-message-a-second limit.
const TALKERS: usize = 20;
/// Their posts a second, all together.
const POSTS_PER_SECOND: f64 = 20.0;
/// The window measured before the uploads start.
const QUIET: Duration = Duration::from_secs(10);
/// The bound on what uploads may add to the server's memory once the first has
/// warmed it up, in MiB: memory that grew with the data would show here.
const RSS_TARGET_MIB: f64 = 8.0;

/// One window's message latency.
#[derive(Clone, Debug, Serialize)]
pub struct Latency {
    pub messages: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// The figures of one run.
#[derive(Clone, Debug, Serialize)]
pub struct UploadReport {
    pub uploads: usize,
    pub file_mib: usize,
    pub upload_seconds: f64,
    pub rss_before_mib: f64,
    pub rss_peak_mib: f64,
    /// The peak so far after each upload: growth that goes on with every file would
    /// show here, memory the first upload warms up (threads, buffers) would not.
    pub rss_peak_after_each_mib: Vec<f64>,
    pub rss_after_mib: f64,
    pub quiet: Latency,
    pub during: Latency,
    /// Posts that were refused or never arrived on the socket.
    pub lost: u64,
    pub command: String,
}

impl UploadReport {
    /// The markdown for bench/RESULTS.md, with the target met or missed.
    pub fn markdown(&self) -> String {
        let mut md = String::from(
            "| window | messages | p50 | p99 | max |\n| --- | ---: | ---: | ---: | ---: |\n",
        );
        for (name, l) in [
            ("before the uploads", &self.quiet),
            ("during", &self.during),
        ] {
            let _ = writeln!(
                md,
                "| {name} | {} | {:.1} ms | {:.1} ms | {:.1} ms |",
                l.messages, l.p50_ms, l.p99_ms, l.max_ms
            );
        }
        let first = self
            .rss_peak_after_each_mib
            .first()
            .copied()
            .unwrap_or(self.rss_before_mib);
        let warm_up = first - self.rss_before_mib;
        let growth = self.rss_peak_mib - first;
        let _ = writeln!(
            md,
            "\n- {} uploads of {} MiB in {:.1} s ({:.0} MiB/s), {} messages lost. Resident memory: \
             {:.1} MiB before; the first upload warms up +{warm_up:.1} MiB (threads, buffers, the \
             allocator's caches); the next {} add +{growth:.1} MiB — target < {RSS_TARGET_MIB} MiB: {}; \
             {:.1} MiB after. The peak after each upload: {} MiB",
            self.uploads,
            self.file_mib,
            self.upload_seconds,
            (self.uploads * self.file_mib) as f64 / self.upload_seconds.max(0.001),
            self.lost,
            self.rss_before_mib,
            self.uploads.saturating_sub(1),
            if growth < RSS_TARGET_MIB {
                "met"
            } else {
                "**MISSED**"
            },
            self.rss_after_mib,
            self.rss_peak_after_each_mib
                .iter()
                .map(|p| format!("{p:.1}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
        md
    }
}

/// A post on its way: when it was sent, and whether the uploads were running then.
type Pending = Arc<Mutex<HashMap<u64, (Instant, bool)>>>;

/// Seeds a SQLite database in `dir`, starts hearth on it and measures.
pub async fn run(source: &ServerSource, dir: &std::path::Path) -> anyhow::Result<UploadReport> {
    let tag = seed::run_tag();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.join(format!("upload-{tag}.db")).display()
    );
    let population = seed::seed_database(&url, TALKERS + 2, 1, &tag).await?;
    let room = *population
        .rooms
        .first()
        .ok_or_else(|| anyhow!("no room was seeded"))?;
    let limit = (2 * FILE_BYTES / MIB).to_string();
    let env = [
        ("HEARTH_MAX_UPLOAD_MB".to_owned(), limit.clone()),
        ("HEARTH_MAX_MESSAGE_UPLOAD_MB".to_owned(), limit),
    ];
    let server = RunningServer::start(ServerKind::Hearth, source, &env, Some(&url)).await?;
    let measured = measure(&server, &population.seats, room).await;
    server.stop().await;
    measured
}

async fn measure(
    server: &RunningServer,
    seats: &[Seat],
    room: i64,
) -> anyhow::Result<UploadReport> {
    let (uploader, listener, talkers) = match seats {
        [uploader, listener, talkers @ ..] if !talkers.is_empty() => (uploader, listener, talkers),
        _ => bail!("too few people were seeded"),
    };
    let process = server
        .process()
        .ok_or_else(|| anyhow!("hearth's pid is not known"))?;
    let pending: Pending = Arc::default();
    let uploading = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let refused = Arc::new(AtomicU64::new(0));

    let mut request = server
        .ws_url(&format!("/ws?conversation={room}"))
        .into_client_request()?;
    request
        .headers_mut()
        .insert("Cookie", HeaderValue::from_str(&listener.cookie)?);
    let (socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .context("the listener's socket")?;
    let new =
        || Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).map(|h| Arc::new(Mutex::new(h)));
    let (quiet, during): (Shared, Shared) = (new()?, new()?);
    let receiver = tokio::spawn(receive(
        socket,
        pending.clone(),
        quiet.clone(),
        during.clone(),
    ));
    let poster = tokio::spawn(post_steadily(
        server.http_url(""),
        talkers.to_vec(),
        room,
        pending.clone(),
        uploading.clone(),
        stop.clone(),
        refused.clone(),
    ));
    tokio::time::sleep(QUIET).await;

    let rss_before = process.rss_bytes().unwrap_or(0);
    let peak = Arc::new(AtomicU64::new(rss_before));
    let sampler = tokio::spawn(sample_rss(process, peak.clone(), stop.clone()));
    uploading.store(true, Ordering::Relaxed);
    let started = Instant::now();
    let mut upload_error = None;
    let mut peaks = Vec::with_capacity(UPLOADS);
    for n in 0..UPLOADS {
        if let Err(e) = upload(&server.authority, uploader, room, n).await {
            upload_error = Some(e.context(format!("upload {n}")));
            break;
        }
        if let Some(rss) = process.rss_bytes() {
            peak.fetch_max(rss, Ordering::Relaxed);
        }
        peaks.push(peak.load(Ordering::Relaxed) as f64 / MIB as f64);
    }
    let upload_seconds = started.elapsed().as_secs_f64();
    uploading.store(false, Ordering::Relaxed);
    // Messages still on their way arrive; then everything stops.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    poster.await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    if receiver.is_finished() {
        bail!("the listener's socket closed early");
    }
    receiver.abort();
    let _ = sampler.await;
    if let Some(e) = upload_error {
        return Err(e);
    }
    let lost = refused.load(Ordering::Relaxed) + pending.lock().map_or(0, |p| p.len() as u64);
    let mib = |bytes: u64| bytes as f64 / MIB as f64;
    let quiet = latency_of(&*quiet.lock().map_err(|_| anyhow!("poisoned"))?);
    let during = latency_of(&*during.lock().map_err(|_| anyhow!("poisoned"))?);
    Ok(UploadReport {
        uploads: UPLOADS,
        file_mib: FILE_BYTES / MIB,
        upload_seconds,
        rss_before_mib: mib(rss_before),
        rss_peak_mib: mib(peak.load(Ordering::Relaxed)),
        rss_peak_after_each_mib: peaks,
        rss_after_mib: mib(process.rss_bytes().unwrap_or(0)),
        quiet,
        during,
        lost,
        command: format!(
            "{UPLOADS} × {} MiB uploaded over loopback while {TALKERS} people post {POSTS_PER_SECOND}/s",
            FILE_BYTES / MIB
        ),
    })
}

fn latency_of(h: &Histogram<u64>) -> Latency {
    Latency {
        messages: h.len(),
        p50_ms: h.value_at_quantile(0.5) as f64 / 1000.0,
        p99_ms: h.value_at_quantile(0.99) as f64 / 1000.0,
        max_ms: h.max() as f64 / 1000.0,
    }
}

type Shared = Arc<Mutex<Histogram<u64>>>;

/// Reads the listener's frames until aborted, timing each probe from its post into
/// `quiet` or `during`, by when it was sent.
async fn receive(
    mut socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    pending: Pending,
    quiet: Shared,
    during: Shared,
) {
    while let Some(frame) = socket.next().await {
        let Ok(Message::Text(text)) = frame else {
            continue;
        };
        let arrived = Instant::now();
        for n in probes_in(&text) {
            let Some((sent, while_uploading)) = pending.lock().ok().and_then(|mut p| p.remove(&n))
            else {
                continue;
            };
            let micros = arrived
                .duration_since(sent)
                .as_micros()
                .clamp(1, 60_000_000) as u64;
            let histogram = if while_uploading { &during } else { &quiet };
            if let Ok(mut h) = histogram.lock() {
                let _ = h.record(micros);
            }
        }
    }
}

/// The probe numbers a frame carries (`upload-probe-N-`).
fn probes_in(text: &str) -> Vec<u64> {
    const MARK: &str = "upload-probe-";
    text.match_indices(MARK)
        .filter_map(|(at, _)| {
            let rest = &text[at + MARK.len()..];
            let digits = rest.split('-').next()?;
            digits.parse().ok()
        })
        .collect()
}

/// Posts at [`POSTS_PER_SECOND`] over HTTP, rotating over the talkers, until `stop`.
async fn post_steadily(
    base: String,
    seats: Vec<Seat>,
    room: i64,
    pending: Pending,
    uploading: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    refused: Arc<AtomicU64>,
) {
    let Ok(http) = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
    else {
        return;
    };
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / POSTS_PER_SECOND));
    let mut n: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let Some(seat) = seats.get(n as usize % seats.len()) else {
            return;
        };
        n += 1;
        if let Ok(mut p) = pending.lock() {
            p.insert(n, (Instant::now(), uploading.load(Ordering::Relaxed)));
        }
        // Each post on a task of its own: a slow answer must not delay the next post.
        let (http, base, seat, pending, refused) = (
            http.clone(),
            base.clone(),
            seat.clone(),
            pending.clone(),
            refused.clone(),
        );
        tokio::spawn(async move {
            let answer = http
                .post(format!("{base}/conversations/{room}/messages"))
                .header("Cookie", &seat.cookie)
                .header("X-CSRF-Token", &seat.csrf)
                .header("HX-Request", "true")
                .form(&[("body", format!("upload-probe-{n}-"))])
                .send()
                .await;
            if !answer.is_ok_and(|r| r.status().is_success()) {
                refused.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut p) = pending.lock() {
                    p.remove(&n);
                }
            }
        });
    }
}

/// Samples the server's resident memory every 50 ms, keeping the highest, until `stop`.
async fn sample_rss(process: Process, peak: Arc<AtomicU64>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        if let Some(rss) = process.rss_bytes() {
            peak.fetch_max(rss, Ordering::Relaxed);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One 100 MB file as a multipart form written by hand over a plain socket, a
/// megabyte at a time, so that the load generator holds no more of it than the server
/// should; its bytes depend on `n`, so every file is stored.
async fn upload(authority: &str, seat: &Seat, room: i64, n: usize) -> anyhow::Result<()> {
    let boundary = "hearth-bench-boundary-5f1c9a7e";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big-{n}.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n",
        seat.csrf
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let length = head.len() + FILE_BYTES + tail.len();
    let mut stream = tokio::net::TcpStream::connect(authority).await?;
    let request = format!(
        "POST /conversations/{room}/messages HTTP/1.1\r\nHost: {authority}\r\nCookie: {}\r\n\
         HX-Request: true\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n\
         Content-Length: {length}\r\nConnection: close\r\n\r\n",
        seat.cookie
    );
    stream.write_all(request.as_bytes()).await?;
    stream.write_all(head.as_bytes()).await?;
    let chunk: Vec<u8> = (0..MIB).map(|i| ((i + n * 7) % 251) as u8).collect();
    for _ in 0..FILE_BYTES / MIB {
        stream.write_all(&chunk).await?;
    }
    stream.write_all(tail.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let status = String::from_utf8_lossy(answer.get(..12).unwrap_or_default()).into_owned();
    if !status.starts_with("HTTP/1.1 2") {
        bail!("answered {status}");
    }
    Ok(())
}
