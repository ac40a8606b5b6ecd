//! Units people type: durations (`750ms`, `1m30s`), byte sizes (`256M`), quantiles (`0.99`),
//! the RFC 3339 timestamps reports print, and URL components percent-encoded. Pure; the command line's value parsers and `slo`
//! use the same functions.

use std::time::{Duration, SystemTime};

/// Parses a Go-style duration: `750ms`, `10s`, `1m30s`, `2h`, `1.5s`.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("empty duration".into());
    }
    if raw == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = 0.0_f64;
    let mut rest = raw;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("{raw:?} needs a unit (ms, s, m, h)"))?;
        let (number, tail) = rest.split_at(number_len);
        let value: f64 = number.parse().map_err(|_| format!("{raw:?} is not a duration"))?;
        let unit_len = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let seconds = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return Err(format!("{raw:?}: unknown unit {unit:?} (use ms, s, m, h)")),
        };
        total += value * seconds;
        rest = tail;
    }
    Duration::try_from_secs_f64(total).map_err(|e| format!("{raw:?}: {e}"))
}

/// Parses a byte size: `1048576`, `512K`, `256M`, `1G` (powers of 1024; `Ki`/`Mi`/`Gi` too).
pub fn parse_size(raw: &str) -> Result<u64, String> {
    let raw = raw.trim();
    let digits = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(digits);
    let number: u64 = number.parse().map_err(|_| format!("{raw:?} is not a size"))?;
    let factor: u64 = match unit.trim_end_matches(['i', 'B']).to_ascii_uppercase().as_str() {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => return Err(format!("{raw:?}: unknown size unit (use K, M, G)")),
    };
    number.checked_mul(factor).ok_or_else(|| format!("{raw:?} is too large"))
}

/// Parses one quantile, which must lie in [0, 1].
pub fn parse_quantile(raw: &str) -> Result<f64, String> {
    let q: f64 = raw.trim().parse().map_err(|_| format!("{raw:?} is not a number"))?;
    if (0.0..=1.0).contains(&q) { Ok(q) } else { Err(format!("quantile {q} is outside [0, 1]")) }
}

/// A moment as RFC 3339 in UTC with whole seconds, as Kubernetes prints timestamps
/// (`2024-01-02T03:04:05Z`).
pub fn rfc3339(at: SystemTime) -> String {
    // Truncated, not rounded: a frame taken at 09:20:00.9 belongs to 09:20:00.
    jiff::Timestamp::try_from(at)
        .map(|ts| ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| "-".to_string())
}

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`).
const NOT_UNRESERVED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Percent-encodes one URL component (a path segment or a query key or value): every byte but
/// RFC 3986's unreserved characters.
///
/// ```
/// assert_eq!(kubelet_metrics::units::encode_component("a b/c"), "a%20b%2Fc");
/// ```
pub fn encode_component(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, NOT_UNRESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_follow_go_spelling() {
        assert_eq!(parse_duration("750ms"), Ok(Duration::from_millis(750)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("10 parsecs").is_err());
    }

    #[test]
    fn sizes_accept_binary_suffixes() {
        assert_eq!(parse_size("256M"), Ok(256 << 20));
        assert_eq!(parse_size("1Gi"), Ok(1 << 30));
        assert_eq!(parse_size("512"), Ok(512));
        assert!(parse_size("12X").is_err());
    }

    #[test]
    fn timestamps_print_like_kubernetes() {
        let at = |s: u64, ms: u64| {
            rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(s) + Duration::from_millis(ms))
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400, 0), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_795_768_586, 999), "2026-11-27T08:36:26Z");
    }
}
