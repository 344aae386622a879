"""The durable store: recovery tokens and the outbox, in SQLite or PostgreSQL."""
