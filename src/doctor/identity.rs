//! Who the caller is, for the RBAC fixes: the API server's own answer (SelfSubjectReview) when
//! it gives one, else the best hint the run saw, with where it came from. Servers before
//! Kubernetes 1.28 have no SelfSubjectReview, yet the name is rarely unknown: their 403
//! messages name the user, and a client certificate's subject CN is the user name. Pure: the
//! facts come from `cluster::checks` (answers, denials) and `cluster::config` (the kubeconfig).

use std::fmt;

use super::Problem;
use crate::cluster::DeniedBy;
use crate::cluster::config::KubeconfigUser;
use crate::scrape::FailureKind;

/// Where the caller's name came from, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum IdentitySource {
    /// The API server's SelfSubjectReview (`kubectl auth whoami`).
    SelfSubjectReview,
    /// An API server 403 message (`User "viewer" cannot list resource "nodes" ...`).
    Denial,
    /// A service-account token's `sub` claim, read without verifying it.
    TokenClaims,
    /// The subject CN of the kubeconfig user's client certificate.
    ClientCertificate,
    /// The kubeconfig user's basic-auth `username`.
    Username,
    /// The name of the kubeconfig's user entry: a guess the API server did not confirm.
    KubeconfigUser,
}

impl IdentitySource {
    /// `the client certificate`, ..., as evidence says where a name came from.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentitySource::SelfSubjectReview => "the API server's SelfSubjectReview",
            IdentitySource::Denial => "the API server's 403 message",
            IdentitySource::TokenClaims => "the token's claims",
            IdentitySource::ClientCertificate => "the client certificate",
            IdentitySource::Username => "the kubeconfig's basic-auth username",
            IdentitySource::KubeconfigUser => "the kubeconfig's user name, unconfirmed",
        }
    }
}

/// The caller's user name and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user name the API server authenticates, e.g. `viewer` or
    /// `system:serviceaccount:monitoring:kubelet-metrics`.
    pub name: String,
    /// Where the name came from.
    pub source: IdentitySource,
}

impl Identity {
    /// An identity from `source`.
    pub fn new(name: impl Into<String>, source: IdentitySource) -> Identity {
        Identity { name: name.into(), source }
    }
}

/// `"viewer"`, followed by where the name came from unless the API server said it itself:
/// `"viewer" (from the client certificate)`.
impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.source {
            IdentitySource::SelfSubjectReview => write!(f, "{:?}", self.name),
            source => write!(f, "{:?} (from {})", self.name, source.as_str()),
        }
    }
}

/// Everything a run learned about the caller's name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityHints {
    /// What SelfSubjectReview answered, when the server has it and says.
    pub reviewed: Option<String>,
    /// The user of the first API server 403 the checks saw ([`denied_user`]).
    pub denied: Option<String>,
    /// What the kubeconfig says about the user.
    pub kubeconfig: KubeconfigUser,
}

/// The caller's identity, strongest source first: SelfSubjectReview, else an API server 403's
/// user, else the client certificate's CN, else the kubeconfig's basic-auth username, else the
/// kubeconfig's user entry name when it can be one ([`kubeconfig_guess`]). `None` when no
/// source knows.
///
/// ```
/// use kubelet_metrics::cluster::config::{ClientCertificate, KubeconfigUser};
/// use kubelet_metrics::doctor::{Identity, IdentityHints, IdentitySource, identify};
/// let kubeconfig = KubeconfigUser {
///     entry: Some("me".into()),
///     certificate: Some(ClientCertificate { version: 3, common_name: Some("viewer".into()) }),
///     ..KubeconfigUser::default()
/// };
/// let hints = IdentityHints { kubeconfig, ..IdentityHints::default() };
/// assert_eq!(identify(&hints), Some(Identity::new("viewer", IdentitySource::ClientCertificate)));
/// ```
pub fn identify(hints: &IdentityHints) -> Option<Identity> {
    let known = |name: &Option<String>, source| name.clone().map(|name| Identity::new(name, source));
    let kubeconfig = &hints.kubeconfig;
    known(&hints.reviewed, IdentitySource::SelfSubjectReview)
        .or_else(|| known(&hints.denied, IdentitySource::Denial))
        .or_else(|| {
            let cn = kubeconfig.certificate.as_ref().and_then(|c| c.common_name.clone());
            known(&cn, IdentitySource::ClientCertificate)
        })
        .or_else(|| known(&kubeconfig.username, IdentitySource::Username))
        .or_else(|| known(&kubeconfig_guess(kubeconfig), IdentitySource::KubeconfigUser))
}

