//! `serve`: collect on an interval and expose the kubelets' histograms (with a `node` label),
//! the cluster-wide analysis and the collection's health on `/metrics` for Prometheus. The only
//! long-running command: each cycle builds its client afresh (so rotated service-account tokens
//! are re-read) and renders the page once; the HTTP handlers, on a thread and runtime of their
//! own, only hand out that page, so scrapes cannot hold back collection or health state.

use std::convert::Infallible;
use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use bytes::{Buf, Bytes, buf::Chain};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tokio::sync::{oneshot, watch};

use super::Outcome;
use crate::analysis::{Query, analyze};
use crate::cli::LogFormat;
use crate::cli::settings::ServeSettings;
use crate::collect::Options;
use crate::exporter::{
    Cycle, Outage, ProcText, ProcessStats, build_info, families, outage_families, process_families,
};
use crate::source::gather;

/// What the HTTP handlers hand out: the latest page, and why `/readyz` fails, if it does.
/// Rendered once per cycle; a scrape clones the `Bytes` handle, never the page.
#[derive(Debug, Clone)]
struct Page {
    metrics: Bytes,
    unready: Option<String>,
}

/// `/readyz` fails after this many collections in a row could not run (the API server down,
/// listing timed out), so a probe sees the outage while `/metrics` keeps saying why.
pub const UNREADY_AFTER_FAILURES: u64 = 3;

/// The page when no collection has read any node: `serve`'s own health only.
fn outage_page(outage: &Outage) -> anyhow::Result<Bytes> {
    let mut served = vec![build_info(env!("CARGO_PKG_VERSION"))];
    served.extend(outage_families(outage));
    let mut page = Vec::new();
    crate::exposition::write(&served, None, &mut page)?;
    Ok(Bytes::from(page))
}

/// This process's `process_*` families as exposition text, read from `/proc` at each scrape
/// (as client libraries do); empty where there is no `/proc` or it cannot be read.
fn process_text() -> Vec<u8> {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let (Some(stat), Some(system_stat)) = (read("/proc/self/stat"), read("/proc/stat")) else {
        return Vec::new();
    };
    let limits = read("/proc/self/limits").unwrap_or_default();
    let open_fds = std::fs::read_dir("/proc/self/fd").ok().map(|dir| dir.count() as u64);
    let text = ProcText {
        stat: &stat,
        system_stat: &system_stat,
        limits: &limits,
        open_fds,
        ticks_per_second: rustix::param::clock_ticks_per_second(),
        page_size: rustix::param::page_size() as u64,
    };
    let mut out = Vec::new();
    if let Some(stats) = ProcessStats::from_proc(&text) {
        // Writing to a Vec cannot fail.
        let _ = crate::exposition::write(&process_families(&stats), None, &mut out);
    }
    out
}

/// Why `/readyz` fails now, if it does.
fn unready(outage: &Outage, collected: bool) -> Option<String> {
    if outage.consecutive_failures >= UNREADY_AFTER_FAILURES {
        return Some(format!("the last {} collections failed\n", outage.consecutive_failures));
    }
    (!collected).then(|| "first collection not finished\n".to_string())
}

/// The failure kind of a cycle that could not run (e.g. `timeout`, `forbidden`), `config` when
/// the configuration is unusable, else `other`.
fn failure_reason(err: &anyhow::Error) -> String {
    for cause in err.chain() {
        if let Some(discovery) = cause.downcast_ref::<crate::cluster::DiscoveryError>() {
            return discovery.reason.kind().as_str().to_string();
        }
        if cause.downcast_ref::<crate::cluster::ConfigError>().is_some() {
            return "config".to_string();
        }
    }
    "other".to_string()
}

