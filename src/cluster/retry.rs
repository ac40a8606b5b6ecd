//! When a failed fetch is worth another attempt, and how long to wait first; pure.
//!
//! Transient failures only — connection refused or broken, 429, 502/503/504 — never 401, 403,
//! 404, TLS or parse errors, which would fail the same way again. Waits grow exponentially with
//! jitter (so a fleet of retries does not arrive in lockstep), a 429's `Retry-After` is honoured
//! as sent, and no wait may end past the node's deadline.

use std::time::Duration;

use crate::cluster::FetchError;

/// Exponential backoff parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait before the first retry (before jitter).
    pub base: Duration,
    /// The longest wait between attempts (before jitter).
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { base: Duration::from_millis(100), cap: Duration::from_secs(5) }
    }
}

/// True for failures another attempt may not repeat.
pub fn is_transient(err: &FetchError) -> bool {
    match err {
        FetchError::Refused { .. } | FetchError::Io { .. } | FetchError::TooManyRequests { .. } => true,
        FetchError::ServerError { status, .. } => matches!(status, 502..=504),
        _ => false,
    }
}

impl Backoff {
    /// How long to wait before attempt `attempt + 1` (0-based `attempt` just failed), or `None`
    /// to give up: the error is not transient, `retries` are used up, or the wait would not end
    /// within `remaining`. `jitter` in [0, 1] picks the wait in [½·d, d] for the backoff `d`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kubelet_metrics::cluster::{FetchError, retry::Backoff};
    /// let refused = FetchError::Refused { host: "10.0.0.7:10250".into() };
    /// let backoff = Backoff::default(); // 100 ms, doubling, at most 5 s
    /// assert_eq!(backoff.delay(&refused, 1, 3, 1.0, Duration::from_secs(10)), Some(Duration::from_millis(200)));
    /// let denied = FetchError::Unauthorized { message: "Unauthorized".into() };
    /// assert_eq!(backoff.delay(&denied, 0, 3, 1.0, Duration::from_secs(10)), None);
    /// ```
    pub fn delay(
        &self,
        err: &FetchError,
        attempt: u32,
        retries: u32,
        jitter: f64,
        remaining: Duration,
    ) -> Option<Duration> {
        if attempt >= retries || !is_transient(err) {
            return None;
        }
        let wait = match err {
            FetchError::TooManyRequests { retry_after: Some(after) } => *after,
            _ => {
                let exponential = self.base.saturating_mul(2u32.saturating_pow(attempt.min(16)));
                let capped = exponential.min(self.cap);
                capped.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
            }
        };
        (wait < remaining).then_some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLENTY: Duration = Duration::from_secs(60);

    fn refused() -> FetchError {
        FetchError::Refused { host: "10.0.0.1:10250".into() }
    }

    #[test]
    fn only_transient_failures_are_retried() {
        let backoff = Backoff::default();
        for err in [
            refused(),
            FetchError::Io { message: "reset".into() },
            FetchError::TooManyRequests { retry_after: None },
            FetchError::ServerError { status: 503, message: String::new() },
            FetchError::ServerError { status: 502, message: String::new() },
        ] {
            assert!(backoff.delay(&err, 0, 2, 0.0, PLENTY).is_some(), "{err:?}");
        }
        for err in [
            FetchError::Unauthorized { message: String::new() },
            FetchError::Forbidden { denial: None, message: String::new() },
            FetchError::NotFound { message: String::new() },
            FetchError::Parse { line: 3, message: String::new() },
            FetchError::ServerError { status: 500, message: String::new() },
            FetchError::TooLarge { limit: 1 },
            FetchError::Timeout(PLENTY),
        ] {
            assert_eq!(backoff.delay(&err, 0, 2, 0.0, PLENTY), None, "{err:?}");
        }
    }

    #[test]
    fn waits_double_with_jitter_up_to_the_cap() {
        let backoff = Backoff { base: Duration::from_millis(100), cap: Duration::from_millis(350) };
        // jitter 1 → the full backoff: 100, 200, then capped at 350.
        assert_eq!(backoff.delay(&refused(), 0, 9, 1.0, PLENTY), Some(Duration::from_millis(100)));
        assert_eq!(backoff.delay(&refused(), 1, 9, 1.0, PLENTY), Some(Duration::from_millis(200)));
        assert_eq!(backoff.delay(&refused(), 2, 9, 1.0, PLENTY), Some(Duration::from_millis(350)));
        // jitter 0 → half of it.
        assert_eq!(backoff.delay(&refused(), 1, 9, 0.0, PLENTY), Some(Duration::from_millis(100)));
    }

    #[test]
    fn retries_stop_when_used_up() {
        assert_eq!(Backoff::default().delay(&refused(), 2, 2, 0.5, PLENTY), None);
        assert_eq!(Backoff::default().delay(&refused(), 0, 0, 0.5, PLENTY), None);
    }

    #[test]
    fn retry_after_is_honoured_within_the_deadline() {
        let limited = FetchError::TooManyRequests { retry_after: Some(Duration::from_secs(2)) };
        let backoff = Backoff::default();
        assert_eq!(backoff.delay(&limited, 0, 2, 0.0, PLENTY), Some(Duration::from_secs(2)));
        assert_eq!(backoff.delay(&limited, 0, 2, 0.0, Duration::from_secs(1)), None);
    }

    #[test]
    fn no_wait_outlives_the_deadline() {
        assert_eq!(Backoff::default().delay(&refused(), 0, 2, 1.0, Duration::from_millis(50)), None);
    }
}
