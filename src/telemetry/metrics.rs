//! The server's figures for Prometheus: sockets open, frames delivered, slow sockets
//! dropped, commit batches and their latency, HTTP requests by route and status, and
//! rate-limit refusals by limit. It owns the names, labels and buckets of every series
//! and the `/metrics` endpoint that renders them; it decides nothing and must not be
//! read back by the server (the figures describe it, they never steer it).
//!
//! Each server has a recorder of its own ([`Metrics::recording`]), and the parts that
//! count hold handles registered on it directly, never through the `metrics` crate's
//! process-global recorder or its macros. A process that runs several servers (the
//! test suite does) gets one set of figures per server, each starting at zero, so a
//! scrape tells only of the server it was asked of. The handles are registered once,
//! at start: counting is one atomic operation behind a pointer, with no lookup and no
//! allocation, and the live layer counts a fan-out once with its recipients.
//! HTTP series are the exception: their labels come from the matched route, so each is
//! registered on its first request and found again by one lookup in a map of its own.
//!
//! Without a metrics address, [`Metrics::disabled`] hands out no-op handles: nothing is
//! kept and nothing needs the upkeep that a recorder's histograms do.
//!
//! Route labels are the matched route's template (`/rooms/:slug`), never the path, so
//! the number of series is bounded by the route table; a request no route answered
//! (an unknown path, or a refusal before routing) is `route="unmatched"`.
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{
    BuildError, Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use poem::{
    Endpoint, EndpointExt, IntoResponse, Response, Route, get, handler, http::StatusCode, web::Data,
};

const SOCKETS_OPEN: &str = "hearth_sockets_open";
const FRAMES_DELIVERED: &str = "hearth_frames_delivered_total";
const SLOW_SOCKETS_DROPPED: &str = "hearth_slow_sockets_dropped_total";
const COMMIT_BATCH: &str = "hearth_commit_batch_messages";
const COMMIT_SECONDS: &str = "hearth_commit_seconds";
const HTTP_REQUESTS: &str = "hearth_http_requests_total";
const HTTP_SECONDS: &str = "hearth_http_request_seconds";
const REFUSALS: &str = "hearth_rate_limit_refusals_total";

/// The writer takes at most 64 messages per transaction (`chat::writer`).
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];
/// A SQLite commit takes tens of microseconds, a PostgreSQL one a millisecond or more.
const COMMIT_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];
const HTTP_BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// How often a recorder's histograms are folded into their buckets between scrapes,
/// so that samples do not pile up when nobody scrapes.
pub const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// What the live layer counts ([`crate::live::Hub`]).
#[derive(Clone, Debug)]
pub struct LiveMetrics {
    sockets_open: Gauge,
    delivered: Counter,
    dropped_slow: Counter,
}

impl Default for LiveMetrics {
    fn default() -> Self {
        Self {
            sockets_open: Gauge::noop(),
            delivered: Counter::noop(),
            dropped_slow: Counter::noop(),
        }
    }
}

impl LiveMetrics {
    pub fn socket_opened(&self) {
        self.sockets_open.increment(1.0);
    }

    pub fn socket_closed(&self) {
        self.sockets_open.decrement(1.0);
    }

    /// One fan-out: `queued` frames went into sockets' queues, and `dropped` sockets
    /// were closed for being too far behind.
    pub fn fanned_out(&self, queued: u64, dropped: u64) {
        if queued > 0 {
            self.delivered.increment(queued);
        }
        if dropped > 0 {
            self.dropped_slow.increment(dropped);
        }
    }
}

/// What the message writer counts ([`crate::chat::writer`]).
#[derive(Clone, Debug)]
pub struct CommitMetrics {
    batch: Histogram,
    seconds: Histogram,
}

impl Default for CommitMetrics {
    fn default() -> Self {
        Self {
            batch: Histogram::noop(),
            seconds: Histogram::noop(),
        }
    }
}

impl CommitMetrics {
    /// A transaction of `messages` messages took `took` (failed ones too: they cost
    /// the same wait).
    pub fn committed(&self, messages: usize, took: Duration) {
        self.batch.record(messages as f64);
        self.seconds.record(took.as_secs_f64());
    }
}

