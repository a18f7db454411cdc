"""The Alembic environment every app shares.

The framework (project.engine.config and project.services) builds the Config in code and
passes the connection and the `context.configure` options in `config.attributes`; edit
settings.py rather than this file.
"""

from alembic import context

attributes = context.config.attributes
options = attributes.get("configure_options", {})

if context.is_offline_mode():
    context.configure(url=attributes["url"], literal_binds=True, **options)
    with context.begin_transaction():
        context.run_migrations()
else:
    context.configure(connection=attributes["connection"], **options)
    with context.begin_transaction():
        context.run_migrations()
