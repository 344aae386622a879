"""The durable store: emailed links, the outbox, the sent-email log, in SQLite or PostgreSQL."""
