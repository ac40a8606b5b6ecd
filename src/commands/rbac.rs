//! `rbac`: prints least-privilege manifests (ServiceAccount, ClusterRole, ClusterRoleBinding and,
//! on request, a Deployment running `serve`) for one access method. What each method needs lives
//! in [`crate::rbac`]; this module only reads flags and writes the text.

use std::io::Write;

use super::Outcome;
use crate::cli::Method;
use crate::rbac::{self, ManifestRequest, ServiceAccountRef, Subject};

/// Arguments of `rbac`.
#[derive(Debug, Clone, clap::Args)]
pub struct RbacArgs {
    /// The access method to grant: `direct` needs only `get nodes/metrics` (plus `list`/`get
    /// nodes`); `proxy` needs `get nodes/proxy`, which also opens the kubelet's exec, attach and
    /// port-forward endpoints.
    #[arg(long, value_enum, default_value_t = Method::Direct)]
    pub method: Method,
    /// The service account to create and bind.
    #[arg(
        long,
        value_name = "NAMESPACE/NAME",
        default_value = "monitoring/kubelet-metrics",
        conflicts_with = "user"
    )]
    pub service_account: ServiceAccountRef,
    /// Bind a user (as the API server authenticates it) instead of a service account.
    #[arg(long, value_name = "NAME", conflicts_with = "deployment")]
    pub user: Option<String>,
    /// Add a Deployment that runs `kubelet-metrics serve` as the service account.
    #[arg(long)]
    pub deployment: bool,
    /// The container image of the Deployment.
    #[arg(long, value_name = "IMAGE", default_value = rbac::DEFAULT_IMAGE, requires = "deployment")]
    pub image: String,
}

/// Runs `rbac`: the manifests on `out`; for the proxy method, the warning on `err` too.
pub async fn run(args: &RbacArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<Outcome> {
    let subject = match &args.user {
        Some(user) => Subject::User(user.clone()),
        None => Subject::ServiceAccount(args.service_account.clone()),
    };
    if args.method == Method::Proxy {
        writeln!(err, "warning: {}", rbac::PROXY_WARNING)?;
    }
    let request = ManifestRequest {
        method: args.method,
        subject,
        deployment_image: args.deployment.then(|| args.image.clone()),
    };
    out.write_all(rbac::manifests(&request).as_bytes())?;
    out.flush()?;
    Ok(Outcome::Complete)
}
