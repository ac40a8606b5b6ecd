//! `doctor [NODE...]`: runs the usual troubleshooting steps against a cluster, in order, and
//! prints each check as PASS / WARN / FAIL with its evidence and fix (`-o table|json`).
//!
//! Glue: the probes are in `cluster::checks`, the judgement and rendering in [`crate::doctor`].
//! Later checks that cannot mean anything after an earlier failure are not run (no node checks
//! without an API server; no TLS check without a TCP connection; no direct requests through a
//! certificate that does not verify, unless `--insecure-skip-tls-verify-kubelet`).
//!
//! Exit status: 0 when no check FAILs (WARNs allowed), 1 when any check FAILs, 2 when doctor
//! could not run at all (bad flags, `--file`, output not writable).

use std::io::Write;
use std::time::SystemTime;

use futures::{StreamExt, stream};

use super::{Outcome, Terminals};
use crate::access::Method;
use crate::cli::DoctorOutput;
use crate::cli::settings::DoctorSettings;
use crate::cluster::ConfigError;
use crate::cluster::checks::Access;
use crate::cluster::config::{self, DirectPlan, KubeconfigUser};
use crate::cluster::plan::{ClusterPlan, KubeletTls, NodeSelection};
use crate::cluster::{
    AddressPolicy, DirectSource, Discovery, MetricsSource, NodeTarget, ProxySource, RequestContext, checks,
    discovery,
};
use crate::doctor::{
    self, Check, Credentials, CredentialsProblem, Diagnosis, Identity, IdentityHints, IdentitySource,
    NodesFound, Problem, TlsSetting,
};
use crate::rbac;
use crate::report;
use crate::report::paint::Palette;
use crate::scrape::FailureKind;
use crate::source::Contexts;

/// Runs `doctor`.
pub async fn run(
    settings: &DoctorSettings,
    mut out: &mut dyn Write,
    _err: &mut dyn Write,
    terminals: Terminals,
) -> anyhow::Result<Outcome> {
    if let Some(contexts) = &settings.contexts {
        return run_fleet(settings, contexts, out, terminals).await;
    }
    let diagnosis = diagnose_all(&settings.plan, settings).await;
    match settings.output {
        DoctorOutput::Table => {
            report::doctor::render_table_painted(&diagnosis, Palette::new(terminals.color), &mut out)?
        }
        DoctorOutput::Json | DoctorOutput::Yaml => {
            report::document::write(&report::doctor::to_value(&diagnosis), &settings.document, &mut out)?
        }
    }
    out.flush()?;
    Ok(if diagnosis.has_failures() { Outcome::Partial } else { Outcome::Complete })
}

/// `doctor` over several clusters: each checked on its own and at once, then shown in context
/// order, each with its own checks and summary. Exit 1 when a check FAILs in any cluster.
async fn run_fleet(
    settings: &DoctorSettings,
    contexts: &Contexts,
    mut out: &mut dyn Write,
    terminals: Terminals,
) -> anyhow::Result<Outcome> {
    let names = contexts.names(settings.plan.kubeconfig.as_deref())?;
    let runs = names.into_iter().map(|context| async move {
        let plan = ClusterPlan { context: Some(context.clone()), ..settings.plan.clone() };
        (context, diagnose_all(&plan, settings).await)
    });
    let diagnoses = futures::future::join_all(runs).await;
    let clusters: Vec<(&str, &Diagnosis)> = diagnoses.iter().map(|(c, d)| (c.as_str(), d)).collect();
    match settings.output {
        DoctorOutput::Table => {
            report::doctor::render_fleet_table(&clusters, Palette::new(terminals.color), &mut out)?
        }
        DoctorOutput::Json | DoctorOutput::Yaml => {
            report::document::write(&report::doctor::fleet_to_value(&clusters), &settings.document, &mut out)?
        }
    }
    out.flush()?;
    Ok(Outcome::combine(
        diagnoses.iter().map(|(_, d)| if d.has_failures() { Outcome::Partial } else { Outcome::Complete }),
    ))
}