/// The limits whose refusals are counted, each a value of the `limit` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Messages,
    GroupMentions,
    Signups,
    Rooms,
    LoginAccount,
    LoginDevice,
    LoginAddress,
    Hashing,
    SocketsPerUser,
    SocketsTotal,
    Handshakes,
    TokenGuesses,
    Guests,
}

impl Limit {
    const ALL: [Limit; 13] = [
        Limit::Messages,
        Limit::GroupMentions,
        Limit::Signups,
        Limit::Rooms,
        Limit::LoginAccount,
        Limit::LoginDevice,
        Limit::LoginAddress,
        Limit::Hashing,
        Limit::SocketsPerUser,
        Limit::SocketsTotal,
        Limit::Handshakes,
        Limit::TokenGuesses,
        Limit::Guests,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Limit::Messages => "messages",
            Limit::GroupMentions => "group_mentions",
            Limit::Signups => "signups",
            Limit::Rooms => "rooms",
            Limit::LoginAccount => "login_account",
            Limit::LoginDevice => "login_device",
            Limit::LoginAddress => "login_address",
            Limit::Hashing => "hashes_in_flight",
            Limit::SocketsPerUser => "sockets_per_user",
            Limit::SocketsTotal => "max_sockets",
            Limit::Handshakes => "handshakes_in_flight",
            Limit::TokenGuesses => "token_guesses",
            Limit::Guests => "guests",
        }
    }
}

/// Refusals by limit ([`crate::limits::Limits`] and the socket caps).
#[derive(Clone, Debug)]
pub struct Refusals([Counter; Limit::ALL.len()]);

impl Default for Refusals {
    fn default() -> Self {
        Self(std::array::from_fn(|_| Counter::noop()))
    }
}

impl Refusals {
    pub fn refused(&self, limit: Limit) {
        self.0[limit as usize].increment(1);
    }
}

/// A server's figures: the handles its parts count with, and the recorder that
/// renders them (none when disabled).
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    pub live: LiveMetrics,
    pub commits: CommitMetrics,
    pub refusals: Refusals,
    recorder: Option<Arc<PrometheusRecorder>>,
    /// The HTTP series registered so far, so that a request is two atomic adds after a
    /// lookup, not a registration with its labels built again.
    http: Arc<Mutex<HashMap<HttpSeries, (Counter, Histogram)>>>,
}

