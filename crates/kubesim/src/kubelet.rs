//! One simulated kubelet: its listener (closed while `refuse`), its certificate (`badcert`), webhook-style
//! authentication and authorization with the kubelet's path → subresource mapping, its endpoints, and
//! every fault. Payload text comes from `payload`; who may do what from `rbac`, or in kubelets-only mode
//! from the external API server (`external`), behind one seam, `Access`.

use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use tokio::{
    net::TcpListener,
    sync::{mpsc, watch},
};
use tokio_rustls::TlsAcceptor;

use crate::{
    Fault, Node, Shared,
    external::Remote,
    http::{Body, failing, full, respond, serve_connection, streamed},
    payload::{self, Chunks, EXPOSITION_CONTENT_TYPE, NodeView},
    rbac::{Attributes, UserInfo},
};

/// How long a `hang` kubelet holds a request before giving up on it (tests stop long before).
const HANG_LIMIT: Duration = Duration::from_secs(600);

/// Runs a kubelet's listener until shutdown, closing and reopening its port as `refuse` comes and goes.
pub async fn run(
    shared: Arc<Shared>,
    node: Arc<Node>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
    _alive: mpsc::Sender<()>,
) {
    let mut fault = node.fault.subscribe();
    let mut listener = Some(listener);
    loop {
        let refuse = matches!(*fault.borrow_and_update(), Some(Fault::Refuse));
        if refuse {
            listener = None;
        } else if listener.is_none() {
            match TcpListener::bind(node.addr).await {
                Ok(l) => listener = Some(l),
                Err(_) => {
                    // The port is briefly taken; try again shortly.
                    tokio::select! {
                        _ = crate::http::stopped(&mut shutdown) => return,
                        _ = tokio::time::sleep(Duration::from_millis(50)) => continue,
                    }
                }
            }
        }
        let Some(active) = &listener else {
            tokio::select! {
                _ = crate::http::stopped(&mut shutdown) => return,
                changed = fault.changed() => if changed.is_err() { return },
            }
            continue;
        };
        let stop = shutdown.clone();
        tokio::select! {
            _ = crate::http::stopped(&mut shutdown) => return,
            changed = fault.changed() => if changed.is_err() { return },
            accepted = active.accept() => {
                let Ok((stream, _)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let current = node.fault();
                let flaky = matches!(current, Some(Fault::Flaky(n)) if node.flaky_failed.load(Ordering::SeqCst) < n);
                if current == Some(Fault::Reset) || flaky {
                    // Dropping the connection mid-body then sends RST, not FIN.
                    let _ = stream.set_zero_linger();
                }
                let config = if current == Some(Fault::BadCert) { node.bad_tls.clone() } else { node.tls.clone() };
                let (shared, node_for_handler) = (shared.clone(), node.clone());
                let handler = move |user: Option<UserInfo>, req: Request<Incoming>| {
                    let (shared, node) = (shared.clone(), node_for_handler.clone());
                    async move { handle(shared, node, user, req).await }
                };
                // A fault change drops open connections, as a kubelet that crashes or restarts does.
                let mut changed = node.fault.subscribe();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = serve_connection(TlsAcceptor::from(config), stream, handler, stop) => {}
                        _ = changed.changed() => {}
                    }
                });
            }
        }
    }
}

/// Who decides whether a kubelet request may go ahead: the webhook authenticator and authorizer of a
/// kubelet, answered by kubesim's own policy or by an external API server. Everything else in this
/// module is the same in both modes.
pub(crate) enum Access {
    /// kubesim's own tokens and RBAC rules (the simulated API server's TokenReview and SubjectAccessReview).
    Local,
    /// TokenReview and SubjectAccessReview sent to an external API server, with a short cache.
    Remote(Arc<Remote>),
}

impl Access {
    /// The user a bearer token belongs to; `None` (401) when unknown or when the review failed, as a
    /// kubelet's webhook authenticator treats errors.
    async fn authenticate(&self, shared: &Shared, token: &str) -> Option<UserInfo> {
        match self {
            Access::Local => {
                shared.policy.read().unwrap_or_else(|e| e.into_inner()).authenticate_token(token)
            }
            Access::Remote(remote) => remote.authenticate(token).await.ok().flatten(),
        }
    }