/// Every check of one cluster, `--pods` included.
async fn diagnose_all(plan: &ClusterPlan, settings: &DoctorSettings) -> Diagnosis {
    let mut diagnosis = diagnose(plan, settings.sample).await;
    if settings.pods {
        diagnosis.checks.extend(pods_checks(plan).await);
    }
    diagnosis
}

/// `doctor --pods`: may the kubeconfig's user do what `kubelet-metrics pods` (and its
/// `--cross-check`) needs beyond what `--method` needs, which the usual checks cover?
async fn pods_checks(plan: &ClusterPlan) -> Vec<Check> {
    let extra: Vec<rbac::Permission> =
        rbac::pods_required(true).into_iter().filter(|p| !rbac::required(plan.method).contains(p)).collect();
    let limit = plan.limits.per_node;
    let failed = |problem: Problem| {
        let access = Err(problem);
        extra.iter().map(|p| doctor::can_run_pods(p, plan.method, None, &access)).collect()
    };
    let loaded = match config::load(plan.kubeconfig.as_deref(), plan.context.as_deref()).await {
        Ok(loaded) => loaded,
        Err(err) => return failed(Problem::new(FailureKind::Io, chain(err))),
    };
    let api = match config::api_client(&loaded.config, false) {
        Ok(api) => api,
        Err(err) => return failed(Problem::new(FailureKind::Io, chain(err))),
    };
    let host = checks::api_host(&loaded.config);
    let user = checks::whoami(&api, &host, limit).await.ok().flatten();
    let mut out = Vec::with_capacity(extra.len());
    for permission in &extra {
        let access =
            checks::access(&api, &host, permission, limit).await.map_err(|e| Problem::from_fetch(&e, None));
        out.push(doctor::can_run_pods(permission, plan.method, user.as_deref(), &access));
    }
    out
}

fn chain(err: impl Into<anyhow::Error>) -> String {
    super::error_text(&err.into())
}

fn kubeconfig_text(plan: &ClusterPlan) -> String {
    let path = match &plan.kubeconfig {
        Some(path) => path.display().to_string(),
        None => match std::env::var("KUBECONFIG") {
            Ok(value) if !value.is_empty() => format!("$KUBECONFIG={value}"),
            _ => "~/.kube/config".to_string(),
        },
    };
    match &plan.context {
        Some(context) => format!("kubeconfig {path}, context {context:?}"),
        None => format!("kubeconfig {path}, current context"),
    }
}

/// Runs every check that can mean something, in order.
pub async fn diagnose(plan: &ClusterPlan, sample: usize) -> Diagnosis {
    let mut steps = Vec::new();
    let kubeconfig = run_checks(plan, sample, &mut steps).await;
    Diagnosis { method: plan.method, checks: judge(plan.method, steps, kubeconfig) }
}

/// A check, or the facts of one whose fix names the caller: those are judged last, once every
/// source of the caller's name has been seen (a server without SelfSubjectReview names the user
/// only in a 403, possibly in the last check).
enum Step {
    Judged(Check),
    Authentication(Result<Option<String>, Problem>),
    CanI { permission: rbac::Permission, named: bool, result: Result<Access, Problem> },
    Nodes(Result<NodesFound, Problem>),
    ProxyHealthz { node: String, result: Result<checks::Answer, Problem> },
}

/// Turns the steps into checks, naming the caller as [`doctor::identify`] finds them.
fn judge(method: Method, steps: Vec<Step>, kubeconfig: KubeconfigUser) -> Vec<Check> {
    let identity = doctor::identify(&hints(&steps, kubeconfig));
    let identity = identity.as_ref();
    steps
        .into_iter()
        .map(|step| match step {
            Step::Judged(check) => check,
            Step::Authentication(who) => doctor::authentication(&who, identity),
            Step::CanI { permission, named, result } => {
                doctor::can_i(&permission, method, named, identity, &result)
            }
            Step::Nodes(found) => doctor::nodes(method, identity, &found),
            Step::ProxyHealthz { node, result } => doctor::proxy_healthz(&node, method, identity, &result),
        })
        .collect()
}

