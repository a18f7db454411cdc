"""Migrations as files and as applied: the files on disk and the graph they make (history,
migration_files, squash_view), running steps and recording them (runner, recorder, resume),
the database's migrate lock (locking), the schema the files build replayed into a scratch
database (scratch), and which app owns which table (model_tables).

Imports only backends, the adapter and the top level (settings, apps, errors, ...).
"""
