//! `rbac`: prints least-privilege manifests (ServiceAccount, ClusterRole, ClusterRoleBinding and,
//! on request, a Deployment running `serve`) for one access method. What each method needs lives
//! in [`crate::rbac`]; this module only reads flags and writes the text.

use std::io::Write;

use super::Outcome;
use crate::access::Method;
use crate::cli::RbacArgs;
use crate::rbac::{self, ManifestRequest, Subject};

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
        with_pods: args.with_pods,
    };
    out.write_all(rbac::manifests(&request).as_bytes())?;
    out.flush()?;
    Ok(Outcome::Complete)
}
