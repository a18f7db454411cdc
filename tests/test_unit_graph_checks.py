"""project.engine.graph_checks in process: the conflicts and missing cross-app
dependencies `check` reports and `migrate` refuses, and the marker that skips the reading."""

from __future__ import annotations

import pytest
from tiny_project import TinyProject

from project.engine.graph_checks import (
    MARKER_PREFIX,
    missing_dependencies,
    problems,
    require_sound_graph,
)
from project.engine.history import History
from project.engine.workspace import Workspace
from project.errors import ProjectError

CUSTOMER = "op.create_table('crm_customer', sa.Column('id', sa.Integer(), nullable=False))"
ORDER = (
    "op.create_table('shop_order', sa.Column('id', sa.Integer(), nullable=False),\n"
    "    sa.Column('customer_id', sa.Integer(), sa.ForeignKey('crm_customer.id')))"
)


def _history(tiny: TinyProject) -> History:
    return Workspace(tiny.settings).history


def test_a_sound_graph_has_no_problems(tiny: TinyProject) -> None:
    crm = tiny.migration("crm", "0001_initial", CUSTOMER)
    tiny.migration("shop", "0001_initial", ORDER, depends_on=crm)
    history = _history(tiny)
    assert problems(history) == []
    require_sound_graph(history)


def test_a_foreign_key_to_another_apps_new_table_needs_a_dependency(tiny: TinyProject) -> None:
    tiny.migration("crm", "0001_initial", CUSTOMER)
    tiny.migration("shop", "0001_initial", ORDER)
    history = _history(tiny)
    expected = (
        "shop.0001_initial has a foreign key to a table that crm.0001_initial creates, but does "
        'not depend on it: add depends_on = "crm_0001_initial" to 0001_initial.py.'
    )
    assert missing_dependencies(history) == [expected]
    assert problems(history) == [expected]
    with pytest.raises(ProjectError) as raised:
        require_sound_graph(history)
    assert str(raised.value) == expected
    require_sound_graph(history, dependencies=False)  # only conflicts are checked then


def test_a_dependency_through_an_earlier_migration_is_enough(tiny: TinyProject) -> None:
    crm = tiny.migration("crm", "0001_initial", CUSTOMER)
    first = tiny.migration(
        "shop",
        "0001_initial",
        "op.create_table('shop_x', sa.Column('id', sa.Integer()))",
        depends_on=crm,
    )
    tiny.migration("shop", "0002_order", ORDER, down=first)
    assert missing_dependencies(_history(tiny)) == []


def test_a_foreign_key_within_one_app_needs_no_dependency(tiny: TinyProject) -> None:
    first = tiny.migration(
        "shop", "0001_initial", "op.create_table('crm_customer', sa.Column('id', sa.Integer()))"
    )
    tiny.migration("shop", "0002_order", ORDER, down=first)
    assert missing_dependencies(_history(tiny)) == []


def test_two_leaves_in_one_app_are_a_conflict_even_without_dependency_checks(
    tiny: TinyProject,
) -> None:
    first = tiny.migration("shop", "0001_initial", "pass")
    tiny.migration("shop", "0002_a", "pass", down=first)
    tiny.migration("shop", "0002_b", "pass", down=first)
    history = _history(tiny)
    (conflict,) = problems(history)
    assert conflict.startswith(
        "Conflicting migrations detected; multiple leaf nodes in the migration graph: "
        "(0002_a, 0002_b in shop)."
    )
    for dependencies in (True, False):
        with pytest.raises(ProjectError, match="makemigrations --merge"):
            require_sound_graph(history, dependencies=dependencies)


def test_a_pass_is_remembered_until_a_migration_file_changes(tiny: TinyProject) -> None:
    cache = tiny.root / ".manage_cache"
    crm = tiny.migration("crm", "0001_initial", CUSTOMER)
    tiny.migration("shop", "0001_initial", ORDER, depends_on=crm)
    require_sound_graph(_history(tiny), cache)
    (marker,) = cache.glob(f"{MARKER_PREFIX}*")
    # The same files: the marker stands, the files are not read again.
    require_sound_graph(_history(tiny), cache)
    assert list(cache.glob(f"{MARKER_PREFIX}*")) == [marker]
    # The dependency removed: the files changed, so the check runs again and finds it.
    tiny.migration("shop", "0001_initial", ORDER + "  # without its dependency")
    with pytest.raises(ProjectError, match="does not depend on it"):
        require_sound_graph(_history(tiny), cache)
    assert list(cache.glob(f"{MARKER_PREFIX}*")) == [marker]  # a failure marks nothing
    tiny.migration("shop", "0001_initial", ORDER, depends_on=crm)
    require_sound_graph(_history(tiny), cache)
    (new_marker,) = cache.glob(f"{MARKER_PREFIX}*")  # the old marker is replaced
    assert new_marker.exists()
