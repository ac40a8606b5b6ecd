//! Where a reading command's metrics come from — saved files, a live cluster, several clusters,
//! or a Prometheus server — as one validated plan, and [`gather`], the one entry every reading
//! command uses ([`gather_fleet`] for several clusters).

use crate::access::Origin;
use crate::cluster::plan::ClusterPlan;
use crate::collect::Options;
use crate::exposition::Selector;
use crate::files::FileInput;
use crate::prometheus::Target;
use crate::scrape::NodeScrape;

/// A validated plan for where metrics come from.
// Built once per run and never stored in bulk: boxing the cluster plan would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum SourcePlan {
    /// Saved payloads: each file with the node name it stands for.
    Files {
        /// The files, in command-line order.
        inputs: Vec<FileInput>,
        /// `--max-body`: larger inputs are refused.
        max_body: u64,
    },
    /// A live cluster.
    Cluster(ClusterPlan),
    /// A Prometheus server's stored histograms (`--prometheus`).
    Prometheus(Target),
    /// Several clusters, one per kubeconfig context (`--context A --context B`, `--all-contexts`).
    Fleet(FleetPlan),
}

/// Several clusters read in one run: the same plan for each, in its own context.
#[derive(Debug, Clone)]
pub struct FleetPlan {
    /// Everything but the context, shared by every cluster.
    pub cluster: ClusterPlan,
    /// Which contexts.
    pub contexts: Contexts,
}

impl FleetPlan {
    /// The contexts to read, in order; `Err` when `--all-contexts` cannot read the kubeconfig.
    pub fn context_names(&self) -> anyhow::Result<Vec<String>> {
        self.contexts.names(self.cluster.kubeconfig.as_deref())
    }

    /// The plan for one of its clusters.
    pub fn cluster_in(&self, context: &str) -> ClusterPlan {
        ClusterPlan { context: Some(context.to_string()), ..self.cluster.clone() }
    }
}

/// The contexts of a fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contexts {
    /// These, in command-line order.
    Named(Vec<String>),
    /// Every context of the kubeconfig, in file order.
    All,
}

impl Contexts {
    /// The context names, in order: as given, or every context of the kubeconfig (an `Err` when
    /// `--all-contexts` cannot read it).
    pub fn names(&self, kubeconfig: Option<&std::path::Path>) -> anyhow::Result<Vec<String>> {
        match self {
            Contexts::Named(names) => Ok(names.clone()),
            Contexts::All => crate::cluster::config::context_names(kubeconfig)
                .map_err(anyhow::Error::new)
                .map_err(|err| err.context("--all-contexts")),
        }
    }
}

/// What one cluster of a fleet gave: its context, and what [`gather`] returned for it (an `Err`
/// when nothing could be read there; the other clusters go on).
pub struct ClusterGathered {
    /// The kubeconfig context.
    pub context: String,
    /// The cluster's nodes, or why none could be read.
    pub gathered: anyhow::Result<Gathered>,
}

/// Per-node results from whichever source the plan names, plus source-wide warnings.
pub struct Gathered {
    /// `file`, `proxy` or `direct`.
    pub method: Origin,
    /// One entry per node, sorted by node name.
    pub scrapes: Vec<NodeScrape>,
    /// Warnings about the run as a whole (e.g. TLS verification disabled).
    pub warnings: Vec<String>,
}

impl SourcePlan {
    /// Why a run of this plan read no node at all, as `kubectl` says it: `No nodes match -l
    /// SELECTOR`. `None` when the plan cannot come back empty without a failure to say why.
    pub fn nothing_found(&self) -> Option<String> {
        match self {
            SourcePlan::Cluster(plan) => match &plan.nodes {
                crate::cluster::plan::NodeSelection::All { selector: Some(selector) } => {
                    Some(format!("No nodes match -l {selector}"))
                }
                crate::cluster::plan::NodeSelection::All { selector: None } => {
                    Some("The cluster has no nodes".to_string())
                }
                _ => None,
            },
            SourcePlan::Fleet(fleet) => SourcePlan::Cluster(fleet.cluster.clone()).nothing_found(),
            SourcePlan::Files { .. } | SourcePlan::Prometheus(_) => None,
        }
    }
}