/// What the steps and the kubeconfig say about the caller's name.
fn hints(steps: &[Step], kubeconfig: KubeconfigUser) -> IdentityHints {
    let reviewed = steps.iter().find_map(|step| match step {
        Step::Authentication(Ok(Some(name))) => Some(name.clone()),
        _ => None,
    });
    let problems = steps.iter().flat_map(|step| -> Vec<&Problem> {
        match step {
            Step::CanI { result: Err(p), .. }
            | Step::Nodes(Err(p))
            | Step::ProxyHealthz { result: Err(p), .. } => vec![p],
            Step::Nodes(Ok(found)) => found.unresolved.iter().map(|(_, p)| p).collect(),
            _ => Vec::new(),
        }
    });
    IdentityHints { reviewed, denied: doctor::denied_user(problems), kubeconfig }
}

/// What the node checks need from the earlier ones.
struct NodeContext<'a> {
    plan: &'a ClusterPlan,
    /// The API-server proxy, unless the nodes were given as addresses or there is no API server.
    proxy: Option<ProxySource>,
    direct: Option<DirectSource>,
    setting: TlsSetting,
    roots: Result<Vec<Vec<u8>>, String>,
    /// Whether `/healthz` through the proxy is worth asking (the method, or the permission).
    proxy_allowed: bool,
    token_sent: bool,
    /// Credentials exist but the policy keeps them from kubelets: the authenticated direct
    /// checks are skipped (the `kubelet credentials` check says why).
    withheld: bool,
    direct_user: Option<String>,
}

/// Runs the checks into `steps`; returns what the kubeconfig says about the user.
async fn run_checks(plan: &ClusterPlan, sample: usize, steps: &mut Vec<Step>) -> KubeconfigUser {
    let method = plan.method;
    let addresses = match &plan.nodes {
        NodeSelection::Addresses(addresses) => Some(addresses.clone()),
        _ => None,
    };

    // Credentials, and the token the direct method would send.
    let (base, api_available, kubeconfig, in_cluster) =
        match config::load(plan.kubeconfig.as_deref(), plan.context.as_deref()).await {
            Ok(loaded) => {
                let source = if loaded.in_cluster {
                    "in-cluster service account".to_string()
                } else {
                    kubeconfig_text(plan)
                };
                let server = loaded.config.cluster_url.to_string();
                steps.push(Step::Judged(doctor::credentials(&Ok(Credentials {
                    source,
                    server,
                    in_cluster: loaded.in_cluster,
                }))));
                (loaded.config, true, loaded.user, loaded.in_cluster)
            }
            Err(ConfigError::ClientCertificateVersion { location, version }) => {
                let problem = CredentialsProblem::CertificateVersion { location, version };
                steps.push(Step::Judged(doctor::credentials(&Err(problem))));
                return KubeconfigUser::default();
            }
            // `--node-ip` with `--token-file` reaches kubelets without any API server.
            Err(err) if addresses.is_some() && plan.token_file.is_some() && plan.kubeconfig.is_none() => {
                steps.push(Step::Judged(doctor::credentials_not_needed(&chain(err))));
                let base = kube::Config::new(http::Uri::from_static("https://kubernetes.invalid"));
                (base, false, KubeconfigUser::default(), false)
            }
            Err(err) => {
                steps.push(Step::Judged(doctor::credentials(&Err(CredentialsProblem::Unusable(chain(err))))));
                return KubeconfigUser::default();
            }
        };
    let base = &base;
    let direct_plan = DirectPlan::choose(plan, &base.auth_info, in_cluster);
    if let Some(withheld) = direct_plan.withheld {
        steps.push(Step::Judged(doctor::kubelet_credentials_withheld(
            method,
            withheld.reason(),
            withheld.fix(),
        )));
    }
    let mut token_user = None;
    if let Some(path) = &direct_plan.token_file {
        let read = checks::read_token(path).await;
        if let Ok(text) = &read {
            token_user = doctor::token_claims(text).ok().and_then(|claims| claims.subject);
        }
        steps.push(Step::Judged(doctor::token(&path.display().to_string(), &read, SystemTime::now())));
    }

    let mut context = NodeContext {
        plan,
        proxy: None,
        direct: None,
        setting: tls_setting(&plan.kubelet_tls),
        roots: Err(String::new()),
        proxy_allowed: method == Method::Proxy,
        token_sent: direct_plan.has_credentials,
        withheld: direct_plan.withheld.is_some(),
        direct_user: token_user.clone(),
    };
    let targets = if api_available {
        let found =
            api_checks(plan, base, sample, &direct_plan, token_user, &kubeconfig, &mut context, steps);
        match found.await {
            Some(targets) => targets,
            None => return kubeconfig,
        }
    } else {
        let policy = AddressPolicy { types: plan.address_types.clone(), port: plan.kubelet_port };
        Discovery::from_addresses(addresses.as_deref().unwrap_or_default(), &policy).targets
    };
    if targets.is_empty() {
        return kubeconfig;
    }

    // Per node: through the proxy, then directly; nodes in parallel, reported in order.
    context.direct = match config::direct(base, plan, in_cluster, &kubeconfig) {
        Ok(setup) => Some(DirectSource::new(setup.client, setup.token, &plan.address_types)),
        Err(err) => {
            steps.push(Step::Judged(doctor::kubelet_client(method, &chain(err))));
            None
        }
    };
    let kubelet_ca = match &plan.kubelet_tls {
        KubeletTls::Verify { ca, .. } => ca.as_deref(),
        KubeletTls::Insecure => None,
    };
    context.roots = checks::kubelet_roots(base, kubelet_ca).map_err(chain);
    let context = &context;
    let per_node: Vec<Vec<Step>> = stream::iter(targets.iter())
        .map(|node| node_checks(context, node))
        .buffered(plan.limits.concurrency.max(1))
        .collect()
        .await;
    steps.extend(per_node.into_iter().flatten());
    kubeconfig
}

