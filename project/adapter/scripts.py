"""Alembic's ScriptDirectory where its public API stops: a filtered revision map, the steps
`command.upgrade`/`downgrade` run, a step that only records, and revision writing on our
ScriptDirectory. Why each is needed is listed in project/adapter/__init__.py; tests in
tests/test_adapter_scripts.py.

Imports only the top level.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.runtime.migration import RevisionStep
    from alembic.script import Script, ScriptDirectory

# Given every migration file's Script, the ones Alembic should see (in any order).
View = Callable[[list["Script"]], Iterable["Script"]]

# process_revision_directives(context, revision, directives)
Hook = Callable[[Any, Any, list[Any]], None]


def script_directory(config: Config, view: View) -> ScriptDirectory:
    """Alembic's ScriptDirectory for `config`, whose revision map holds only what `view`
    keeps of the files (and as `view` changed them: down revisions, branch labels)."""
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionMap

    script = ScriptDirectory.from_config(config)
    load_files = script._load_revisions
    script.revision_map = RevisionMap(lambda: iter(view(list(load_files()))))
    return script


def add_branch_labels(script: Script, labels: Iterable[str]) -> None:
    """Give a Script more branch labels before the revision map is built: the map reads
    the labels a file declared (`_orig_branch_labels`), not `branch_labels`."""
    script.branch_labels = set(script.branch_labels) | set(labels)
    script._orig_branch_labels = tuple(sorted(script.branch_labels))


def upgrade_steps(script: ScriptDirectory, target: Any, heads: tuple[str, ...]) -> list[Any]:
    """The steps `alembic.command.upgrade` runs from `heads` to `target` (its env.py `fn`)."""
    return list(script._upgrade_revs(target, heads))  # type: ignore[arg-type]


def downgrade_steps(script: ScriptDirectory, target: Any, heads: tuple[str, ...]) -> list[Any]:
    """The steps `alembic.command.downgrade` runs from `heads` down to `target`."""
    return list(script._downgrade_revs(target, heads))  # type: ignore[arg-type]


def single_step(script: ScriptDirectory, revision: str, forward: bool) -> RevisionStep:
    """The step that applies (or unapplies) one revision alone, whatever the database's heads
    (sqlmigrate shows one migration's SQL)."""
    from alembic.runtime.migration import RevisionStep

    return RevisionStep(script.revision_map, script.get_revision(revision), forward)


def faked(step: RevisionStep) -> RevisionStep:
    """The step, with a migration function that does nothing: Alembic still records it
    (version table, `on_version_apply`), as it would the real one."""
    fake = copy.copy(step)
    fake.__class__ = _faked_class(type(step))
    return fake


_FAKED: dict[type, type] = {}


def _faked_class(step_class: type) -> type:
    if step_class not in _FAKED:
        _FAKED[step_class] = type(
            "FakedStep", (step_class,), {"migration_fn": property(lambda self: _nothing)}
        )
    return _FAKED[step_class]


def _nothing(**kwargs: Any) -> None:
    pass


def autogenerate_revisions(
    config: Config, script: ScriptDirectory, hook: Hook, arguments: dict[str, Any], compare: bool
) -> list[Script]:
    """What `alembic.command.revision(autogenerate=True)` does, on `script`: runs env.py,
    compares (unless not `compare`), lets `hook` shape the scripts, writes them."""
    from alembic.runtime.environment import EnvironmentContext

    context = _revision_context(config, script, hook, {**arguments, "autogenerate": True})

    def run(revision: Any, migration_context: Any) -> list[Any]:
        if compare:
            context.run_autogenerate(revision, migration_context)
        else:
            context.run_no_autogenerate(revision, migration_context)
        return []

    with EnvironmentContext(
        config, script, fn=run, template_args=context.template_args, revision_context=context
    ):
        script.run_env()
    return [written for written in context.generate_scripts() if written is not None]


def empty_revisions(
    config: Config, script: ScriptDirectory, arguments: dict[str, Any]
) -> list[Script]:
    """What `alembic.command.revision` writes without autogenerate, on `script`."""
    context = _revision_context(config, script, None, {**arguments, "autogenerate": False})
    return [written for written in context.generate_scripts() if written is not None]


def _revision_context(
    config: Config, script: ScriptDirectory, hook: Hook | None, arguments: dict[str, Any]
) -> Any:
    from alembic.autogenerate import RevisionContext

    return RevisionContext(config, script, arguments, process_revision_directives=hook)
