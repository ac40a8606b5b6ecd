//! `rbac`: prints least-privilege manifests (ServiceAccount, ClusterRole, ClusterRoleBinding and,
//! on request, a Deployment or a DaemonSet running `serve` with its Service, ServiceMonitor and
//! NetworkPolicy) for one access method. What each method needs lives
//! in [`crate::rbac`]; this module only reads flags and writes the text.

use std::io::Write;

use super::Outcome;
use crate::access::Method;
use crate::cli::RbacArgs;
use crate::rbac::{self, ManifestRequest, Subject, Workload};

/// Runs `rbac`: the manifests on `out`; for the proxy method, the warning on `err` too.
pub async fn run(args: &RbacArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<Outcome> {
    let subject = match &args.user {
        Some(user) => Subject::User(user.clone()),
        None => Subject::ServiceAccount(args.service_account.clone()),
    };
    if args.method == Method::Proxy {
        writeln!(err, "warning: {}", rbac::PROXY_WARNING)?;
    }
    if args.daemonset && args.method == Method::Proxy {
        anyhow::bail!(
            "--daemonset runs `serve --node-local`, which reads its kubelet directly; drop --method proxy"
        );
    }
    if args.network_policy && !args.deployment && !args.daemonset {
        anyhow::bail!("--network-policy guards the pods of --deployment or --daemonset; add one of them");
    }
    if args.image != rbac::DEFAULT_IMAGE && !args.deployment && !args.daemonset {
        anyhow::bail!("--image is the image of --deployment or --daemonset; add one of them");
    }
    let workload = if args.daemonset {
        Some((Workload::DaemonSet, args.image.clone()))
    } else {
        args.deployment.then(|| (Workload::Deployment, args.image.clone()))
    };
    let request = ManifestRequest {
        method: args.method,
        subject,
        workload,
        network_policy: args.network_policy,
        with_pods: args.with_pods,
    };
    out.write_all(rbac::manifests(&request).as_bytes())?;
    out.flush()?;
    Ok(Outcome::Complete)
}
