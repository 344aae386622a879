"""Use cases, free of any web framework: each returns a result code."""
