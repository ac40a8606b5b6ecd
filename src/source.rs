//! Where a reading command's metrics come from — saved files, a live cluster, or a Prometheus
//! server — as one validated plan, and [`gather`], the one entry every reading command uses.

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
            SourcePlan::Files { .. } | SourcePlan::Prometheus(_) => None,
        }
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
    }
}
