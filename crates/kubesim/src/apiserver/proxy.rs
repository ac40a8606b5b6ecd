//! The `nodes/{name}[:port]/proxy/{path}` subresource: the API server forwards the request to the
//! node's kubelet over TLS, with its own client certificate, and streams the answer back. It owns the
//! API server → kubelet client (connection pool, TLS, connect and handshake timeouts) and the
//! `error trying to reach service: ...` messages. Authorization happened in the parent module; what a
//! kubelet answers lives in `kubelet`.

use std::{
    future::Future,
    io,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use http::{Method, Request, Response, StatusCode, Uri, header};
use hyper::body::Incoming;
use hyper_util::{
    client::legacy::{
        Client,
        connect::{Connected, Connection},
    },
    rt::{TokioExecutor, TokioIo, TokioTimer},
};
use rustls::{ClientConfig, pki_types::ServerName};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
};
use tokio_rustls::{TlsConnector, client::TlsStream};

use super::not_found;
use crate::{
    Fault, Node, Shared,
    http::{Body, full, incoming, status},
};

/// Idle connections kept per kubelet (per `host:port`): enough for a few requests in parallel.
const MAX_IDLE_PER_KUBELET: usize = 4;
/// How long an idle connection is kept. A 1,000-node fan-out leaves up to 1,000 idle connections
/// behind; they are closed after this long instead of holding buffers on both ends for good.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a TCP connect may take (the API server's dial timeout).
const DIAL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a TLS handshake may take (Go's `net/http` default).
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The API server's HTTPS client towards kubelets: its kubelet client certificate, kubelet
/// certificates verified against the kubelet CA, and a pool of idle connections per kubelet.
pub(crate) struct KubeletClient {
    client: Client<KubeletConnector, Body>,
}

impl KubeletClient {
    /// A client presenting the identity in `tls` (kubeadm's `apiserver-kubelet-client`).
    ///
    /// Must be called inside the Tokio runtime that serves the API server: connections run as tasks on it.
    pub(crate) fn new(tls: Arc<ClientConfig>) -> Self {
        // Every request goes to some kubelet's `127.0.0.1:port`, and the pool is keyed by that
        // authority, so each kubelet port gets its own pool, `node:port` requests included.
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(MAX_IDLE_PER_KUBELET)
            .pool_idle_timeout(IDLE_TIMEOUT)
            .pool_timer(TokioTimer::new())
            .build(KubeletConnector { tls: TlsConnector::from(tls) });
        KubeletClient { client }
    }
}

/// Forwards a request to a kubelet with the API server's client certificate, streaming the answer back.
pub(super) async fn proxy(
    shared: Arc<Shared>,
    name_part: &str,
    rest: &str,
    req: Request<Incoming>,
) -> Response<Body> {
    // `node`, `node:port`, `https:node:port`, as the API server's ResourceLocation accepts.
    let without_scheme =
        name_part.strip_prefix("https:").or_else(|| name_part.strip_prefix("http:")).unwrap_or(name_part);
    let (name, port) = match without_scheme.split_once(':') {
        Some((name, port)) => (name, port.parse::<u16>().ok()),
        None => (without_scheme, None),
    };
    let Some(node) = shared.node(name).cloned() else {
        return not_found("nodes", name);
    };
    let target = SocketAddr::from((Ipv4Addr::LOCALHOST, port.unwrap_or(node.addr.port())));
    let uri = match req.uri().query() {
        Some(q) => format!("https://{target}{rest}?{q}"),
        None => format!("https://{target}{rest}"),
    };
    let uri = match uri.parse::<Uri>() {
        Ok(uri) => uri,
        Err(err) => return unreachable(&err.to_string()),
    };
    let (parts, body) = req.into_parts();
    // Requests without a body can be sent again if a pooled connection closes under them.
    let replayable = parts.method == Method::GET || parts.method == Method::HEAD;
    let mut body = Some(if replayable { full("") } else { incoming(body) });
    let upstream = |body: Body| {
        let mut upstream = Request::builder().method(parts.method.clone()).uri(uri.clone());
        for (key, value) in &parts.headers {
            if !is_hop_by_hop(key)
                && key != header::AUTHORIZATION
                && key != header::HOST
                && !key.as_str().starts_with("impersonate-")
            {
                upstream = upstream.header(key, value);
            }
        }
        upstream.header(header::HOST, target.to_string()).body(body)
    };
    let mut attempts = if replayable { 2 } else { 1 };
    loop {
        attempts -= 1;
        let request_body = if replayable { full("") } else { body.take().unwrap_or_else(|| full("")) };
        let request = match upstream(request_body) {
            Ok(r) => r,
            Err(err) => return unreachable(&err.to_string()),
        };
        let err = match shared.kubelet_client.client.request(request).await {
            Ok(response) => return pass_through(response),
            Err(err) => err,
        };
        if err.is_connect() {
            let detail = match std::error::Error::source(&err).and_then(|s| s.downcast_ref::<ConnectError>())
            {
                Some(connect) => connect.detail(&node),
                None => format!("dial tcp {target}: {err}"),
            };
            return unreachable(&detail);
        }
        // The client already resends a request that a pooled connection dropped before it was written.
        // A connection that a kubelet closes (a fault change drops its connections) while the request
        // is being written fails instead; like Go's transport, try a body-less request once more.
        if attempts > 0 {
            continue;
        }
        let detail = if is_reset(&err) { "read: connection reset by peer".to_string() } else { cause(&err) };
        return unreachable(&format!("read tcp 127.0.0.1->{target}: {detail}"));
    }
}

/// The kubelet's response with its status, headers (less hop-by-hop ones) and streamed body.
fn pass_through(response: Response<Incoming>) -> Response<Body> {
    let (parts, body) = response.into_parts();
    let mut out = Response::new(incoming(body));
    *out.status_mut() = parts.status;
    for (key, value) in &parts.headers {
        if !is_hop_by_hop(key) {
            out.headers_mut().append(key, value.clone());
        }
    }
    out
}

/// The 503 the API server answers when a kubelet cannot be reached.
fn unreachable(detail: &str) -> Response<Body> {
    status(
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailable",
        &format!("error trying to reach service: {detail}"),
        None,
    )
}

/// Whether a connection reset caused `err`.
fn is_reset(err: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(err), |e| e.source())
        .filter_map(|e| e.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::ConnectionReset)
}

