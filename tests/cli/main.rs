//! Integration tests: the built binary against files and the simulated cluster.
