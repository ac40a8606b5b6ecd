//! Faults a simulated kubelet can show, and their command-line spelling (`latency:200ms`, `429:2s`, ...).
//! How each fault is acted out lives in `kubelet`.

use std::{fmt, str::FromStr, time::Duration};

/// Something wrong with one kubelet, set at start (`--fault`, the builder) or at runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Every response waits this long before it starts (`latency:200ms`).
    Latency(Duration),
    /// The kubelet's port is closed: connections are refused (`refuse`).
    Refuse,
    /// Connections are accepted and requests read, but no response ever comes (`hang`).
    Hang,
    /// Payloads stop mid-body and the TCP connection is reset (`reset`).
    Reset,
    /// Every request is answered with this HTTP status (`status:503`).
    Status(u16),
    /// Every request is answered 429 with a `Retry-After` header (`429`, `429:2s`).
    TooManyRequests {
        /// The delay announced in `Retry-After` (whole seconds, rounded up).
        retry_after: Duration,
    },
    /// Metrics payloads end early, in the middle of a line, in an otherwise clean response (`truncate`).
    Truncate,
    /// Metrics payloads contain malformed lines (`garbage`).
    Garbage,
    /// `/metrics` is padded with valid series to this many bytes (`huge:20MB`).
    Huge(u64),
    /// The kubelet serves a certificate for another name, `wrong.kubesim.invalid` (`badcert`).
    BadCert,
    /// Webhook token authentication is off: every bearer token gets 401 (`noauth`).
    NoAuth,
    /// Headers at once, then the body trickles out over this long, in 100 even pieces
    /// (`slowbody:30s`): a kubelet that answers but cannot send its payload in time.
    SlowBody(Duration),
    /// The first N metrics responses after the fault is set stop mid-body with a reset, as with
    /// `reset`; later ones are whole (`flaky`, `flaky:3`): a kubelet a retry gets through to.
    Flaky(u32),
}

/// A `--fault` value that could not be understood.
#[derive(Debug, thiserror::Error)]
#[error("invalid fault {input:?}: {reason}")]
pub struct ParseFaultError {
    input: String,
    reason: String,
}

impl FromStr for Fault {
    type Err = ParseFaultError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |reason: &str| ParseFaultError { input: input.to_string(), reason: reason.to_string() };
        let (kind, arg) = match input.split_once(':') {
            Some((kind, arg)) => (kind, Some(arg)),
            None => (input, None),
        };
        let need = |arg: Option<&str>| {
            arg.map(str::to_string).ok_or_else(|| fail("this fault needs an argument after ':'"))
        };
        let none = |fault: Fault| match arg {
            Some(_) => Err(fail("this fault takes no argument")),
            None => Ok(fault),
        };
        match kind.to_ascii_lowercase().as_str() {
            "latency" => parse_duration(&need(arg)?).map(Fault::Latency).map_err(|e| fail(&e)),
            "refuse" => none(Fault::Refuse),
            "hang" => none(Fault::Hang),
            "reset" => none(Fault::Reset),
            "status" => {
                let code: u16 = need(arg)?.parse().map_err(|_| fail("the status must be a number"))?;
                if !(100..=599).contains(&code) {
                    return Err(fail("the status must be between 100 and 599"));
                }
                Ok(Fault::Status(code))
            }
            "429" => {
                let retry_after = match arg {
                    Some(arg) => parse_duration(arg).map_err(|e| fail(&e))?,
                    None => Duration::from_secs(1),
                };
                Ok(Fault::TooManyRequests { retry_after })
            }
            "truncate" => none(Fault::Truncate),
            "garbage" => none(Fault::Garbage),
            "huge" => parse_size(&need(arg)?).map(Fault::Huge).map_err(|e| fail(&e)),
            "badcert" => none(Fault::BadCert),
            "noauth" => none(Fault::NoAuth),
            "slowbody" => parse_duration(&need(arg)?).map(Fault::SlowBody).map_err(|e| fail(&e)),
            "flaky" => match arg {
                Some(n) => n.parse().map(Fault::Flaky).map_err(|_| fail("the count must be a whole number")),
                None => Ok(Fault::Flaky(1)),
            },
            _ => Err(fail(
                "expected one of latency:DURATION, refuse, hang, reset, status:CODE, 429[:DURATION], \
                 truncate, garbage, huge:SIZE, badcert, noauth, slowbody:DURATION, flaky[:N]",
            )),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Latency(d) => write!(f, "latency:{}ms", d.as_millis()),
            Fault::Refuse => f.write_str("refuse"),
            Fault::Hang => f.write_str("hang"),
            Fault::Reset => f.write_str("reset"),
            Fault::Status(code) => write!(f, "status:{code}"),
            Fault::TooManyRequests { retry_after } => write!(f, "429:{}ms", retry_after.as_millis()),
            Fault::Truncate => f.write_str("truncate"),
            Fault::Garbage => f.write_str("garbage"),
            Fault::Huge(size) => write!(f, "huge:{size}B"),
            Fault::BadCert => f.write_str("badcert"),
            Fault::NoAuth => f.write_str("noauth"),
            Fault::SlowBody(d) => write!(f, "slowbody:{}ms", d.as_millis()),
            Fault::Flaky(n) => write!(f, "flaky:{n}"),
        }
    }
}

