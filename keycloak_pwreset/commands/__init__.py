"""One module per CLI command; imported lazily so `--help` stays fast."""
