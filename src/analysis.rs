//! Node scrapes → a per-node and cluster-wide report, with the caveats that apply. Pure.
