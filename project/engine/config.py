"""Build Alembic's `Config` in code from the settings: no alembic.ini to edit.

One script directory (`migrations/` beside manage.py: env.py and the file template), one
version location and one branch per app, one version table.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alembic.config import Config

    from project.apps import AppConfig
    from project.settings import Settings

# Files are named by the slug of their message, which is already `0002_name`.
FILE_TEMPLATE = "%(slug)s"
MAX_FILE_NAME = 80


def build_config(settings: Settings, apps: Sequence[AppConfig], **attributes: Any) -> Config:
    """`attributes` reach env.py as `config.attributes`."""
    from alembic.config import Config

    # quiet: Alembic would print "Generating /absolute/path ... done" for every file.
    config = Config(cmd_opts=argparse.Namespace(quiet=True))
    options = {
        "script_location": str(settings.base_dir / "migrations"),
        "version_locations": os.pathsep.join(str(app.migrations_dir) for app in apps),
        "path_separator": "os",
        "file_template": FILE_TEMPLATE,
        "truncate_slug_length": str(MAX_FILE_NAME),
    }
    for key, value in options.items():
        config.set_main_option(key, value.replace("%", "%%"))  # ConfigParser interpolation
    config.attributes.update(settings=settings, apps=list(apps), **attributes)
    return config
