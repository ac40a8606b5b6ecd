//! Where a reading command's metrics come from — saved files, a live cluster, or a Prometheus
//! server — as one validated plan.

use crate::cluster::plan::ClusterPlan;
use crate::files::FileInput;
use crate::prometheus::Target;

/// A validated plan for where metrics come from.
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
