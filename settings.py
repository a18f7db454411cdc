"""Settings of this project (as Django's settings.py).

DATABASE_URL comes from the environment, else from `.env` beside this file, else the
value below. Relative SQLite paths are relative to this folder.
"""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

INSTALLED_APPS = [
    "apps.owners",
    "apps.pets",
]

DATABASE_URL = "sqlite:///db.sqlite3"

# Autogeneration never drops a table that no installed app owns (neither a model nor any
# app's migration history), e.g. a table another program created. Set False to have
# makemigrations drop such tables (reversibly) in the first installed app's next migration.
PROTECT_UNOWNED_TABLES = True