/// The API server's checks: reachable, credentials accepted, can-i, nodes. Returns the nodes to
/// check, or `None` when a failure makes the rest meaningless.
#[allow(clippy::too_many_arguments)]
async fn api_checks(
    plan: &ClusterPlan,
    base: &kube::Config,
    sample: usize,
    direct_plan: &DirectPlan,
    mut token_user: Option<String>,
    kubeconfig: &KubeconfigUser,
    context: &mut NodeContext<'_>,
    steps: &mut Vec<Step>,
) -> Option<Vec<NodeTarget>> {
    let method = plan.method;
    let limit = plan.limits.per_node;
    let server = base.cluster_url.to_string();
    let host = checks::api_host(base);

    // The API server: reachable, and our credentials accepted.
    let api_base = config::for_api_server(base, &plan.api);
    let api = match config::api_client(&api_base, false) {
        Ok(api) => api,
        Err(err) => {
            let problem = Problem::new(FailureKind::Io, chain(err));
            steps.push(Step::Judged(doctor::apiserver(&server, &Err(problem))));
            return None;
        }
    };
    let version = checks::version(&api, &host, limit).await.map_err(|e| Problem::from_fetch(&e, None));
    steps.push(Step::Judged(doctor::apiserver(&server, &version)));
    version.ok()?;
    let who = checks::whoami(&api, &host, limit).await.map_err(|e| Problem::from_fetch(&e, None));
    steps.push(Step::Authentication(who.clone()));
    let user = who.ok()?;

    // The token's identity is what kubelets see with the direct method.
    let token_api = direct_plan.token_file.as_deref().and_then(|path| checks::token_client(base, path).ok());
    let mut token_source = IdentitySource::TokenClaims;
    if let Some(token_api) = &token_api
        && let Ok(Some(name)) = checks::whoami(token_api, &host, limit).await
    {
        token_user = Some(name);
        token_source = IdentitySource::SelfSubjectReview;
    }
    // Before any 403: the name SelfSubjectReview gave, else the kubeconfig's hints.
    let known = doctor::identify(&IdentityHints {
        reviewed: user.clone(),
        denied: None,
        kubeconfig: kubeconfig.clone(),
    })
    .map(|identity| identity.name);
    let direct_user = if token_api.is_some() { token_user } else { known };
    let token_identity = direct_user.clone().map(|name| Identity::new(name, token_source));

    // can-i, for every permission either method needs.
    let named = matches!(plan.nodes, NodeSelection::Names(_));
    for permission in rbac::checked() {
        let as_token = permission == rbac::GET_NODES_METRICS && token_api.is_some();
        let client = match (&token_api, as_token) {
            (Some(token_api), true) => token_api,
            _ => &api,
        };
        let result = checks::access(client, &host, &permission, limit)
            .await
            .map_err(|e| Problem::from_fetch(&e, None));
        if permission == rbac::GET_NODES_PROXY && matches!(result, Ok(Access { allowed: true, .. })) {
            context.proxy_allowed = true;
        }
        if !as_token {
            steps.push(Step::CanI { permission, named, result });
            continue;
        }
        let mut check = doctor::can_i(&permission, method, named, token_identity.as_ref(), &result);
        if plan.token_file.is_some() {
            check.evidence.push_str(" (asked as the --token-file identity)");
        }
        steps.push(Step::Judged(check));
    }

    // Nodes.
    let policy = AddressPolicy { types: plan.address_types.clone(), port: plan.kubelet_port };
    let lister = match config::api_client(&api_base, true) {
        Ok(lister) => lister,
        Err(err) => {
            steps.push(Step::Nodes(Err(Problem::new(FailureKind::Io, chain(err)))));
            return None;
        }
    };
    let found = match discovery::discover(&lister, &host, &plan.nodes, &policy, &plan.limits).await {
        Ok(found) => found,
        Err(err) => {
            steps.push(Step::Nodes(Err(Problem::from_fetch(&err.reason, None))));
            return None;
        }
    };
    let sampled = doctor::sample_evenly(&found.targets, sample);
    let unresolved =
        found.unresolved.iter().map(|(name, e)| (name.clone(), Problem::from_fetch(e, None))).collect();
    let facts = NodesFound {
        total: found.targets.len(),
        checked: sampled.iter().map(|t| t.name.clone()).collect(),
        unresolved,
    };
    steps.push(Step::Nodes(Ok(facts)));

    if !matches!(plan.nodes, NodeSelection::Addresses(_)) {
        context.proxy = Some(ProxySource::new(api, host, plan.kubelet_port));
    }
    context.direct_user = direct_user;
    Some(sampled)
}

