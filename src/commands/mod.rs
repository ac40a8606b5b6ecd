//! One module per subcommand: parse flags, wire the pieces, choose the exit status.
