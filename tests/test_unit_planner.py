"""project.autogen.planner in process: what one makemigrations run compares, which app owns
what, and how Alembic's one diff becomes one migration per app in dependency order.

The planner's hooks are driven as Alembic drives them (`produce_migrations`, then the
`process_revision_directives` hook), on the tiny project's real SQLite database.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import produce_migrations
from alembic.operations import ops
from alembic.runtime.migration import MigrationContext
from tiny_project import TinyProject

from project.autogen.describe import describe_operations
from project.autogen.planner import (
    NewMigration,
    Planner,
    docstring,
    new_migration,
    owner_of,
    require_migration_name,
)
from project.autogen.questioner import Questioner
from project.engine.model_tables import load_models
from project.engine.workspace import Workspace
from project.errors import ProjectError, UsageError
from project.services.migrate import migrate

CUSTOMER = """
class Customer(Base):
    __tablename__ = "crm_customer"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str | None] = mapped_column(String(50))
"""
ORDER = """
class Order(Base):
    __tablename__ = "shop_order"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("crm_customer.id"))
"""
CUSTOMER_TABLE = (
    "op.create_table('crm_customer', sa.Column('id', sa.Integer(), nullable=False),\n"
    "    sa.Column('title', sa.String(length=50), nullable=True),\n"
    "    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_customer')))"
)


def _planner(
    tiny: TinyProject,
    selected: tuple[str, ...] = (),
    *,
    name: str | None = None,
    write: bool = True,
    questioner: Questioner | None = None,
    on_renames: Callable[[], None] | None = None,
) -> Planner:
    workspace = Workspace(tiny.settings)
    apps = [app for app in workspace.apps if not selected or app.label in selected]
    models = load_models(workspace.apps)
    return Planner(
        workspace,
        workspace.history,
        models,
        apps,
        name,
        write,
        questioner or Questioner(),
        on_renames,
    )


def _run(planner: Planner) -> list[Any]:
    """Alembic's comparison of the models with the tiny project's database, then the hook."""
    engine = planner.workspace.engine
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts=planner.configure_options(connection.dialect.name)
        )
        directives: list[Any] = [produce_migrations(context, planner.models.target)]
        planner.process(context, None, directives)
    engine.dispose()
    return directives


def _tables(script: ops.MigrationScript) -> list[str]:
    assert script.upgrade_ops is not None
    return [op.table_name for op in script.upgrade_ops.ops if isinstance(op, ops.CreateTableOp)]


def test_initial_migrations_of_an_app_and_the_app_whose_new_table_it_needs(
    tiny: TinyProject,
) -> None:
    tiny.models("crm", CUSTOMER)
    tiny.models("shop", ORDER)
    planner = _planner(tiny, ("shop",))
    crm, shop = _run(planner)
    assert (crm.rev_id, _tables(crm)) == ("crm_0001_initial", ["crm_customer"])
    assert (shop.rev_id, _tables(shop)) == ("shop_0001_initial", ["shop_order"])
    assert (crm.head, crm.branch_label, crm.depends_on) == ("base", "crm", None)
    assert (shop.head, shop.branch_label, shop.depends_on) == ("base", "shop", ["crm_0001_initial"])
    assert shop.version_path == str(tiny.migrations_dir("shop"))
    assert [(m.app_label, m.name, m.depends_on) for m in planner.planned] == [
        ("crm", "0001_initial", []),
        ("shop", "0001_initial", ["crm_0001_initial"]),
    ]
    assert [str(c) for c in planner.planned[1].changes] == ["+ Create table shop_order"]
    docstrings = planner.workspace.config.attributes["docstrings"]
    assert docstrings["shop_0001_initial"] == "shop.0001_initial\n\n+ Create table shop_order\n"


def test_a_plan_that_does_not_write_leaves_alembic_no_script(tiny: TinyProject) -> None:
    tiny.models("crm", CUSTOMER)
    planner = _planner(tiny, write=False, name="first")
    assert _run(planner) == []
    assert [(m.app_label, m.name, m.revision) for m in planner.planned] == [
        ("crm", "0001_first", "crm_0001_first")
    ]


@pytest.mark.filterwarnings("ignore:Cannot correctly sort tables")
def test_apps_that_need_each_others_new_tables_are_refused(tiny: TinyProject) -> None:
    tiny.models(
        "crm",
        CUSTOMER + '    order_id: Mapped[int] = mapped_column(ForeignKey("shop_order.id"))\n',
    )
    tiny.models("shop", ORDER)
    with pytest.raises(ProjectError, match="Apps (crm and shop|shop and crm) need each other's"):
        _run(_planner(tiny))


def test_the_next_migration_follows_the_apps_leaf(tiny: TinyProject) -> None:
    tiny.migration("crm", "0001_initial", CUSTOMER_TABLE)
    migrate(tiny.settings)
    tiny.models("crm", CUSTOMER + "    email: Mapped[str | None] = mapped_column(String(254))\n")
    planner = _planner(tiny)
    (script,) = _run(planner)
    assert (script.rev_id, script.head, script.branch_label) == (
        "crm_0002_customer_email",
        "crm@head",
        None,
    )
    assert script.upgrade_ops.ops[0].ops[0].column.name == "email"
    assert script.downgrade_ops.ops[0].ops[0].column_name == "email"  # the reverse, computed


def test_unowned_tables_are_protected_unless_the_setting_says_otherwise(
    tiny: TinyProject,
) -> None:
    tiny.models("crm", CUSTOMER)
    tiny.execute("CREATE TABLE legacy (id INTEGER PRIMARY KEY)")
    planner = _planner(tiny, ("shop",))  # shop has no changes: nothing to plan
    assert _run(planner) == [] and planner.ignored == ["legacy"]
    tiny.protect_unowned_tables = False
    planner = _planner(tiny, ("shop",))
    (script,) = _run(planner)  # the drop goes to the first selected app
    assert script.rev_id == "shop_0001_initial"
    assert [type(op) for op in script.upgrade_ops.ops] == [ops.DropTableOp]
    assert planner.ignored == []


def test_include_object(tiny: TinyProject) -> None:
    tiny.migration("crm", "0001_initial", CUSTOMER_TABLE)  # its model is gone since
    planner = _planner(tiny)
    include = planner.include_object
    # Our history tables are left out by autogenerate_options (tests/test_one_source.py).
    assert include(None, "crm_customer", "table", True, None)  # the history's: crm drops it
    assert not include(None, "legacy", "table", True, None) and planner.ignored == ["legacy"]
    assert include(None, "legacy", "table", True, object())  # a model's: compared
    assert include(None, "ix_legacy", "index", True, None)  # only tables are protected
    assert not include(None, "legacy_seq", "sequence", True, None)
    assert planner.ignored == ["legacy", "legacy_seq"]


def test_owner_of_prefers_the_model_then_the_history(tiny: TinyProject) -> None:
    tiny.migration("crm", "0001_initial", CUSTOMER_TABLE)
    history = Workspace(tiny.settings).history
    assert owner_of({}, history, "crm_customer") == "crm"
    assert owner_of({"crm_customer": "shop"}, history, "crm_customer") == "shop"
    assert owner_of({}, history, "legacy") is None


RENAMED = CUSTOMER.replace("title:", "name:")


def test_a_confirmed_rename_is_tried_on_the_compared_schema(tiny: TinyProject) -> None:
    tiny.migration("crm", "0001_initial", CUSTOMER_TABLE)
    migrate(tiny.settings)
    tiny.models("crm", RENAMED)
    tried: list[bool] = []
    questioner = Questioner(renames={"crm.customer.title": "name"})
    (script,) = _run(_planner(tiny, questioner=questioner, on_renames=lambda: tried.append(True)))
    assert tried == [True]
    (group,) = script.upgrade_ops.ops
    (alter,) = group.ops
    assert isinstance(alter, ops.AlterColumnOp)
    assert (alter.column_name, alter.modify_name) == ("title", "name")
    (undo,) = script.downgrade_ops.ops[0].ops
    assert (undo.column_name, undo.modify_name) == ("name", "title")


def test_a_rename_said_no_to_is_a_drop_and_an_add(tiny: TinyProject) -> None:
    tiny.migration("crm", "0001_initial", CUSTOMER_TABLE)
    migrate(tiny.settings)
    tiny.models("crm", RENAMED)
    questioner = Questioner(not_renames={"crm.customer.title"})
    (script,) = _run(_planner(tiny, questioner=questioner))
    kinds = [type(op) for op in script.upgrade_ops.ops[0].ops]
    assert sorted(k.__name__ for k in kinds) == ["AddColumnOp", "DropColumnOp"]


def test_renames_that_cannot_be_tried_or_match_nothing_are_errors(tiny: TinyProject) -> None:
    tiny.migration("crm", "0001_initial", CUSTOMER_TABLE)
    migrate(tiny.settings)
    tiny.models("crm", RENAMED)
    confirmed = Questioner(renames={"crm.customer.title": "name"})
    with pytest.raises(ProjectError, match="--from-db cannot write renames"):
        _run(_planner(tiny, questioner=confirmed, on_renames=None))
    typo = Questioner(renames={"crm.customer.titel": "name"})
    with pytest.raises(ProjectError, match="No removed and added pair matches crm.customer.titel"):
        _run(_planner(tiny, questioner=typo, on_renames=lambda: None))
    with pytest.raises(ProjectError, match="--rename crm.customer.title=name"):
        _run(_planner(tiny, on_renames=lambda: None))  # nobody to ask


def test_require_migration_name() -> None:
    require_migration_name("add_email")
    with pytest.raises(UsageError, match="valid Python identifier, not 'add-email'"):
        require_migration_name("add-email")
    require_migration_name("x" * 75)
    with pytest.raises(UsageError, match="is 76 characters long; file names allow at most 75"):
        require_migration_name("x" * 76)


def test_new_migration_numbers_after_the_leaf_and_avoids_taken_ids(tiny: TinyProject) -> None:
    tiny.migration("crm", "0007_handmade", "pass")
    workspace = Workspace(tiny.settings)
    crm = workspace.apps[0]
    taken = {"crm_0008_visit"}
    new = new_migration(workspace.history, crm, "Visit", [], taken)
    assert (new.name, new.revision) == ("0008_visit", "crm_0008_visit_2")
    assert new.path == tiny.migrations_dir("crm") / "0008_visit.py"
    assert "crm_0008_visit_2" in taken
    shop = workspace.apps[1]
    assert new_migration(workspace.history, shop, "initial", [], taken).name == "0001_initial"
    with pytest.raises(UsageError, match="would be 81 characters long"):
        new_migration(workspace.history, crm, "x" * 76, [], taken)


def test_docstring_marks_what_may_lose_data() -> None:
    changes = describe_operations(
        [ops.CreateTableOp("shop_new", []), ops.DropTableOp("shop_old")], "shop"
    )
    new = NewMigration("shop", "0002_auto", "shop_0002_auto", Path("unwritten.py"), changes)
    assert docstring(new) == (
        "shop.0002_auto\n\n"
        "+ Create table shop_new\n"
        "! - Drop table shop_old\n\n"
        "! marks changes that may lose data. Once reviewed, set allow_destructive = True\n"
        "below, for makemigrations --lint.\n"
    )
    empty = NewMigration("shop", "0003_manual", "shop_0003_manual", Path("unwritten.py"), [])
    assert docstring(empty) == "shop.0003_manual"
