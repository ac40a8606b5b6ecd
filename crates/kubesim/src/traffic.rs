//! What the API server was asked, and how much it lets in at once.
//!
//! - Counting: every request is recorded as it arrives — by kind (`list`, `get`, `proxy`, `other`),
//!   with proxied requests also counted per second since the server started, so a benchmark can
//!   read the rate the API server saw — plus a bounded log of arrivals for tests that check pacing.
//! - API Priority and Fairness, reduced to what a client can observe: at most `seats` requests are
//!   served at once; one more is refused with `429`, `Retry-After: 1` and the plain-text message of
//!   kube-apiserver's filters (`http.Error(w, "Too many requests, please try again later.", 429)`).
//!   As in kube-apiserver, long-running requests are never counted nor refused — `nodes/{name}/proxy`
//!   is one (`BasicLongRunningRequestCheck(["watch", "proxy"], [..., "proxy", ...])` in
//!   `cmd/kube-apiserver/app/server.go`; the APF and max-in-flight filters skip such requests) — and
//!   neither are requests of `system:masters` (the `exempt` priority level).
//!
//! Routing and authentication live in `apiserver`; this module only keeps the numbers.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};

use serde::Serialize;

/// How many arrivals the log keeps (the counts go on past it).
const LOG_LIMIT: usize = 100_000;

/// The message kube-apiserver's max-in-flight and APF filters send with a 429.
pub const TOO_MANY_REQUESTS: &str = "Too many requests, please try again later.\n";

/// What a request is, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `GET /api/v1/nodes`.
    List,
    /// `GET` of one object (e.g. `/api/v1/nodes/NAME`).
    Get,
    /// `/api/v1/nodes/NAME/proxy/...`: long-running, never limited.
    Proxy,
    /// Anything else (discovery, reviews, writes, `/debug`).
    Other,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::List => "list",
            Kind::Get => "get",
            Kind::Proxy => "proxy",
            Kind::Other => "other",
        }
    }
}

/// One request as it arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Arrival {
    /// Milliseconds since the API server started (or the counts were reset).
    pub at_ms: u64,
    /// `list`, `get`, `proxy` or `other`.
    pub kind: &'static str,
    /// The request path (no query).
    pub path: String,
    /// The status the API server answered, 0 while it was still being served.
    pub status: u16,
}

/// What the API server was asked so far ([`crate::Cluster::requests`], `GET /debug/requests`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Requests {
    /// Every request.
    pub total: u64,
    /// Requests by kind: `list`, `get`, `proxy`, `other`.
    pub by_kind: BTreeMap<String, u64>,
    /// Requests refused with 429 because every seat was taken.
    pub rejected: u64,
    /// Milliseconds from the start to the first and to the last proxied request.
    pub proxy_first_ms: Option<u64>,
    /// See `proxy_first_ms`.
    pub proxy_last_ms: Option<u64>,
    /// The most proxied requests that arrived within one second (seconds counted from the start).
    pub proxy_peak_per_second: u64,
    /// The first arrivals, in order (at most 100,000).
    pub log: Vec<Arrival>,
}

#[derive(Debug)]
struct Tally {
    started: Instant,
    requests: Requests,
    proxy_per_second: BTreeMap<u64, u64>,
}

impl Tally {
    fn new() -> Tally {
        Tally { started: Instant::now(), requests: Requests::default(), proxy_per_second: BTreeMap::new() }
    }
}

/// The API server's traffic: counts, the arrival log and the seats.
#[derive(Debug)]
pub struct Traffic {
    tally: Mutex<Tally>,
    seats: Option<usize>,
    busy: Arc<AtomicUsize>,
}

/// A seat held while a request is served; released when dropped.
#[derive(Debug)]
pub struct Seat(Option<Arc<AtomicUsize>>);