/// The kubeconfig's user entry name, when it can be the user's name: the credentials are the
/// kubeconfig's own (a token, not an exec plugin or auth provider, whose identities live
/// elsewhere; not a client certificate, whose CN is the name), and the name is not one that
/// tools generate (`gke_project_zone_cluster`, `arn:aws:eks:...`, `clusterUser_rg_name`,
/// `admin/api-host:6443`).
pub fn kubeconfig_guess(user: &KubeconfigUser) -> Option<String> {
    let name = user.entry.as_deref()?;
    let generated = ["gke_", "arn:", "clusterUser_", "clusterAdmin_"].iter().any(|p| name.starts_with(p))
        || name.contains('/')
        || name.chars().any(char::is_whitespace);
    let plain = !user.external && user.certificate.is_none() && !name.is_empty() && !generated;
    plain.then(|| name.to_string())
}

/// The user named by the first API server 403 among `problems`: the caller as the API server
/// authenticated it. Kubelet denials are skipped (through the proxy they name the API server's
/// own client), and so is `system:anonymous` (no credentials arrived: not the user's name).
pub fn denied_user<'a>(problems: impl IntoIterator<Item = &'a Problem>) -> Option<String> {
    problems.into_iter().find_map(|p| match (&p.denied_user, p.denied_by) {
        (Some(user), Some(DeniedBy::ApiServer))
            if p.kind == FailureKind::Forbidden && user != "system:anonymous" =>
        {
            Some(user.clone())
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::config::ClientCertificate;

    fn hints(reviewed: bool, denied: bool, certificate: bool, entry: bool) -> IdentityHints {
        IdentityHints {
            reviewed: reviewed.then(|| "from-ssr".to_string()),
            denied: denied.then(|| "from-403".to_string()),
            kubeconfig: KubeconfigUser {
                entry: entry.then(|| "from-kubeconfig".to_string()),
                certificate: certificate
                    .then(|| ClientCertificate { version: 3, common_name: Some("from-cn".into()) }),
                ..KubeconfigUser::default()
            },
        }
    }

    fn name(hints: &IdentityHints) -> Option<(String, IdentitySource)> {
        identify(hints).map(|i| (i.name, i.source))
    }

    #[test]
    fn identity_precedence_is_review_then_denial_then_certificate_then_kubeconfig() {
        use IdentitySource::*;
        assert_eq!(name(&hints(true, true, true, true)), Some(("from-ssr".into(), SelfSubjectReview)));
        // No SelfSubjectReview (Kubernetes before 1.28): a 403 names the user.
        assert_eq!(name(&hints(false, true, true, true)), Some(("from-403".into(), Denial)));
        assert_eq!(name(&hints(false, false, true, true)), Some(("from-cn".into(), ClientCertificate)));
        // The entry name is no hint beside a certificate; alone, with a token, it is a guess.
        let mut token_user = hints(false, false, false, true);
        assert_eq!(name(&token_user), Some(("from-kubeconfig".into(), KubeconfigUser)));
        token_user.kubeconfig.external = true;
        assert_eq!(name(&token_user), None);
        assert_eq!(name(&hints(false, false, false, false)), None);
    }

    #[test]
    fn generated_kubeconfig_user_names_are_no_hint() {
        for generated in
            ["gke_proj_europe-west1_prod", "arn:aws:eks:eu-west-1:1:cluster/x", "admin/api-x:6443"]
        {
            let user = KubeconfigUser { entry: Some(generated.into()), ..KubeconfigUser::default() };
            assert_eq!(kubeconfig_guess(&user), None, "{generated}");
        }
        let basic = KubeconfigUser {
            entry: Some("entry".into()),
            username: Some("alice".into()),
            ..KubeconfigUser::default()
        };
        assert_eq!(
            identify(&IdentityHints { kubeconfig: basic, ..IdentityHints::default() }),
            Some(Identity::new("alice", IdentitySource::Username))
        );
    }

    #[test]
    fn only_api_server_denials_of_a_real_user_name_the_caller() {
        let forbidden = |message: &str| {
            let err = crate::cluster::FetchError::from_status(403, message.as_bytes(), None);
            Problem::from_fetch(&err, None)
        };
        let kubelet = forbidden(
            "Forbidden (user=kube-apiserver-kubelet-client, verb=get, resource=nodes, subresource=proxy)",
        );
        let anonymous =
            forbidden(r#"nodes is forbidden: User "system:anonymous" cannot list resource "nodes""#);
        let viewer = forbidden(
            r#"nodes is forbidden: User "viewer" cannot list resource "nodes" in API group "" at the cluster scope"#,
        );
        assert_eq!(denied_user([&kubelet, &anonymous]), None);
        assert_eq!(denied_user([&kubelet, &anonymous, &viewer]).as_deref(), Some("viewer"));
    }

    #[test]
    fn evidence_says_where_a_name_came_from_unless_the_server_said_it() {
        assert_eq!(Identity::new("viewer", IdentitySource::SelfSubjectReview).to_string(), "\"viewer\"");
        assert_eq!(
            Identity::new("viewer", IdentitySource::ClientCertificate).to_string(),
            "\"viewer\" (from the client certificate)"
        );
    }
}