fn tls_setting(tls: &KubeletTls) -> TlsSetting {
    match tls {
        KubeletTls::Insecure => TlsSetting { ca: None, server_name: None, insecure: true },
        KubeletTls::Verify { ca, server_name } => TlsSetting {
            ca: ca.as_ref().map(|p| p.display().to_string()),
            server_name: server_name.clone(),
            insecure: false,
        },
    }
}

/// One node's checks, in order: proxy `/healthz`, TCP, TLS, direct `/healthz` and `/metrics`.
async fn node_checks(context: &NodeContext<'_>, node: &NodeTarget) -> Vec<Step> {
    let plan = context.plan;
    let (method, limit) = (plan.method, plan.limits.per_node);
    let mut steps = Vec::new();
    if let Some(proxy) = &context.proxy
        && context.proxy_allowed
    {
        let result = probe(proxy, node, "/healthz", SMALL_BODY, limit).await;
        steps.push(Step::ProxyHealthz { node: node.name.clone(), result });
    }
    let mut checks = Vec::new();
    let authority = node.authority();
    let tcp = match &authority {
        Some(authority) => {
            checks::tcp_connect(authority, limit).await.map_err(|e| Problem::from_fetch(&e, None))
        }
        None => Err(Problem::new(FailureKind::Dns, "no address")),
    };
    checks.push(doctor::tcp_connect(&node.name, method, authority.as_deref(), &tcp));
    if let (Some(authority), Ok(_)) = (&authority, &tcp) {
        direct_checks(context, node, authority, &mut checks).await;
    }
    steps.extend(checks.into_iter().map(Step::Judged));
    steps
}

