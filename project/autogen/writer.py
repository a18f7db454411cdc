"""Write migration files the way `alembic.command.revision` does, on our ScriptDirectory.

`command.revision` builds its own ScriptDirectory, which would show both a squashed
migration and the ones it replaces (two heads in one app); ours shows one of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alembic.script import Script
    from sqlalchemy import Connection

    from project.adapter.scripts import Hook
    from project.engine.workspace import Workspace


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


def empty(workspace: Workspace, **command_args: Any) -> list[Script]:
    """A migration with no operations (message, head, branch_label, version_path, rev_id)."""
    from project.adapter.scripts import empty_revisions

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
