//! HTTP plumbing shared by the API server and the kubelets: body types, Status objects, the TLS accept
//! loop, and time formatting. What each server answers lives in `apiserver` and `kubelet`.

use std::{
    convert::Infallible,
    future::Future,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use rustls::ServerConfig;
use tokio::{net::TcpListener, sync::watch};
use tokio_rustls::TlsAcceptor;

use crate::{payload::Chunks, rbac::UserInfo};

/// Boxed error of response bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Every response body.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

/// A complete body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed_unsync()
}

/// A streamed body from chunks.
pub fn streamed(chunks: Chunks) -> Body {
    BodyExt::boxed_unsync(StreamBody::new(chunks.map(|c| Ok::<_, BoxError>(Frame::data(c)))))
}

/// A streamed body that fails after its chunks, which makes hyper abort the connection mid-body.
pub fn failing(chunks: Chunks) -> Body {
    // A moment's pause first, so the peer has read what was sent before the reset discards its buffers.
    let fail = futures::stream::once(async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        Err::<Frame<Bytes>, BoxError>("reset by kubesim fault".into())
    });
    BodyExt::boxed_unsync(StreamBody::new(chunks.map(|c| Ok::<_, BoxError>(Frame::data(c))).chain(fail)))
}

/// A body passed through from an upstream response.
pub fn incoming(body: Incoming) -> Body {
    body.map_err(|e| Box::new(e) as BoxError).boxed_unsync()
}

/// A response with this status, content type and body.
pub fn respond(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A JSON response.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    respond(status, "application/json", serde_json::to_vec(value).unwrap_or_default())
}

/// A Kubernetes `Status` failure, as the API server writes it.
pub fn status(
    code: StatusCode,
    reason: &str,
    message: &str,
    details: Option<serde_json::Value>,
) -> Response<Body> {
    let mut value = serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    });
    if let Some(details) = details {
        value["details"] = details;
    }
    value["code"] = code.as_u16().into();
    json(code, &value)
}

/// Serves HTTPS on `listener` until `shutdown` turns true. `handler` gets the client certificate's user,
/// if a verified one was presented. `config` is asked for the TLS config of each new connection.
pub async fn serve<H, F, C>(listener: TcpListener, config: C, handler: H, mut shutdown: watch::Receiver<bool>)
where
    C: Fn() -> Arc<ServerConfig> + Send + 'static,
    H: Fn(Option<UserInfo>, http::Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    loop {
        let accepted = tokio::select! {
            _ = crate::http::stopped(&mut shutdown) => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _peer)) = accepted else {
            // Out of file descriptors or similar: back off a little instead of spinning.
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let acceptor = TlsAcceptor::from(config());
        let handler = handler.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(serve_connection(acceptor, stream, handler, shutdown));
    }
}

/// TLS handshake, then HTTP/1.1 on one connection, until it closes or the server stops.
pub async fn serve_connection<H, F>(
    acceptor: TlsAcceptor,
    stream: tokio::net::TcpStream,
    handler: H,
    mut shutdown: watch::Receiver<bool>,
) where
    H: Fn(Option<UserInfo>, http::Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let work = async move {
        let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await else {
            return;
        };
        let user = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|certs| certs.first())
            .and_then(|cert| crate::pki::user_from_cert(cert));
        let service = hyper::service::service_fn(move |req| {
            let handler = handler.clone();
            let user = user.clone();
            async move { Ok::<_, Infallible>(handler(user, req).await) }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(Duration::from_secs(30))
            .serve_connection(TokioIo::new(tls), service)
            .await;
    };
    tokio::select! {
        _ = crate::http::stopped(&mut shutdown) => {}
        _ = work => {}
    }
}

/// Resolves once `shutdown` is true (or its sender is gone).
pub async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Seconds since the Unix epoch, with the fraction.
pub fn unix_now_precise() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// RFC 3339 in UTC, second resolution, as Kubernetes writes timestamps (`2024-01-02T03:04:05Z`).
pub fn rfc3339(unix: u64) -> String {
    // Whole seconds have no fractional part, so jiff's Display prints none. Beyond year 9999 (which
    // RFC 3339 cannot write) the latest representable second stands in.
    let latest = jiff::Timestamp::MAX.as_second();
    let seconds = i64::try_from(unix).unwrap_or(latest).min(latest);
    jiff::Timestamp::from_second(seconds).unwrap_or(jiff::Timestamp::MAX).to_string()
}

/// kubectl's AGE column (k8s.io/apimachinery/pkg/util/duration.HumanDuration).
pub fn human_duration(seconds: u64) -> String {
    let (m, h, d) = (seconds / 60, seconds / 3600, seconds / 86_400);
    let y = d / 365;
    if seconds < 120 {
        format!("{seconds}s")
    } else if m < 10 {
        if seconds.is_multiple_of(60) { format!("{m}m") } else { format!("{m}m{}s", seconds % 60) }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        if m.is_multiple_of(60) { format!("{h}h") } else { format!("{h}h{}m", m % 60) }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 192 {
        if h.is_multiple_of(24) { format!("{d}d") } else { format!("{d}d{}h", h % 24) }
    } else if y < 2 {
        format!("{d}d")
    } else if y < 8 {
        if d.is_multiple_of(365) { format!("{y}y") } else { format!("{y}y{}d", d % 365) }
    } else {
        format!("{y}y")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_ages_print_like_kubernetes() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_600), "2026-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400 + 3661), "2000-02-29T01:01:01Z");
        assert_eq!(human_duration(59), "59s");
        assert_eq!(human_duration(300), "5m");
        assert_eq!(human_duration(86_400 * 3 + 3600 * 5), "3d5h");
        assert_eq!(human_duration(86_400 * 20), "20d");
    }
}
