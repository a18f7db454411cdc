"""Write migration files the way `alembic.command.revision` does, on our ScriptDirectory.

`command.revision` builds its own ScriptDirectory, which would show both a squashed
migration and the ones it replaces (two heads in one app); ours shows one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import Script
    from sqlalchemy import Connection

    from project.engine.workspace import Workspace

Hook = Callable[[Any, Any, list[Any]], None]  # process_revision_directives

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
    from alembic.runtime.environment import EnvironmentContext

    context = _revision_context(workspace, hook, autogenerate=True)
    workspace.config.attributes["connection"] = connection
    workspace.config.attributes["configure_options"] = options

    def run(revision: Any, migration_context: Any) -> list[Any]:
        if compare:
            context.run_autogenerate(revision, migration_context)
        else:
            context.run_no_autogenerate(revision, migration_context)
        return []

    with EnvironmentContext(
        workspace.config,
        workspace.script,
        fn=run,
        template_args=context.template_args,
        revision_context=context,
    ):
        workspace.script.run_env()
    return [script for script in context.generate_scripts() if script is not None]


def empty(
    workspace: Workspace, rev_id: str, template: MigrationTemplate, **command_args: Any
) -> list[Script]:
    """A migration with no operations (message, head, branch_label, version_path)."""
    add_template(workspace.config, rev_id, template)
    command_args["rev_id"] = rev_id
    context = _revision_context(workspace, None, autogenerate=False, **command_args)
    return [script for script in context.generate_scripts() if script is not None]


def _revision_context(workspace: Workspace, hook: Hook | None, **command_args: Any) -> Any:
    from alembic.autogenerate import RevisionContext

    arguments = {
        "message": None,
        "autogenerate": False,
        "sql": False,
        "head": "head",
        "splice": False,
        "branch_label": None,
        "version_path": None,
        "rev_id": None,
        "depends_on": None,
        **command_args,
    }
    return RevisionContext(
        workspace.config, workspace.script, arguments, process_revision_directives=hook
    )