/// A node's TLS, direct `/healthz` and `/metrics` checks, once a TCP connection worked.
async fn direct_checks(
    context: &NodeContext<'_>,
    node: &NodeTarget,
    authority: &str,
    checks: &mut Vec<Check>,
) {
    let plan = context.plan;
    let (method, limit) = (plan.method, plan.limits.per_node);
    let verified = match &context.roots {
        Ok(roots) => checks::tls_probe(authority, context.setting.server_name.as_deref(), roots, limit)
            .await
            .map_err(|f| Problem::from_tls(&f)),
        Err(reason) => Err(Problem::new(FailureKind::Tls, reason.clone())),
    };
    checks.push(doctor::tls(&node.name, method, &context.setting, &verified));
    if verified.is_err() && !context.setting.insecure {
        return;
    }
    let Some(direct) = &context.direct else { return };
    if context.withheld {
        return;
    }
    let healthz = probe(direct, node, "/healthz", SMALL_BODY, limit).await;
    checks.push(doctor::direct_healthz(&node.name, method, context.token_sent, &healthz));
    let metrics = probe(direct, node, "/metrics", plan.limits.max_body, limit).await;
    let user = context.direct_user.as_deref();
    checks.push(doctor::direct_metrics(&node.name, method, context.token_sent, user, &metrics));
}

/// `GET path` on `node`, judged: a failure carries the fix for where the request went.
async fn probe(
    source: &impl MetricsSource,
    node: &NodeTarget,
    path: &str,
    max_body: u64,
    limit: std::time::Duration,
) -> Result<checks::Answer, Problem> {
    checks::get(source, node, path, max_body, limit).await.map_err(|err| {
        let url = source.url(node, path);
        Problem::from_fetch(
            &err,
            Some(&RequestContext { node: &node.name, method: source.method(), url: &url }),
        )
    })
}

/// The most of a `/healthz` body read.
const SMALL_BODY: u64 = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::FetchError;
    use crate::cluster::config::ClientCertificate;

    fn forbidden(message: &str) -> Problem {
        Problem::from_fetch(&FetchError::from_status(403, message.as_bytes(), None), None)
    }

    fn steps_without_self_subject_review(nodes: Result<NodesFound, Problem>) -> Vec<Step> {
        vec![
            Step::Authentication(Ok(None)),
            Step::CanI {
                permission: rbac::GET_NODES_PROXY,
                named: false,
                result: Ok(Access { allowed: false, reason: String::new() }),
            },
            Step::Nodes(nodes),
        ]
    }

    #[test]
    fn without_self_subject_review_a_later_403_names_the_user_in_every_fix() {
        // Kubernetes 1.20: no SelfSubjectReview, and a SelfSubjectAccessReview says only "denied";
        // the node listing's 403 is the first message naming the user.
        let listing = forbidden(
            r#"nodes is forbidden: User "viewer" cannot list resource "nodes" in API group "" at the cluster scope"#,
        );
        let checks =
            judge(Method::Proxy, steps_without_self_subject_review(Err(listing)), KubeconfigUser::default());
        assert_eq!(
            checks[0].evidence,
            "the API server accepted the credentials of user \"viewer\" (from the API server's 403 message)"
        );
        assert_eq!(
            checks[1].evidence,
            "denied for \"viewer\" (from the API server's 403 message): --method proxy needs it"
        );
        for check in &checks[1..] {
            assert_eq!(
                check.fix[0],
                "kubelet-metrics rbac --method proxy --user viewer | kubectl apply -f -"
            );
        }
    }

    #[test]
    fn without_self_subject_review_or_a_403_the_client_certificate_names_the_user() {
        let found = NodesFound { total: 1, checked: vec!["node-0".into()], unresolved: Vec::new() };
        let kubeconfig = KubeconfigUser {
            entry: Some("kubernetes-admin@prod".into()),
            certificate: Some(ClientCertificate { version: 3, common_name: Some("viewer".into()) }),
            ..KubeconfigUser::default()
        };
        let checks = judge(Method::Proxy, steps_without_self_subject_review(Ok(found)), kubeconfig);
        assert_eq!(
            checks[0].evidence,
            "the API server accepted the credentials of user \"viewer\" (from the client certificate)"
        );
        assert_eq!(
            checks[1].fix[0],
            "kubelet-metrics rbac --method proxy --user viewer | kubectl apply -f -"
        );
        let nobody = judge(
            Method::Proxy,
            steps_without_self_subject_review(Err(forbidden("denied"))),
            KubeconfigUser::default(),
        );
        assert_eq!(nobody[1].fix[0], "kubelet-metrics rbac --method proxy --user USER | kubectl apply -f -");
    }
}
