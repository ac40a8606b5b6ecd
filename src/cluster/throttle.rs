//! How fast a run sends requests: one token bucket shared by every node of a fan-out (`--qps`,
//! `--burst`), and one pause shared by all of them when the API server says it is overloaded.
//!
//! kube-apiserver does not protect itself from a proxy fan-out: `nodes/{name}/proxy` requests are
//! long-running, which its max-in-flight and API Priority and Fairness filters skip
//! (`BasicLongRunningRequestCheck` in `cmd/kube-apiserver/app/server.go`), so the client has to be
//! kind. When a 429 does come back through the API server (from its filters on other requests, a
//! load balancer in front of it, or a kubelet), every node waits — not only the one that got it —
//! as client-go's per-host backoff does: the `Retry-After` pause is shared, the bucket is drained
//! so that the end of the pause is not a burst, and the rate is halved for the rest of the run
//! (once per pause, never below one request per second). When and whether to retry is
//! [`super::retry`]'s decision; this module only spaces requests out.
//!
//! The same shared fate holds when the API server refuses connections: once one node has given
//! up because every attempt was refused, the nodes still to come are told so at once instead of
//! each retrying against a closed port (1,000 nodes, 8 at a time, took about 40 s to fail one by
//! one, and `serve` noticed the outage only after them).

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::FetchError;

/// A request rate: `qps` per second on average, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests per second, at least 1.
    pub qps: u32,
    /// Requests that may go at once after a quiet spell, at least 1.
    pub burst: u32,
}

/// The slowest a run gets after repeated 429s: one request per second.
const SLOWEST_QPS: f64 = 1.0;

/// The pacing of one run's requests.
#[derive(Debug)]
pub struct Throttle {
    rate: Option<Rate>,
    shared_pause: bool,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// The current rate (halved by 429s).
    qps: f64,
    /// Tokens in the bucket at `updated`; negative when requests are queued for later.
    tokens: f64,
    updated: Instant,
    /// No request starts before this.
    paused_until: Instant,
    /// The shared server that refused every attempt of a node (`host:port`), once one did.
    refused_by: Option<String>,
}

impl Throttle {
    /// Paces requests at `rate` (`None`: as fast as `--concurrency` allows). With `shared_pause`,
    /// a 429 reported through [`Throttle::overloaded`] pauses every request (right for requests
    /// that all go through one API server); without it, the pause is the failing node's alone.
    pub fn new(rate: Option<Rate>, shared_pause: bool) -> Throttle {
        let now = Instant::now();
        let (qps, tokens) = rate.map_or((0.0, 0.0), |r| (f64::from(r.qps.max(1)), f64::from(r.burst.max(1))));
        Throttle {
            rate,
            shared_pause,
            state: Mutex::new(State { qps, tokens, updated: now, paused_until: now, refused_by: None }),
        }
    }

    /// Waits until the next request may start, and counts it.
    pub async fn admit(&self) {
        // A pause that began while this request waited for its turn still applies: re-check it.
        for _ in 0..64 {
            let at = self.reserve(Instant::now());
            tokio::time::sleep_until(at).await;
            if self.lock().paused_until <= Instant::now() {
                return;
            }
        }
    }

    /// The API server answered 429 (and `Retry-After`, or our own backoff, says `wait`): with a
    /// shared pause, no request starts for `wait`, and the rate halves unless a pause was
    /// already running. Without one, nothing changes here (the node waits alone).
    pub fn overloaded(&self, wait: Duration) {
        if !self.shared_pause {
            return;
        }
        let now = Instant::now();
        let until = now + wait;
        let mut state = self.lock();
        if until <= state.paused_until {
            return;
        }
        let already_paused = state.paused_until > now;
        state.paused_until = until;
        if let Some(rate) = self.rate {
            if !already_paused {
                state.qps = (state.qps / 2.0).max(SLOWEST_QPS.min(f64::from(rate.qps)));
            }
            // Nothing saved up while paused: after it, requests come at the rate, not at once.
            state.tokens = state.tokens.min(0.0);
            state.updated = until;
        }
        tracing::info!(?wait, qps = state.qps, "the API server is overloaded: every request waits");
    }

    /// A node's last attempt ended in `err`. When every request goes through one server and it
    /// refused the connection, that server is down for the rest of the run as far as this run is
    /// concerned: [`Throttle::refusal`] says so to the nodes still to come.
    pub fn gave_up(&self, err: &FetchError) {
        let FetchError::Refused { host } = err else { return };
        if !self.shared_pause {
            return;
        }
        let mut state = self.lock();
        if state.refused_by.is_none() {
            tracing::info!(%host, "the API server refuses connections: the nodes left fail without trying");
            state.refused_by = Some(host.clone());
        }
    }