/// hyper's own words for a failed exchange (e.g. `connection closed before message completed`),
/// rather than the client's wrapper around them.
fn cause(err: &hyper_util::client::legacy::Error) -> String {
    std::iter::successors(Some(err as &(dyn std::error::Error + 'static)), |e| e.source())
        .find_map(|e| e.downcast_ref::<hyper::Error>())
        .map_or_else(|| err.to_string(), ToString::to_string)
}

/// Headers that describe one connection (RFC 9110 §7.6.1), so a proxy does not forward them.
fn is_hop_by_hop(name: &http::HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

/// Why a new connection to a kubelet failed, in the terms Go's dialer and TLS client use.
#[derive(Debug, thiserror::Error)]
enum ConnectError {
    #[error("kubelet URI {0} names no IP address and port")]
    Address(Uri),
    #[error("connecting to {0} was refused")]
    Refused(SocketAddr),
    #[error("could not connect to {target}")]
    Dial {
        target: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("connecting to {0} timed out")]
    DialTimeout(SocketAddr),
    #[error("TLS handshake with {target} failed")]
    Tls {
        target: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("TLS handshake with {0} timed out")]
    TlsTimeout(SocketAddr),
}

impl ConnectError {
    /// What follows `error trying to reach service: ` in the API server's 503 for `node`.
    fn detail(&self, node: &Node) -> String {
        match self {
            ConnectError::Address(uri) => format!("dial tcp {uri}: missing address"),
            ConnectError::Refused(target) => format!("dial tcp {target}: connect: connection refused"),
            ConnectError::Dial { target, source } => format!("dial tcp {target}: {source}"),
            ConnectError::DialTimeout(target) => format!("dial tcp {target}: i/o timeout"),
            ConnectError::Tls { target, source } => tls_message(source, node, *target),
            ConnectError::TlsTimeout(_) => "net/http: TLS handshake timeout".into(),
        }
    }
}

/// Go's wording of a failed TLS handshake with a kubelet.
fn tls_message(err: &io::Error, node: &Node, target: SocketAddr) -> String {
    let text = err.to_string();
    if text.contains("NotValidForName") || text.contains("not valid for") {
        let names = if node.fault() == Some(Fault::BadCert) {
            crate::pki::WRONG_NAME.to_string()
        } else {
            node.name.clone()
        };
        return format!(
            "tls: failed to verify certificate: x509: certificate is valid for {names}, not {}",
            target.ip()
        );
    }
    if text.contains("UnknownIssuer") {
        return "tls: failed to verify certificate: x509: certificate signed by unknown authority".into();
    }
    format!("remote error: {text}")
}

/// Opens TLS connections to kubelets for the client: TCP to the URI's `IP:port`, then a handshake
/// that presents the API server's client certificate and verifies the kubelet's for that IP.
#[derive(Clone)]
struct KubeletConnector {
    tls: TlsConnector,
}

impl tower_service::Service<Uri> for KubeletConnector {
    type Response = TokioIo<KubeletStream>;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, ConnectError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let tls = self.tls.clone();
        Box::pin(async move {
            let target = uri
                .host()
                .and_then(|host| host.parse::<IpAddr>().ok())
                .zip(uri.port_u16())
                .map(SocketAddr::from)
                .ok_or_else(|| ConnectError::Address(uri.clone()))?;
            let stream = match tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(target)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(err)) if err.kind() == io::ErrorKind::ConnectionRefused => {
                    return Err(ConnectError::Refused(target));
                }
                Ok(Err(source)) => return Err(ConnectError::Dial { target, source }),
                Err(_) => return Err(ConnectError::DialTimeout(target)),
            };
            let _ = stream.set_nodelay(true);
            let server_name = ServerName::IpAddress(target.ip().into());
            match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, tls.connect(server_name, stream)).await {
                Ok(Ok(tls)) => Ok(TokioIo::new(KubeletStream(tls))),
                Ok(Err(source)) => Err(ConnectError::Tls { target, source }),
                Err(_) => Err(ConnectError::TlsTimeout(target)),
            }
        })
    }
}

/// A TLS connection to a kubelet, as the client's connector hands it over.
struct KubeletStream(TlsStream<TcpStream>);

impl Connection for KubeletStream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl AsyncRead for KubeletStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for KubeletStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}