    /// Whether `user` may do `attrs`; `Err` when no answer could be had.
    async fn authorize(&self, shared: &Shared, user: &UserInfo, attrs: &Attributes) -> Result<bool, ()> {
        match self {
            Access::Local => {
                Ok(shared.policy.read().unwrap_or_else(|e| e.into_inner()).authorize(user, attrs))
            }
            Access::Remote(remote) => remote.authorize(user, attrs).await.map_err(|_| ()),
        }
    }
}

/// The subresources a kubelet checks for a path, in order; any one allowed is enough
/// (pkg/kubelet/server/auth.go; `/healthz` as with KubeletFineGrainedAuthz).
pub fn subresources(path: &str) -> &'static [&'static str] {
    let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
    if under("/stats") {
        &["stats"]
    } else if under("/metrics") {
        &["metrics"]
    } else if under("/logs") {
        &["log"]
    } else if under("/healthz") {
        &["healthz", "proxy"]
    } else {
        &["proxy"]
    }
}

/// The verb a kubelet derives from the HTTP method.
fn verb(method: &Method) -> &'static str {
    match *method {
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "get",
    }
}

/// How the kubelet writes errors (go-restful `WriteErrorString`): plain text, no trailing newline.
fn kubelet_error(status: StatusCode, message: String) -> Response<Body> {
    let mut response = respond(status, "text/plain; charset=utf-8", message);
    response.headers_mut().insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response
}

fn not_found() -> Response<Body> {
    kubelet_error(StatusCode::NOT_FOUND, "404 page not found\n".into())
}

fn reason_phrase(status: StatusCode) -> String {
    format!("{}\n", status.canonical_reason().unwrap_or("Error"))
}

