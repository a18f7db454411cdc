"""Write migration files the way `alembic.command.revision` does, on our ScriptDirectory.

`command.revision` builds its own ScriptDirectory, which would show both a squashed
migration and the ones it replaces (two heads in one app); ours shows one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import Script
    from sqlalchemy import Connection

    from project.adapter.scripts import Hook
    from project.engine.workspace import Workspace

TEMPLATE_KEY = "migration_templates"  # config.attributes: {revision: MigrationTemplate}
# What migrations/script.py.mako read before MigrationTemplate, and the copies startproject
# wrote into projects still do: kept, filled from the same object (add_template).
LEGACY_KEYS = ("docstrings", "data_migrations", "replaces")


@dataclass(frozen=True)
class MigrationTemplate:
    """What migrations/script.py.mako needs of one new migration beyond Alembic's own
    arguments (up_revision, down_revision, upgrades, ...). The template reads it as
    `config.attributes["migration_templates"][up_revision]`: Alembic renders every file
    with the same `config`, so what differs per file is keyed by its revision."""

    docstring: str  # the module docstring: "app.0002_name", then what it does
    data: bool = False  # a data migration: forward() and backward() instead of op.* calls
    replaces: tuple[str, ...] = ()  # a squashed migration's replaced revisions
    atomic: bool = True  # False: lock-safe steps outside a transaction (project.engine.online)


def add_template(config: Config, revision: str, template: MigrationTemplate) -> None:
    """The one place that hands the template what it needs for `revision`, before Alembic
    renders it. The old string keys get the same values, for templates written before."""
    attributes = config.attributes
    attributes.setdefault(TEMPLATE_KEY, {})[revision] = template
    docstrings, data_migrations, replaces = LEGACY_KEYS
    attributes.setdefault(docstrings, {})[revision] = template.docstring
    if template.data:
        attributes.setdefault(data_migrations, set()).add(revision)
    if template.replaces:
        attributes.setdefault(replaces, {})[revision] = template.replaces


def autogenerate(
    workspace: Workspace,
    connection: Connection,
    hook: Hook,
    options: dict[str, Any],
    compare: bool = True,
) -> list[Script]:
    """Compare on `connection` (env.py gets it and `options`); `hook` shapes the scripts.

    With `compare=False` Alembic neither compares nor requires the schema to be at its
    heads: the hook makes the operations itself (squashmigrations, from an earlier state).
    """
    from project.adapter.scripts import autogenerate_revisions

    workspace.config.attributes["connection"] = connection
    workspace.config.attributes["configure_options"] = options
    return autogenerate_revisions(
        workspace.config, workspace.script, hook, _arguments({}), compare=compare
    )


def empty(
    workspace: Workspace, rev_id: str, template: MigrationTemplate, **command_args: Any
) -> list[Script]:
    """A migration with no operations (message, head, branch_label, version_path)."""
    from project.adapter.scripts import empty_revisions

    add_template(workspace.config, rev_id, template)
    command_args["rev_id"] = rev_id
    return empty_revisions(workspace.config, workspace.script, _arguments(command_args))


def _arguments(command_args: dict[str, Any]) -> dict[str, Any]:
    """`alembic.command.revision`'s arguments, as it passes them on."""
    return {
        "message": None,
        "sql": False,
        "head": "head",
        "splice": False,
        "branch_label": None,
        "version_path": None,
        "rev_id": None,
        "depends_on": None,
        **command_args,
    }
