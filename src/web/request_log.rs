//! One `tracing` span per request (method, path, and the status once known; an incoming
//! webhook's secret path is logged as its route). Requests
//! that end well are logged at DEBUG, so a busy server does not spend its time writing
//! logs; client errors at INFO, server errors at WARN. Each request is also counted in
//! the metrics, by the template of the route that answered it (poem's
//! [`PathPattern`], which [`super::errors`] keeps on the pages it makes).
use std::{sync::Arc, time::Instant};

use poem::{Endpoint, IntoResponse, PathPattern, Request, Response};
use tracing::Instrument;

use crate::telemetry::metrics::Metrics;

pub async fn middleware<E: Endpoint>(next: Arc<E>, req: Request) -> poem::Result<Response> {
    // An incoming webhook's path is its secret: the log names the route, not the path.
    let path = req.uri().path();
    let path = if path.starts_with(crate::bots::hooks::PREFIX) {
        "/hooks/{secret}"
    } else {
        path
    };
    let span = tracing::info_span!("request", method = %req.method(), path = %path);
    let method = req.method().clone();
    let metrics = req.data::<Arc<Metrics>>().cloned();
    async move {
        let started = Instant::now();
        let resp = match next.call(req).await {
            Ok(resp) => resp.into_response(),
            Err(e) => e.into_response(),
        };
        let took = started.elapsed();
        if let Some(metrics) = metrics {
            let route = resp.data::<PathPattern>().map(|p| p.0.clone());
            metrics.http_request(&method, route, resp.status(), took);
        }
        let status = resp.status().as_u16();
        let elapsed_ms = took.as_secs_f64() * 1000.0;
        match status {
            500.. => tracing::warn!(status, elapsed_ms, "answered"),
            400..500 => tracing::info!(status, elapsed_ms, "answered"),
            _ => tracing::debug!(status, elapsed_ms, "answered"),
        }
        Ok(resp)
    }
    .instrument(span)
    .await
}
