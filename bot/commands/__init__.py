"""Subcommands of the `tenkepause` command, one module per group."""