impl Drop for Seat {
    fn drop(&mut self) {
        if let Some(busy) = &self.0 {
            busy.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Traffic {
    /// Counting from now, with `seats` concurrent requests at most (`None`: no limit).
    pub fn new(seats: Option<usize>) -> Traffic {
        Traffic { tally: Mutex::new(Tally::new()), seats, busy: Arc::default() }
    }

    /// Records an arrival; returns its index in the log (when it is kept there) for [`Self::answered`].
    pub fn arrived(&self, kind: Kind, path: &str) -> Option<usize> {
        let mut tally = self.tally.lock().unwrap_or_else(|e| e.into_inner());
        let at_ms = u64::try_from(tally.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let requests = &mut tally.requests;
        requests.total += 1;
        *requests.by_kind.entry(kind.as_str().to_string()).or_default() += 1;
        if kind == Kind::Proxy {
            requests.proxy_first_ms.get_or_insert(at_ms);
            requests.proxy_last_ms = Some(at_ms);
        }
        let index = (requests.log.len() < LOG_LIMIT).then(|| {
            requests.log.push(Arrival { at_ms, kind: kind.as_str(), path: path.to_string(), status: 0 });
            requests.log.len() - 1
        });
        if kind == Kind::Proxy {
            let second = tally.proxy_per_second.entry(at_ms / 1000).or_default();
            *second += 1;
            let count = *second;
            tally.requests.proxy_peak_per_second = tally.requests.proxy_peak_per_second.max(count);
        }
        index
    }

    /// Records the status a logged request was answered with.
    pub fn answered(&self, index: Option<usize>, status: u16) {
        let Some(index) = index else { return };
        let mut tally = self.tally.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(arrival) = tally.requests.log.get_mut(index) {
            arrival.status = status;
        }
    }

    /// A seat for a request that the limit applies to, or `None` when every seat is taken (the
    /// caller answers 429). Long-running and exempt requests do not ask.
    pub fn seat(&self) -> Option<Seat> {
        let Some(seats) = self.seats else { return Some(Seat(None)) };
        let taken = self.busy.fetch_add(1, Ordering::SeqCst);
        if taken >= seats {
            self.busy.fetch_sub(1, Ordering::SeqCst);
            self.tally.lock().unwrap_or_else(|e| e.into_inner()).requests.rejected += 1;
            return None;
        }
        Some(Seat(Some(self.busy.clone())))
    }

    /// Forgets every request so far and counts time from now (`DELETE /debug/requests`), so that
    /// a benchmark can measure one run at a time.
    pub fn reset(&self) {
        *self.tally.lock().unwrap_or_else(|e| e.into_inner()) = Tally::new();
    }

    /// What was asked so far.
    pub fn requests(&self) -> Requests {
        self.tally.lock().unwrap_or_else(|e| e.into_inner()).requests.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_are_counted_by_kind_and_proxied_ones_per_second() {
        let traffic = Traffic::new(None);
        let first = traffic.arrived(Kind::List, "/api/v1/nodes");
        traffic.arrived(Kind::Proxy, "/api/v1/nodes/n1/proxy/metrics");
        traffic.arrived(Kind::Proxy, "/api/v1/nodes/n2/proxy/metrics");
        traffic.answered(first, 200);
        let requests = traffic.requests();
        assert_eq!(requests.total, 3);
        assert_eq!(requests.by_kind["proxy"], 2);
        assert_eq!(requests.by_kind["list"], 1);
        assert_eq!(requests.proxy_peak_per_second, 2);
        assert_eq!(requests.log[0].status, 200);
        assert_eq!(requests.log[1].status, 0);
    }

    #[test]
    fn seats_are_given_back_when_a_request_ends() {
        let traffic = Traffic::new(Some(1));
        let held = traffic.seat().expect("a free seat");
        assert!(traffic.seat().is_none(), "the only seat is taken");
        drop(held);
        assert!(traffic.seat().is_some());
        assert_eq!(traffic.requests().rejected, 1);
        assert!(Traffic::new(None).seat().is_some());
    }
}
