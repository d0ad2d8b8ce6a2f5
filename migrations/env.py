"""Alembic environment for both branches. The caller (tenants.migrate) passes the connection, with
its transaction begun and role/search_path already switched, and says which branch runs."""

from alembic import context

from tenants.database import PublicModel, TenantModel

config = context.config
connection = config.attributes["connection"]
branch = config.attributes["branch"]

if branch == "public":
    context.configure(
        connection=connection,
        target_metadata=PublicModel.metadata,
        version_table_schema="public",
    )
else:
    context.configure(
        connection=connection,
        target_metadata=TenantModel.metadata,
        version_table_schema=config.attributes["schema"],
    )

with context.begin_transaction():
    context.run_migrations()
