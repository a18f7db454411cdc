"""The one place that touches SQLAlchemy's and Alembic's non-public parts (internals).

Imports only the top level.
"""