/// Parses `250ms`, `2s`, `1.5s`, `3m`, `500us`, `1h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| format!("{text:?} is not a duration such as 200ms or 2s"))?;
    let scale = match unit {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("{text:?} needs a unit: ns, us, ms, s, m or h")),
    };
    Duration::try_from_secs_f64(value * scale).map_err(|e| format!("{text:?}: {e}"))
}

/// Parses `20MB`, `512KiB`, `1GB`, `1000` (bytes). KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| format!("{text:?} is not a size such as 20MB"))?;
    let scale: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "ki" | "kib" => 1024.0,
        "mi" | "mib" => 1024.0 * 1024.0,
        "gi" | "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("{text:?} has an unknown unit (use B, KB, MB, GB, KiB, MiB, GiB)")),
    };
    Ok((value * scale).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cli_spelling_parses() {
        assert_eq!("latency:200ms".parse::<Fault>().unwrap(), Fault::Latency(Duration::from_millis(200)));
        assert_eq!("refuse".parse::<Fault>().unwrap(), Fault::Refuse);
        assert_eq!("hang".parse::<Fault>().unwrap(), Fault::Hang);
        assert_eq!("reset".parse::<Fault>().unwrap(), Fault::Reset);
        assert_eq!("status:503".parse::<Fault>().unwrap(), Fault::Status(503));
        assert_eq!(
            "429".parse::<Fault>().unwrap(),
            Fault::TooManyRequests { retry_after: Duration::from_secs(1) }
        );
        assert_eq!(
            "429:2s".parse::<Fault>().unwrap(),
            Fault::TooManyRequests { retry_after: Duration::from_secs(2) }
        );
        assert_eq!("truncate".parse::<Fault>().unwrap(), Fault::Truncate);
        assert_eq!("garbage".parse::<Fault>().unwrap(), Fault::Garbage);
        assert_eq!("huge:20MB".parse::<Fault>().unwrap(), Fault::Huge(20_000_000));
        assert_eq!("huge:1MiB".parse::<Fault>().unwrap(), Fault::Huge(1 << 20));
        assert_eq!("badcert".parse::<Fault>().unwrap(), Fault::BadCert);
        assert_eq!("noauth".parse::<Fault>().unwrap(), Fault::NoAuth);
        assert_eq!("slowbody:30s".parse::<Fault>().unwrap(), Fault::SlowBody(Duration::from_secs(30)));
        assert_eq!("flaky".parse::<Fault>().unwrap(), Fault::Flaky(1));
        assert_eq!("flaky:3".parse::<Fault>().unwrap(), Fault::Flaky(3));
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "latency:200ms",
            "refuse",
            "status:503",
            "429:2000ms",
            "huge:123B",
            "noauth",
            "slowbody:1500ms",
            "flaky:2",
        ] {
            let fault: Fault = text.parse().unwrap();
            assert_eq!(fault.to_string().parse::<Fault>().unwrap(), fault);
        }
    }

    #[test]
    fn mistakes_are_reported() {
        assert!("latency".parse::<Fault>().is_err());
        assert!("latency:fast".parse::<Fault>().is_err());
        assert!("status:99".parse::<Fault>().is_err());
        assert!("refuse:now".parse::<Fault>().is_err());
        assert!("explode".parse::<Fault>().is_err());
        assert!("slowbody".parse::<Fault>().is_err());
        assert!("flaky:often".parse::<Fault>().is_err());
    }
}
