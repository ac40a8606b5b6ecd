//! `serve`: collect on an interval and expose the kubelets' histograms (with a `node` label),
//! the cluster-wide analysis and the collection's health on `/metrics` for Prometheus. The only
//! long-running command: each cycle builds its client afresh (so rotated service-account tokens
//! are re-read), and the HTTP handlers only hand out the latest rendered page.

use std::convert::Infallible;
use std::io::Write;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tokio::sync::watch;

use super::Outcome;
use crate::analysis::{Query, analyze};
use crate::cli::settings::ServeSettings;
use crate::collect::Options;
use crate::exporter::{Cycle, families};
use crate::source::gather;

/// The latest page and whether a collection has finished yet.
type Page = Option<Bytes>;

/// Runs `serve` until SIGINT/SIGTERM (or `--max-cycles`).
pub async fn run(
    settings: &ServeSettings,
    _out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Outcome> {
    let (plan, metrics, selector) = (&settings.source, &settings.metrics, &settings.selector);

    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    writeln!(err, "serving on http://{}/metrics", listener.local_addr()?)?;
    let (page_tx, page_rx) = watch::channel::<Page>(None);
    let server = tokio::spawn(accept_loop(listener, page_rx));

    let mut ticker = tokio::time::interval(settings.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut cycles = 0_u64;
    // Signals stop the loop below, whatever it is doing: a cycle is dropped mid-flight.
    let options = Options::new(crate::remedy::fix).without_signals();
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = ticker.tick() => {}
        }
        let started = Instant::now();
        let gathered = tokio::select! {
            _ = &mut stop => break,
            gathered = gather(plan, "/metrics", selector, &options) => gathered,
        };
        let gathered = match gathered {
            Ok(gathered) => gathered,
            Err(e) => {
                // Nothing could run this cycle (e.g. the API server is down): keep serving the
                // last page and try again next interval. A failed cycle still counts.
                cycles += 1;
                writeln!(err, "warning: collection {cycles} failed: {e:#}")?;
                if settings.max_cycles.is_some_and(|max| cycles >= max) {
                    break;
                }
                continue;
            }
        };
        let reports: Vec<_> = metrics
            .iter()
            .map(|metric| {
                let mut query = Query::new(metric);
                query.method = gathered.method;
                analyze(&gathered.scrapes, &query)
            })
            .collect();
        cycles += 1;
        let finished = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64();
        let cycle = Cycle {
            method: gathered.method.as_str(),
            scrapes: &gathered.scrapes,
            reports: &reports,
            duration_seconds: started.elapsed().as_secs_f64(),
            finished_unix_seconds: finished,
            cycles,
        };
        let mut page = Vec::new();
        crate::exposition::write(&families(&cycle), None, &mut page)?;
        page_tx.send_replace(Some(Bytes::from(page)));
        let failed = gathered.scrapes.iter().filter(|s| s.outcome.is_err()).count();
        if failed > 0 {
            writeln!(err, "collection {cycles}: {failed} of {} node(s) failed", gathered.scrapes.len())?;
        }
        if settings.max_cycles.is_some_and(|max| cycles >= max) {
            break;
        }
    }
    server.abort();
    Ok(Outcome::Complete)
}

async fn accept_loop(listener: tokio::net::TcpListener, page: watch::Receiver<Page>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let page = page.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let page = page.borrow().clone();
                async move { Ok::<_, Infallible>(respond(&request, page)) }
            });
            // A client that goes away mid-response is not our error.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

/// `/metrics` → the latest page (503 before the first collection); `/healthz` → ok;
/// `/readyz` → ok once a collection finished.
fn respond(request: &Request<Incoming>, page: Page) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, content_type: &str, body: Bytes| {
        let mut response = Response::new(Full::new(body));
        *response.status_mut() = status;
        if let Ok(value) = content_type.parse() {
            response.headers_mut().insert(hyper::header::CONTENT_TYPE, value);
        }
        response
    };
    let text = "text/plain; charset=utf-8";
    if request.method() != hyper::Method::GET && request.method() != hyper::Method::HEAD {
        return reply(StatusCode::METHOD_NOT_ALLOWED, text, Bytes::from_static(b"method not allowed\n"));
    }
    match (request.uri().path(), page) {
        ("/metrics", Some(page)) => reply(StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", page),
        ("/metrics" | "/readyz", None) => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            text,
            Bytes::from_static(b"first collection not finished\n"),
        ),
        ("/healthz" | "/readyz", _) => reply(StatusCode::OK, text, Bytes::from_static(b"ok\n")),
        _ => reply(StatusCode::NOT_FOUND, text, Bytes::from_static(b"not found: try /metrics\n")),
    }
}

/// Resolves on SIGINT or SIGTERM (a pod being stopped).
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut stream) => {
                    stream.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
