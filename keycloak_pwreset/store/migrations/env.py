"""Alembic environment: always run programmatically by ``keycloak_pwreset.store.db``."""

from alembic import context

from keycloak_pwreset.store.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things in place; batch mode copies the table.
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