/// One HTTP series: method, route template (`None`: no route answered) and status.
type HttpSeries = (&'static str, Option<Arc<str>>, u16);

impl Metrics {
    /// Figures nobody reads: every handle is a no-op.
    pub fn disabled() -> Self {
        Self::default()
    }

    /// Figures kept in a recorder of this server's own, rendered by [`Metrics::render`].
    pub fn recording() -> Self {
        // Were the buckets refused, the histograms would render as summaries.
        let builder = buckets().unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        describe(&recorder);
        let counter =
            |name: &'static str| recorder.register_counter(&Key::from_static_name(name), &META);
        let histogram =
            |name: &'static str| recorder.register_histogram(&Key::from_static_name(name), &META);
        let live = LiveMetrics {
            sockets_open: recorder.register_gauge(&Key::from_static_name(SOCKETS_OPEN), &META),
            delivered: counter(FRAMES_DELIVERED),
            dropped_slow: counter(SLOW_SOCKETS_DROPPED),
        };
        let commits = CommitMetrics {
            batch: histogram(COMMIT_BATCH),
            seconds: histogram(COMMIT_SECONDS),
        };
        let refusals = Refusals(Limit::ALL.map(|limit| {
            let key = Key::from_parts(REFUSALS, vec![Label::new("limit", limit.name())]);
            recorder.register_counter(&key, &META)
        }));
        Self {
            live,
            commits,
            refusals,
            recorder: Some(Arc::new(recorder)),
            http: Arc::default(),
        }
    }

    /// The Prometheus text of every series, or `None` when disabled.
    pub fn render(&self) -> Option<String> {
        self.handle().map(|handle| handle.render())
    }

    /// The recorder's handle, for its upkeep ([`UPKEEP_EVERY`]).
    pub fn handle(&self) -> Option<PrometheusHandle> {
        self.recorder.as_ref().map(|recorder| recorder.handle())
    }

    /// One HTTP request: its method, the template of the route that answered it
    /// (`None`: no route did), its status and how long it took.
    pub fn http_request(
        &self,
        method: &poem::http::Method,
        route: Option<Arc<str>>,
        status: StatusCode,
        took: Duration,
    ) {
        let Some(recorder) = &self.recorder else {
            return;
        };
        let method = match *method {
            poem::http::Method::GET => "GET",
            poem::http::Method::POST => "POST",
            poem::http::Method::HEAD => "HEAD",
            _ => "other",
        };
        // The pages are nested at `/`, whose own pattern is empty: a path none of
        // them matched carries only that.
        let route = route.filter(|route| !route.is_empty());
        let series = (method, route, status.as_u16());
        let mut known = self.http.lock().unwrap_or_else(|e| e.into_inner());
        let (counter, histogram) =
            known
                .entry(series)
                .or_insert_with_key(|(method, route, status)| {
                    let route = match route {
                        Some(route) => metrics::SharedString::from(route.clone()),
                        None => metrics::SharedString::const_str("unmatched"),
                    };
                    let labels = vec![
                        Label::from_static_parts("method", method),
                        Label::new("route", route),
                        Label::new("status", status.to_string()),
                    ];
                    let counter = Key::from_parts(HTTP_REQUESTS, labels.clone());
                    let histogram = Key::from_parts(HTTP_SECONDS, labels);
                    (
                        recorder.register_counter(&counter, &META),
                        recorder.register_histogram(&histogram, &META),
                    )
                });
        counter.increment(1);
        histogram.record(took.as_secs_f64());
    }
}

static META: Metadata<'static> = Metadata::new(module_path!(), metrics::Level::INFO, None);

/// A builder whose histograms are rendered as Prometheus histograms with these
/// buckets (it fails only on an empty bucket list, and none is empty).
fn buckets() -> Result<PrometheusBuilder, BuildError> {
    let full = |name: &str| Matcher::Full(name.to_owned());
    PrometheusBuilder::new()
        .set_buckets_for_metric(full(COMMIT_BATCH), BATCH_BUCKETS)?
        .set_buckets_for_metric(full(COMMIT_SECONDS), COMMIT_BUCKETS)?
        .set_buckets_for_metric(full(HTTP_SECONDS), HTTP_BUCKETS)
}

fn describe(recorder: &PrometheusRecorder) {
    let name = KeyName::from_const_str;
    recorder.describe_gauge(
        name(SOCKETS_OPEN),
        None,
        "WebSockets open on this process.".into(),
    );
    recorder.describe_counter(
        name(FRAMES_DELIVERED),
        None,
        "Frames queued for sockets (events, counts, typing, pings).".into(),
    );
    recorder.describe_counter(
        name(SLOW_SOCKETS_DROPPED),
        None,
        "Sockets closed because their queue was full (the page reconnects and catches up).".into(),
    );
    recorder.describe_histogram(
        name(COMMIT_BATCH),
        None,
        "Messages stored per transaction by the message writer.".into(),
    );
    recorder.describe_histogram(
        name(COMMIT_SECONDS),
        Some(Unit::Seconds),
        "How long the message writer's transactions took, from first insert to commit.".into(),
    );
    recorder.describe_counter(
        name(HTTP_REQUESTS),
        None,
        "HTTP requests answered, by method, route template and status.".into(),
    );
    recorder.describe_histogram(
        name(HTTP_SECONDS),
        Some(Unit::Seconds),
        "How long HTTP requests took to answer, by method, route template and status.".into(),
    );
    recorder.describe_counter(
        name(REFUSALS),
        None,
        "Requests refused by a rate limit or a cap, by limit.".into(),
    );
}

/// The metrics listener's whole app: `GET /metrics`, and 404 for anything else.
pub fn endpoint(metrics: Arc<Metrics>) -> impl Endpoint {
    Route::new().at("/metrics", get(scrape)).data(metrics)
}

#[handler]
fn scrape(Data(metrics): Data<&Arc<Metrics>>) -> Response {
    match metrics.render() {
        Some(text) => text
            .with_content_type("text/plain; version=0.0.4; charset=utf-8")
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
