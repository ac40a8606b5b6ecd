//! Impersonation, as kube-apiserver's filter does it between authentication and authorization
//! (k8s.io/apiserver/pkg/endpoints/filters/impersonation.go): the caller needs `impersonate` on
//! each user, service account, group and extra it names; the request then runs as the
//! impersonated identity, so every later RBAC decision is about that identity.

use http::{HeaderMap, Response};

use super::{bad_request, forbidden};
use crate::http::Body;
use crate::rbac::{Attributes, Policy, UserInfo};

const USER: &str = "impersonate-user";
const GROUP: &str = "impersonate-group";
const EXTRA: &str = "impersonate-extra-";
const AUTHENTICATED: &str = "system:authenticated";
const UNAUTHENTICATED: &str = "system:unauthenticated";
const ANONYMOUS: &str = "system:anonymous";

/// The identity a request runs as: `acting` itself without impersonation headers, else the one it
/// impersonates once `acting` may; a 400 or 403 `Status` when it may not.
pub(super) fn impersonate(
    policy: &Policy,
    acting: UserInfo,
    headers: &HeaderMap,
) -> Result<UserInfo, Box<Response<Body>>> {
    let text = |value: &http::HeaderValue| value.to_str().unwrap_or_default().to_string();
    let user = headers.get(USER).map(text);
    let groups: Vec<String> = headers.get_all(GROUP).iter().map(text).collect();
    let extras: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().strip_prefix(EXTRA)?.to_string(), text(value))))
        .collect();
    let Some(name) = user else {
        if groups.is_empty() && extras.is_empty() {
            return Ok(acting);
        }
        return Err(Box::new(bad_request(&format!(
            "requested {} without impersonating a user",
            groups
                .iter()
                .map(|g| format!("group {g:?}"))
                .chain(extras.iter().map(|(k, _)| format!("extra {k:?}")))
                .collect::<Vec<_>>()
                .join(", ")
        ))));
    };
    // A service account is impersonated as itself (`serviceaccounts`), anyone else as a user.
    let service_account = name
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'))
        .filter(|(namespace, account)| !namespace.is_empty() && !account.is_empty());
    let mut wanted = vec![match service_account {
        Some((namespace, account)) => Attributes {
            namespace: namespace.to_string(),
            ..Attributes::resource("impersonate", "", "serviceaccounts", "", account)
        },
        None => Attributes::resource("impersonate", "", "users", "", &name),
    }];
    wanted.extend(groups.iter().map(|group| Attributes::resource("impersonate", "", "groups", "", group)));
    wanted.extend(extras.iter().map(|(key, value)| {
        Attributes::resource("impersonate", "authentication.k8s.io", "userextras", key, value)
    }));
    if let Some(denied) = wanted.iter().find(|attrs| !policy.authorize(&acting, attrs)) {
        return Err(Box::new(forbidden(denied, &acting.name)));
    }
    let mut impersonated_groups = groups;
    if impersonated_groups.is_empty()
        && let Some((namespace, _)) = service_account
    {
        impersonated_groups =
            vec!["system:serviceaccounts".into(), format!("system:serviceaccounts:{namespace}")];
    }
    if name == ANONYMOUS {
        if !impersonated_groups.iter().any(|g| g == UNAUTHENTICATED) {
            impersonated_groups.push(UNAUTHENTICATED.into());
        }
    } else if !impersonated_groups.iter().any(|g| g == AUTHENTICATED || g == UNAUTHENTICATED) {
        impersonated_groups.push(AUTHENTICATED.into());
    }
    Ok(UserInfo { name, uid: String::new(), groups: impersonated_groups })
}

#[cfg(test)]
mod tests {
    use http::{HeaderValue, StatusCode};

    use super::*;
    use crate::rbac::tests::policy;

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo {
            name: name.into(),
            uid: String::new(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn without_headers_the_caller_is_unchanged() {
        let viewer = user("viewer", &[AUTHENTICATED]);
        assert_eq!(impersonate(&policy(), viewer.clone(), &HeaderMap::new()).ok(), Some(viewer));
    }

    #[test]
    fn an_admin_becomes_the_user_and_groups_it_names() {
        let admin = user("admin", &["system:masters", AUTHENTICATED]);
        let as_viewer = impersonate(
            &policy(),
            admin.clone(),
            &headers(&[
                ("Impersonate-User", "viewer"),
                ("Impersonate-Group", "ops"),
                ("Impersonate-Group", "dev"),
            ]),
        )
        .expect("system:masters may impersonate");
        assert_eq!(as_viewer, user("viewer", &["ops", "dev", AUTHENTICATED]));

        let account =
            impersonate(&policy(), admin, &headers(&[("Impersonate-User", "system:serviceaccount:mon:km")]))
                .expect("system:masters may impersonate");
        assert_eq!(account.groups, ["system:serviceaccounts", "system:serviceaccounts:mon", AUTHENTICATED]);
    }

    #[test]
    fn a_caller_without_impersonate_is_refused_and_a_group_needs_a_user() {
        let viewer = user("viewer", &[AUTHENTICATED]);
        let refused = impersonate(&policy(), viewer.clone(), &headers(&[("Impersonate-User", "admin")]))
            .expect_err("the viewer may not impersonate");
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let bad = impersonate(&policy(), viewer, &headers(&[("Impersonate-Group", "system:masters")]))
            .expect_err("a group alone is not an identity");
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    }
}