/// Runs `serve` until SIGINT/SIGTERM (or `--max-cycles`).
pub async fn run(
    settings: &ServeSettings,
    _out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Outcome> {
    let (plan, metrics, selector) = (&settings.source, &settings.metrics, &settings.selector);

    let listener = std::net::TcpListener::bind(settings.listen)
        .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let json_logs = settings.log_format == LogFormat::Json;
    let address = listener.local_addr()?;
    // Pages are served from a thread and runtime of their own: under a flood of scrapes the
    // collection below keeps its own thread, so an outage shows on /readyz and node_up after the
    // same number of cycles as without load (on one shared thread, every cycle waited behind the
    // responses of 50 clients fetching a 4 MB page).
    let http_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime that serves the page")?;
    // Before the first collection `/metrics` answers with serve's own health (not 503), so a
    // scrape never fails just because the cluster is slow to list.
    let mut outage = Outage::default();
    let mut collected = false;
    let first = Page { metrics: outage_page(&outage)?, unready: unready(&outage, collected) };
    let (page_tx, page_rx) = watch::channel::<Page>(first);
    let (stop_server, server_stopped) = oneshot::channel::<()>();
    let server = std::thread::Builder::new()
        .name("serve-http".into())
        .spawn(move || serve_pages(&http_runtime, listener, page_rx, server_stopped))
        .context("cannot start the thread that serves the page")?;
    if json_logs {
        tracing::info!(url = %format!("http://{address}/metrics"), "serving");
    } else {
        writeln!(err, "serving on http://{address}/metrics")?;
    }

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
                // Nothing could run this cycle (e.g. the API server is down). The last data is
                // dropped, not served as current: nodes last seen are served as down, the
                // failure is counted by reason, and /readyz fails after a few in a row.
                cycles += 1;
                let reason = failure_reason(&e);
                if json_logs {
                    tracing::warn!(cycle = cycles, reason = %reason, error = %format!("{e:#}"), "collection failed");
                } else {
                    writeln!(err, "warning: collection {cycles} failed: {e:#}")?;
                }
                *outage.failures.entry(reason).or_default() += 1;
                outage.consecutive_failures += 1;
                outage.last_succeeded = Some(false);
                page_tx.send_replace(Page {
                    metrics: outage_page(&outage)?,
                    unready: unready(&outage, collected),
                });
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
        if !collected && settings.metrics_named {
            // A mistyped --metric is said once, on the first collection that read nodes.
            let mut hint = Vec::new();
            super::write_near_misses(&gathered.scrapes, &mut hint)?;
            let hint = String::from_utf8_lossy(&hint);
            if json_logs && !hint.is_empty() {
                tracing::warn!("{}", hint.trim_end());
            } else {
                err.write_all(hint.as_bytes())?;
            }
        }
        outage.last_succeeded = Some(true);
        outage.consecutive_failures = 0;
        outage.method = gathered.method.as_str().to_string();
        outage.known_nodes = gathered.scrapes.iter().map(|s| s.node.clone()).collect();
        collected = true;
        let mut served = vec![build_info(env!("CARGO_PKG_VERSION"))];
        served.extend(families(&cycle));
        served.extend(outage_families(&outage));
        let mut page = Vec::new();
        crate::exposition::write(&served, None, &mut page)?;
        page_tx.send_replace(Page { metrics: Bytes::from(page), unready: unready(&outage, collected) });
        let failed = gathered.scrapes.iter().filter(|s| s.outcome.is_err()).count();
        let nodes = gathered.scrapes.len();
        if json_logs {
            tracing::info!(
                cycle = cycles,
                nodes,
                failed,
                seconds = cycle.duration_seconds,
                "collection finished"
            );
        } else if failed > 0 {
            writeln!(err, "collection {cycles}: {failed} of {nodes} node(s) failed")?;
        }
        if settings.max_cycles.is_some_and(|max| cycles >= max) {
            break;
        }
    }
    // The server's thread ends at once: its connections are dropped with its runtime.
    let _ = stop_server.send(());
    if server.join().is_err() {
        anyhow::bail!("the thread serving the page panicked");
    }
    Ok(Outcome::Complete)
}