    /// The refusal a node would meet, when the shared server already refused every attempt of
    /// another node this run (see [`Throttle::gave_up`]).
    pub fn refusal(&self) -> Option<FetchError> {
        self.lock().refused_by.clone().map(|host| FetchError::Refused { host })
    }

    /// The requests per second now allowed (`None`: no limit).
    pub fn qps(&self) -> Option<f64> {
        self.rate.map(|_| self.lock().qps)
    }

    /// Takes a token for a request wanting to start at `now`; returns when it may.
    fn reserve(&self, now: Instant) -> Instant {
        let mut state = self.lock();
        let start = now.max(state.paused_until);
        let Some(rate) = self.rate else { return start };
        if start > state.updated {
            let refill = (start - state.updated).as_secs_f64() * state.qps;
            state.tokens = (state.tokens + refill).min(f64::from(rate.burst.max(1)));
            state.updated = start;
        }
        state.tokens -= 1.0;
        if state.tokens >= 0.0 {
            start
        } else {
            state.updated + Duration::from_secs_f64(-state.tokens / state.qps)
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// When each of `n` requests, asked for at once, is admitted (relative to the start).
    async fn admissions(throttle: &Throttle, n: usize) -> Vec<Duration> {
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..n {
            throttle.admit().await;
            at.push(start.elapsed());
        }
        at
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_goes_at_once_then_requests_follow_the_rate() {
        // qps 10: one token every 100 ms, after a burst of 3.
        let throttle = Throttle::new(Some(Rate { qps: 10, burst: 3 }), true);
        let at = admissions(&throttle, 6).await;
        let ms: Vec<u128> = at.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [0, 0, 0, 100, 200, 300]);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_rate_nothing_waits() {
        let throttle = Throttle::new(None, true);
        assert!(admissions(&throttle, 100).await.iter().all(Duration::is_zero));
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_pauses_everyone_halves_the_rate_and_leaves_no_burst() {
        let throttle = Throttle::new(Some(Rate { qps: 10, burst: 5 }), true);
        throttle.overloaded(Duration::from_secs(1));
        assert_eq!(throttle.qps(), Some(5.0));
        // A second 429 during the same pause does not halve again.
        throttle.overloaded(Duration::from_millis(500));
        assert_eq!(throttle.qps(), Some(5.0));
        let ms: Vec<u128> = admissions(&throttle, 3).await.iter().map(Duration::as_millis).collect();
        // The pause ends at 1 s; then one request per 200 ms (5 qps), the bucket empty.
        assert_eq!(ms, [1200, 1400, 1600]);
    }

    #[tokio::test(start_paused = true)]
    async fn requests_waiting_for_a_token_also_wait_for_a_pause_begun_meanwhile() {
        let throttle = std::sync::Arc::new(Throttle::new(Some(Rate { qps: 10, burst: 1 }), true));
        throttle.admit().await;
        // The next token comes at 100 ms; a 429 at 50 ms pauses everything until 2.05 s.
        let waiting = tokio::spawn({
            let throttle = throttle.clone();
            async move {
                throttle.admit().await;
                Instant::now()
            }
        });
        let start = Instant::now();
        tokio::time::sleep(Duration::from_millis(50)).await;
        throttle.overloaded(Duration::from_secs(2));
        let admitted = waiting.await.expect("task") - start;
        assert!(admitted >= Duration::from_millis(2050), "{admitted:?}");
    }

    #[test]
    fn a_refusal_by_the_shared_api_server_is_handed_to_the_nodes_still_to_come() {
        let refused = FetchError::Refused { host: "10.0.0.1:6443".into() };
        let through_the_api_server = Throttle::new(None, true);
        through_the_api_server.gave_up(&FetchError::Timeout(Duration::from_secs(1)));
        assert_eq!(through_the_api_server.refusal(), None, "a timeout says nothing about the others");
        through_the_api_server.gave_up(&refused);
        assert_eq!(through_the_api_server.refusal(), Some(refused.clone()));
        // Direct: one kubelet refusing says nothing about the next one.
        let direct = Throttle::new(None, false);
        direct.gave_up(&refused);
        assert_eq!(direct.refusal(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_of_one_node_stays_its_own() {
        let throttle = Throttle::new(Some(Rate { qps: 10, burst: 2 }), false);
        throttle.overloaded(Duration::from_secs(5));
        assert_eq!(throttle.qps(), Some(10.0));
        assert!(admissions(&throttle, 2).await.iter().all(Duration::is_zero));
    }
}
