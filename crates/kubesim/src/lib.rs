//! A simulated Kubernetes API server and kubelets on loopback.