/// Serves pages from `page` on `listener` until `stop` resolves (or its sender is dropped).
fn serve_pages(
    runtime: &tokio::runtime::Runtime,
    listener: std::net::TcpListener,
    page: watch::Receiver<Page>,
    stop: oneshot::Receiver<()>,
) {
    runtime.block_on(async move {
        // Only fails outside a runtime, and this is inside one.
        let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
        tokio::select! {
            () = accept_loop(listener, page) => {}
            _ = stop => {}
        }
    });
}

async fn accept_loop(listener: tokio::net::TcpListener, page: watch::Receiver<Page>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // Out of file descriptors (or a connection reset before it was accepted): pause
            // instead of spinning on the error, as Go's net/http does.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
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

/// A response body: the page as rendered, then this scrape's `process_*` families, written
/// as they are (vectored) instead of copied into one buffer.
type Body = Full<Chain<Bytes, Bytes>>;

/// `/metrics` → the latest page (health only until a collection read nodes); `/healthz` → ok;
/// `/readyz` → ok once a collection finished, until several in a row fail.
fn respond(request: &Request<Incoming>, page: Page) -> Response<Body> {
    let reply = |status: StatusCode, content_type: &str, body: Chain<Bytes, Bytes>| {
        let mut response = Response::new(Full::new(body));
        *response.status_mut() = status;
        if let Ok(value) = content_type.parse() {
            response.headers_mut().insert(hyper::header::CONTENT_TYPE, value);
        }
        response
    };
    let text = "text/plain; charset=utf-8";
    let only = |body: Bytes| body.chain(Bytes::new());
    if request.method() != hyper::Method::GET && request.method() != hyper::Method::HEAD {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            text,
            only(Bytes::from_static(b"method not allowed\n")),
        );
    }
    match (request.uri().path(), page.unready) {
        ("/metrics", _) => reply(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            page.metrics.chain(Bytes::from(process_text())),
        ),
        ("/readyz", Some(why)) => reply(StatusCode::SERVICE_UNAVAILABLE, text, only(Bytes::from(why))),
        ("/healthz" | "/readyz", _) => reply(StatusCode::OK, text, only(Bytes::from_static(b"ok\n"))),
        _ => reply(StatusCode::NOT_FOUND, text, only(Bytes::from_static(b"not found: try /metrics\n"))),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_fails_before_the_first_collection_and_after_repeated_failures() {
        let mut outage = Outage::default();
        assert_eq!(unready(&outage, false).as_deref(), Some("first collection not finished\n"));
        assert_eq!(unready(&outage, true), None);
        outage.consecutive_failures = UNREADY_AFTER_FAILURES - 1;
        assert_eq!(unready(&outage, true), None);
        outage.consecutive_failures = UNREADY_AFTER_FAILURES;
        assert_eq!(unready(&outage, true).as_deref(), Some("the last 3 collections failed\n"));
    }

    #[test]
    fn a_failed_cycle_is_counted_by_the_failure_kind_of_the_listing() {
        let listing = crate::cluster::DiscoveryError {
            selector: None,
            reason: crate::cluster::FetchError::Timeout(std::time::Duration::from_secs(1)),
        };
        let err = anyhow::Error::new(listing).context("cannot read the cluster");
        assert_eq!(failure_reason(&err), "timeout");
        assert_eq!(failure_reason(&anyhow::anyhow!("something else")), "other");
    }

    #[test]
    fn the_outage_page_marks_known_nodes_down() {
        let outage = Outage {
            last_succeeded: Some(false),
            failures: [("refused".to_string(), 2)].into(),
            consecutive_failures: 2,
            known_nodes: vec!["node-a".into()],
            method: "proxy".into(),
        };
        let page = String::from_utf8(outage_page(&outage).expect("page").to_vec()).expect("utf-8");
        assert!(page.contains("kubelet_metrics_collection_success 0\n"), "{page}");
        assert!(page.contains("kubelet_metrics_collection_failures_total{reason=\"refused\"} 2\n"), "{page}");
        assert!(page.contains("kubelet_metrics_node_up{node=\"node-a\",method=\"proxy\"} 0\n"), "{page}");
    }
}