async fn handle(
    shared: Arc<Shared>,
    node: Arc<Node>,
    cert_user: Option<UserInfo>,
    req: Request<Incoming>,
) -> Response<Body> {
    let fault = node.fault();
    match &fault {
        Some(Fault::Latency(delay)) => tokio::time::sleep(*delay).await,
        Some(Fault::Hang) => {
            tokio::time::sleep(HANG_LIMIT).await;
            return kubelet_error(StatusCode::GATEWAY_TIMEOUT, "kubesim: hang limit reached".into());
        }
        Some(Fault::Status(code)) => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return kubelet_error(status, reason_phrase(status));
        }
        Some(Fault::TooManyRequests { retry_after }) => {
            let mut response =
                kubelet_error(StatusCode::TOO_MANY_REQUESTS, reason_phrase(StatusCode::TOO_MANY_REQUESTS));
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return response;
        }
        _ => {}
    }

    // Authentication: a client certificate from the client CA, else a bearer token via TokenReview.
    // Anonymous requests are rejected (--anonymous-auth=false, as kubeadm configures kubelets).
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let user = match (cert_user, bearer) {
        (Some(user), _) => user,
        (None, Some(token)) if fault != Some(Fault::NoAuth) => {
            match shared.access.authenticate(&shared, token).await {
                Some(user) => user,
                None => return kubelet_error(StatusCode::UNAUTHORIZED, "Unauthorized".into()),
            }
        }
        _ => return kubelet_error(StatusCode::UNAUTHORIZED, "Unauthorized".into()),
    };

    // Authorization: SubjectAccessReview on nodes/<subresource> of this node.
    let path = req.uri().path().to_string();
    let verb = verb(req.method());
    let checks = subresources(&path);
    let subresource = checks.last().copied().unwrap_or("proxy");
    let attributes = format!("user={}, verb={verb}, resource=nodes, subresource={subresource}", user.name);
    let mut allowed = Ok(false);
    for sub in checks {
        allowed = shared
            .access
            .authorize(&shared, &user, &Attributes::resource(verb, "", "nodes", sub, &node.name))
            .await;
        if allowed != Ok(false) {
            break;
        }
    }
    match allowed {
        Ok(true) => {}
        Ok(false) => return kubelet_error(StatusCode::FORBIDDEN, format!("Forbidden ({attributes})")),
        // pkg/kubelet/server/server.go: a failed review is a 500, not a denial.
        Err(()) => {
            return kubelet_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Authorization error ({attributes})"),
            );
        }
    }

    if req.method() != Method::GET && req.method() != Method::HEAD {
        return kubelet_error(StatusCode::METHOD_NOT_ALLOWED, "405: Method Not Allowed".into());
    }
    let starts = node.starts.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let view = NodeView {
        name: &node.name,
        index: node.index,
        version: node.version,
        old: node.profile.is_old(),
        duration: &starts.duration,
        sli: &starts.sli,
        total: node.profile.has_total_and_image_pulls().then_some(&starts.total),
        image_pull: &starts.image_pull,
        sandbox: &starts.sandbox,
        runtime: &starts.runtime,
        containers: node.containers,
        process_start: starts.process_start,
        pod_worker: &starts.pod_worker,
        pleg_relist: &starts.pleg_relist,
    };
    let (chunks, known_len): (Chunks, Option<u64>) = match path.as_str() {
        "/metrics" => {
            let chunks = payload::metrics(&view);
            let len = chunks.iter().map(|c| c.len() as u64).sum();
            (Box::pin(futures::stream::iter(chunks)), Some(len))
        }
        "/metrics/cadvisor" => (payload::cadvisor(&view), None),
        "/metrics/resource" => {
            let body = payload::resource(&view);
            let len = body.len() as u64;
            (Box::pin(futures::stream::iter([body])), Some(len))
        }
        "/metrics/probes" | "/metrics/slis" => {
            let body = if path == "/metrics/probes" { payload::probes() } else { payload::slis() };
            let len = body.len() as u64;
            (Box::pin(futures::stream::iter([body])), Some(len))
        }
        "/healthz" => return respond(StatusCode::OK, "text/plain; charset=utf-8", "ok"),
        "/pods" | "/pods/" => return respond(StatusCode::OK, "application/json", payload::pods(&view)),
        "/stats/summary" => return respond(StatusCode::OK, "application/json", payload::summary(&view)),
        _ => return not_found(),
    };
    let body = match fault {
        Some(Fault::Truncate) => streamed(payload::truncate(chunks, known_len.map_or(100_000, |l| l / 2))),
        Some(Fault::Reset) => failing(payload::truncate(chunks, known_len.map_or(100_000, |l| l / 2))),
        Some(Fault::Garbage) => streamed(payload::garbage(chunks)),
        Some(Fault::Huge(size)) if path == "/metrics" => {
            streamed(payload::pad_to(chunks, known_len.unwrap_or(0), size))
        }
        Some(Fault::SlowBody(over)) => streamed(payload::trickle(chunks, known_len, over)),
        // Half the body, or 1.5 MB of one whose length is not known in advance (cadvisor, 2-3 MB).
        Some(Fault::Flaky(failures))
            if node
                .flaky_failed
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < failures).then_some(n + 1))
                .is_ok() =>
        {
            failing(payload::truncate(chunks, known_len.map_or(1_500_000, |l| l / 2)))
        }
        _ => streamed(chunks),
    };
    let mut response = Response::new(if req.method() == Method::HEAD { full("") } else { body });
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(EXPOSITION_CONTENT_TYPE));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_subresources_like_a_kubelet() {
        assert_eq!(subresources("/metrics"), ["metrics"]);
        assert_eq!(subresources("/metrics/cadvisor"), ["metrics"]);
        assert_eq!(subresources("/metricsfoo"), ["proxy"]);
        assert_eq!(subresources("/stats/summary"), ["stats"]);
        assert_eq!(subresources("/logs/"), ["log"]);
        assert_eq!(subresources("/healthz"), ["healthz", "proxy"]);
        assert_eq!(subresources("/pods"), ["proxy"]);
        assert_eq!(subresources("/"), ["proxy"]);
    }
}
