//! The service-account token check: the token file's presence, expiry and audience, read from
//! the JWT's payload without verifying it (the API server verifies; we only read). Reading the
//! file is the caller's job; the time comes in as an argument.

use std::time::SystemTime;

use super::{Check, Status};

/// The claims of a service-account JWT that matter here, read without verifying the signature.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenClaims {
    /// `sub`, e.g. `system:serviceaccount:monitoring:kubelet-metrics`.
    pub subject: Option<String>,
    /// `aud`: one string or several.
    pub audiences: Vec<String>,
    /// `exp`, seconds since the Unix epoch.
    pub expires: Option<u64>,
    /// `iss`.
    pub issuer: Option<String>,
}

/// Why a token's claims could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three dot-separated parts: an opaque token, not a JWT.
    #[error("not a JWT (an opaque token): its expiry and audience cannot be read")]
    NotJwt,
    /// The payload is not base64url JSON.
    #[error("the JWT payload is not valid: {0}")]
    Payload(String),
}

/// Decodes a JWT's payload claims without verifying it (the API server verifies; we only read).
pub fn token_claims(token: &str) -> Result<TokenClaims, TokenError> {
    use base64::Engine;
    let parts: Vec<&str> = token.trim().split('.').collect();
    let [_, payload, _] = parts.as_slice() else { return Err(TokenError::NotJwt) };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| TokenError::Payload(e.to_string()))?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| TokenError::Payload(e.to_string()))?;
    let text = |key: &str| value.get(key).and_then(|v| v.as_str()).map(str::to_string);
    let audiences = match value.get("aud") {
        Some(serde_json::Value::String(one)) => vec![one.clone()],
        Some(serde_json::Value::Array(many)) => {
            many.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()
        }
        _ => Vec::new(),
    };
    Ok(TokenClaims {
        subject: text("sub"),
        audiences,
        expires: value.get("exp").and_then(serde_json::Value::as_u64),
        issuer: text("iss"),
    })
}

fn human_duration(seconds: u64) -> String {
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// Check 11: the token file's presence, expiry and audience. `read` is the file's text or why
/// it could not be read; `now` is the current time.
pub fn token(path: &str, read: &Result<String, String>, now: SystemTime) -> Check {
    let title = "service-account token";
    let fix_new = || {
        vec![format!(
            "mount or write a current token at {path}: kubectl create token NAME -n NAMESPACE > {path}"
        )]
    };
    let text = match read {
        Err(reason) => {
            return Check::new("token", title, Status::Fail, format!("{path}: {reason}")).fix(fix_new());
        }
        Ok(text) if text.trim().is_empty() => {
            return Check::new("token", title, Status::Fail, format!("{path} is empty")).fix(fix_new());
        }
        Ok(text) => text,
    };
    let claims = match token_claims(text) {
        Ok(claims) => claims,
        Err(TokenError::NotJwt) => {
            return Check::new("token", title, Status::Warn, format!("{path}: {}", TokenError::NotJwt));
        }
        Err(e) => return Check::new("token", title, Status::Fail, format!("{path}: {e}")).fix(fix_new()),
    };
    let now = now.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut evidence = format!("{path}: sub {}", claims.subject.as_deref().unwrap_or("(none)"));
    if claims.audiences.is_empty() {
        evidence.push_str(", no audience");
    } else {
        evidence.push_str(&format!(", aud {}", claims.audiences.join(",")));
    }
    match claims.expires {
        Some(exp) if exp <= now => {
            evidence.push_str(&format!(", expired {} ago", human_duration(now - exp)));
            Check::new("token", title, Status::Fail, evidence).fix(vec![
                format!("the token expired: projected tokens are refreshed by the kubelet, so re-read {path} (kubelet-metrics does on every request); outside a pod: kubectl create token NAME -n NAMESPACE > {path}"),
            ])
        }
        Some(exp) => {
            evidence.push_str(&format!(", expires in {}", human_duration(exp - now)));
            Check::new("token", title, Status::Pass, evidence)
        }
        None => {
            evidence.push_str(", never expires");
            Check::new("token", title, Status::Warn, evidence).fix(vec![
                "a token that never expires is a legacy Secret-based token: prefer a projected service-account token (the default since Kubernetes 1.24)".into(),
            ])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn jwt(payload: &str) -> String {
        use base64::Engine;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!("{}.{}.sig", engine.encode(r#"{"alg":"RS256"}"#), engine.encode(payload))
    }

    const NOW: u64 = 1_800_000_000;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW)
    }

    #[test]
    fn token_claims_are_read_without_verifying() {
        let raw = jwt(
            r#"{"aud":["https://kubernetes.default.svc"],"exp":1800003600,"iss":"https://kubernetes.default.svc","sub":"system:serviceaccount:monitoring:kubelet-metrics"}"#,
        );
        let claims = token_claims(&raw).expect("a JWT");
        assert_eq!(claims.subject.as_deref(), Some("system:serviceaccount:monitoring:kubelet-metrics"));
        assert_eq!(claims.audiences, ["https://kubernetes.default.svc"]);
        let check = token("/t", &Ok(raw), now());
        assert_eq!(check.status, Status::Pass);
        assert_eq!(
            check.evidence,
            "/t: sub system:serviceaccount:monitoring:kubelet-metrics, aud https://kubernetes.default.svc, expires in 60m"
        );
        assert_eq!(token_claims("opaque-token"), Err(TokenError::NotJwt));
        assert_eq!(token("/t", &Ok("opaque".into()), now()).status, Status::Warn);
    }

    #[test]
    fn expired_and_eternal_tokens_are_flagged() {
        let expired = jwt(&format!(r#"{{"aud":"api","exp":{},"sub":"s"}}"#, NOW - 7200));
        let check = token("/t", &Ok(expired), now());
        assert_eq!(
            (check.status, check.evidence.as_str()),
            (Status::Fail, "/t: sub s, aud api, expired 2h ago")
        );
        let eternal = jwt(r#"{"sub":"s"}"#);
        let check = token("/t", &Ok(eternal), now());
        assert_eq!(
            (check.status, check.evidence.as_str()),
            (Status::Warn, "/t: sub s, no audience, never expires")
        );
        let missing = token("/t", &Err("No such file or directory".into()), now());
        assert_eq!(missing.status, Status::Fail);
    }
}
