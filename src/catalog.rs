//! What the kubelet's histograms measure, which versions have which buckets, and their known
//! defects. Metric names live here and nowhere else.

/// Duration from the kubelet first seeing a pod to the pod running (includes image pulls).
pub const POD_START_DURATION: &str = "kubelet_pod_start_duration_seconds";