impl SourcePlan {
    /// Why a run read no node: [`SourcePlan::nothing_found`] when it has none at all, or, when
    /// every node it named is one the API server does not have, `No nodes match: node "x" not
    /// found; did you mean …?` (kubectl: `nodes "x" not found`), a line per missing node after
    /// the first few. `None` when some node was there.
    pub fn nothing_found_in(&self, scrapes: &[NodeScrape]) -> Option<String> {
        if scrapes.is_empty() {
            return self.nothing_found();
        }
        let missing: Vec<(&str, &str)> = scrapes
            .iter()
            .map(|s| Some((s.node.as_str(), crate::collect::missing_node(s.outcome.as_ref().err()?)?)))
            .collect::<Option<_>>()?;
        Some(match missing.as_slice() {
            [(node, hint)] => format!("No nodes match: node {node:?} not found{hint}"),
            _ => {
                let names: Vec<String> = missing.iter().map(|(node, _)| format!("{node:?}")).collect();
                let mut text =
                    format!("No nodes match: nodes {} not found", crate::text::bounded_names(&names));
                for (node, hint) in
                    missing.iter().filter(|(_, hint)| !hint.is_empty()).take(crate::text::SHOWN_NAMES)
                {
                    text.push_str(&format!("\n  {node}: {}", hint.trim_start_matches("; ")));
                }
                text
            }
        })
    }
}

/// Reads every node of the plan at `path`, keeping what `selector` selects; `options` govern a
/// cluster run (files and Prometheus are read whole).
pub async fn gather(
    plan: &SourcePlan,
    path: &str,
    selector: &Selector,
    options: &Options,
) -> anyhow::Result<Gathered> {
    match plan {
        SourcePlan::Files { inputs, max_body } => {
            let (inputs, selector, max_body) = (inputs.clone(), selector.clone(), *max_body);
            let scrapes =
                tokio::task::spawn_blocking(move || crate::files::read_all(&inputs, &selector, max_body))
                    .await?;
            Ok(Gathered { method: Origin::Files, scrapes, warnings: Vec::new() })
        }
        SourcePlan::Cluster(cluster) => {
            let collection = crate::collect::collect(cluster, path, selector, options).await?;
            Ok(Gathered {
                method: Origin::Cluster(cluster.method),
                scrapes: collection.scrapes,
                warnings: collection.warnings,
            })
        }
        SourcePlan::Prometheus(target) => {
            let converted = crate::prometheus::gather(target, selector).await?;
            Ok(Gathered {
                method: Origin::Prometheus,
                scrapes: converted.scrapes,
                warnings: converted.warnings,
            })
        }
        SourcePlan::Fleet(_) => anyhow::bail!("several clusters are read with gather_fleet"),
    }
}

/// Reads every cluster of the fleet at once, each as [`gather`] reads one (its own
/// `--concurrency` and `--qps`: they are different API servers), in the order of the contexts.
/// A cluster that cannot be read is an `Err` in its entry; `Err` overall only when the contexts
/// cannot be known (`--all-contexts` with an unreadable kubeconfig). Progress bars are not drawn:
/// several at once would garble the terminal.
pub async fn gather_fleet(
    fleet: &FleetPlan,
    path: &str,
    selector: &Selector,
    options: &Options,
) -> anyhow::Result<Vec<ClusterGathered>> {
    let options = options.clone().with_progress(false);
    let runs = fleet.context_names()?.into_iter().map(|context| {
        let plan = SourcePlan::Cluster(fleet.cluster_in(&context));
        let options = &options;
        async move {
            let gathered = gather(&plan, path, selector, options).await;
            ClusterGathered { context, gathered }
        }
    });
    Ok(futures::future::join_all(runs).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Method;
    use crate::cluster::FetchError;
    use crate::scrape::{Failure, FailureKind};

    fn missing(node: &str, message: &str) -> NodeScrape {
        let err = FetchError::NotFound { message: message.to_string() };
        NodeScrape {
            node: node.to_string(),
            kubelet_version: None,
            outcome: Err(crate::collect::lookup_failure(node, Method::Proxy, err, crate::remedy::fix)),
        }
    }

    #[test]
    fn named_nodes_the_cluster_lacks_are_said_as_kubectl_says_them_with_the_closest_names() {
        let plan = SourcePlan::Files { inputs: Vec::new(), max_body: 1 };
        let one = [missing("node-9", "no such node; did you mean node-1?")];
        assert_eq!(
            plan.nothing_found_in(&one).as_deref(),
            Some(r#"No nodes match: node "node-9" not found; did you mean node-1?"#)
        );
        let two = [missing("a", "no such node"), missing("nod-1", "no such node; did you mean node-1?")];
        assert_eq!(
            plan.nothing_found_in(&two).as_deref(),
            Some("No nodes match: nodes \"a\", \"nod-1\" not found\n  nod-1: did you mean node-1?")
        );
        // A node that is there, or a kubelet's own 404 for a path: not a missing node.
        let path = NodeScrape {
            node: "n1".into(),
            kubelet_version: None,
            outcome: Err(Failure {
                kind: FailureKind::NotFound,
                message: "proxy GET /api/v1/nodes/n1/proxy/nope: not found (HTTP 404): no such node".into(),
                fix: None,
            }),
        };
        assert_eq!(plan.nothing_found_in(&[one[0].clone(), path]), None);
    }
}
