//! The only code that talks to Kubernetes or to kubelets.
