"""Each non-public part of Alembic that project.adapter.scripts uses still does what we rely
on, on a real script directory (tests/tiny_scripts.py): a release that changes one fails
here, naming it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import Script
from alembic.util import CommandError
from tiny_scripts import tiny_scripts

from project.adapter import scripts


def _everything(found: list[Script]) -> list[Script]:
    return found


def _without_b(found: list[Script]) -> list[Script]:
    """What a squash view does: hide a file, point what followed it at what it followed."""
    kept = [s for s in found if s.revision != "b"]
    for script in kept:
        if script.revision == "c":
            script.down_revision = "a"
    return kept


def _revisions(script: Any) -> list[str]:
    return [s.revision for s in script.walk_revisions()]


def test_the_revision_map_holds_what_the_view_keeps(tmp_path: Path) -> None:
    """`_load_revisions` reads the files; the RevisionMap we give holds the view of them."""
    config = tiny_scripts(tmp_path)
    assert _revisions(scripts.script_directory(config, _everything)) == ["c", "b", "a"]
    script = scripts.script_directory(config, _without_b)
    assert _revisions(script) == ["c", "a"]
    assert script.get_revision("c").down_revision == "a"
    with pytest.raises(CommandError):
        script.get_revision("b")


def test_added_branch_labels_name_the_revision(tmp_path: Path) -> None:
    """The revision map reads `_orig_branch_labels`, so a label moved onto another
    revision (a squash's) names that one, and its descendants are on the branch."""

    def move_main_to_b(found: list[Script]) -> list[Script]:
        kept = [s for s in found if s.revision != "a"]
        for script in kept:
            if script.revision == "b":
                script.down_revision = None
                scripts.add_branch_labels(script, ["main"])
        return kept

    script = scripts.script_directory(tiny_scripts(tmp_path), move_main_to_b)
    assert script.get_revision("main").revision == "b"
    assert "main" in script.get_revision("c").branch_labels
    assert [s.revision for s in script.revision_map.get_revisions("main@head")] == ["c"]


def test_upgrade_and_downgrade_steps_are_alembics(tmp_path: Path) -> None:
    script = scripts.script_directory(tiny_scripts(tmp_path), _everything)
    up = scripts.upgrade_steps(script, "heads", ())
    assert [(s.revision.revision, s.is_upgrade) for s in up] == [
        ("a", True),
        ("b", True),
        ("c", True),
    ]
    assert [s.revision.revision for s in scripts.upgrade_steps(script, "b", ("a",))] == ["b"]
    down = scripts.downgrade_steps(script, "a", ("c",))
    assert [(s.revision.revision, s.is_upgrade) for s in down] == [("c", False), ("b", False)]
    with pytest.raises(CommandError, match="not a valid downgrade target"):
        scripts.downgrade_steps(script, "c", ("a",))


def test_a_single_step_is_one_revisions(tmp_path: Path) -> None:
    script = scripts.script_directory(tiny_scripts(tmp_path), _everything)
    step = scripts.single_step(script, "b", forward=False)
    assert (step.revision.revision, step.is_upgrade) == ("b", False)
    assert step.migration_fn is script.get_revision("b").module.downgrade
    assert scripts.single_step(script, "b", forward=True).is_upgrade


def test_a_faked_step_is_recorded_without_running(tmp_path: Path) -> None:
    """Alembic runs a faked step like the real one (version table, on_version_apply), but
    its upgrade() does nothing: t_b is never made."""
    config = tiny_scripts(tmp_path)
    script = scripts.script_directory(config, _everything)
    applied: list[str] = []

    def steps(heads: Any, context: Any) -> list[Any]:
        found = scripts.upgrade_steps(script, "heads", heads)
        return [scripts.faked(s) if s.revision.revision == "b" else s for s in found]

    def on_apply(*, step: Any, **kwargs: Any) -> None:
        applied.append(step.up_revision_id)

    engine = sa.create_engine(config.attributes["url"])
    with engine.begin() as connection:
        context = MigrationContext.configure(
            connection, opts={"fn": steps, "on_version_apply": [on_apply]}
        )
        with Operations.context(context):  # what env.py's EnvironmentContext sets up
            context.run_migrations()
        tables = set(sa.inspect(connection).get_table_names())
        heads = MigrationContext.configure(connection).get_current_heads()
    assert applied == ["a", "b", "c"]
    assert heads == ("c",)
    assert {"t_a", "t_c"} <= tables and "t_b" not in tables
    step = scripts.upgrade_steps(script, "b", ("a",))[0]
    assert isinstance(scripts.faked(step), type(step))
    assert scripts.faked(step).migration_fn() is None


def test_revisions_are_written_on_our_script_directory(tmp_path: Path) -> None:
    """RevisionContext, as command.revision drives it: autogenerate compares on env.py's
    connection, the hook sees the directives, the file lands in our view's graph."""
    config = tiny_scripts(tmp_path)
    metadata = sa.MetaData()
    sa.Table("t_new", metadata, sa.Column("id", sa.Integer, primary_key=True))
    config.attributes["metadata"] = metadata
    engine = sa.create_engine(config.attributes["url"])
    with engine.begin() as connection:
        MigrationContext.configure(connection).stamp(
            scripts.script_directory(config, _without_b), "c"
        )
    seen: list[Any] = []
    script = scripts.script_directory(config, _without_b)
    arguments = {
        "message": "d",
        "sql": False,
        "head": "head",
        "splice": False,
        "branch_label": None,
        "version_path": None,
        "rev_id": "d",
        "depends_on": None,
    }
    written = scripts.autogenerate_revisions(
        config,
        script,
        lambda context, revision, directives: seen.extend(directives),
        arguments,
        compare=True,
    )
    assert [s.revision for s in written] == ["d"] and written[0].down_revision == "c"
    assert [type(op).__name__ for op in seen[0].upgrade_ops.ops] == ["CreateTableOp"]
    assert 'op.create_table("t_new"' in Path(written[0].path).read_text().replace("'", '"')
    empty = scripts.empty_revisions(
        config, scripts.script_directory(config, _without_b), {**arguments, "rev_id": "e"}
    )
    assert [s.revision for s in empty] == ["e"] and empty[0].down_revision == "d"
    assert "pass" in Path(empty[0].path).read_text()
