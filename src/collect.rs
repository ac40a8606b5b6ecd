//! Fan-out over nodes: how many are fetched at once and how long each may take.
