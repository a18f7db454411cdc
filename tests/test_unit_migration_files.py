"""project.engine.migration_files in process: what a migration file does, read from its
source without running it (migrate --plan, the tables an app's history created)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.operations import ops

from project.engine import operations
from project.engine.migration_files import PythonOp, foreign_key_targets, read_operations

REPO = Path(__file__).resolve().parents[1]


def _file(tmp_path: Path, source: str, name: str = "0002_x.py") -> Path:
    path = tmp_path / name
    path.write_text(source)
    return path


def test_the_example_projects_initial_migrations() -> None:
    pets = read_operations(REPO / "apps/pets/migrations/0001_initial.py")
    create, index = pets
    assert isinstance(create, ops.CreateTableOp) and create.table_name == "pets_pet"
    columns = {c.name: c for c in create.columns if isinstance(c, sa.Column)}
    assert list(columns) == ["id", "species", "name", "birthdate", "sex", "condition", "owner_id"]
    assert not columns["id"].nullable and columns["species"].nullable
    assert isinstance(columns["species"].type, sa.String) and columns["species"].type.length == 50
    assert isinstance(index, ops.CreateIndexOp)
    assert (index.index_name, index.table_name) == ("ix_pets_pet_owner_id", "pets_pet")
    assert foreign_key_targets(REPO / "apps/pets/migrations/0001_initial.py") == {"owners_owner"}
    (drop,) = read_operations(REPO / "apps/pets/migrations/0001_initial.py", "downgrade")
    assert isinstance(drop, ops.DropTableOp) and drop.table_name == "pets_pet"


def test_a_data_migrations_functions_are_one_python_step_each_way() -> None:
    path = REPO / "apps/owners/migrations/0002_lowercase_emails.py"
    (forward,) = read_operations(path)
    (backward,) = read_operations(path, "downgrade")
    assert isinstance(forward, PythonOp) and forward.function == "forward"
    assert isinstance(backward, PythonOp) and backward.function == "backward"


def test_a_data_migration_without_a_backward_function_has_no_downgrade_step(
    tmp_path: Path,
) -> None:
    path = _file(
        tmp_path,
        "from project.data import data_migration\n\n"
        "def forward(session):\n    pass\n\n"
        "upgrade, downgrade = data_migration(forward)\n",
    )
    assert [op.function for op in read_operations(path)] == ["forward"]  # type: ignore[attr-defined]
    assert read_operations(path, "downgrade") == []


def test_columns_keep_what_the_plan_and_the_ownership_walk_need(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "def upgrade():\n"
        "    op.create_table(\n"
        "        'shop_item',\n"
        "        sa.Column('id', sa.Integer(), nullable=False),\n"
        "        sa.Column('title', sa.String(length=80), server_default='x'),\n"
        "        sa.Column('total', sa.Integer(), sa.Computed('id * 2')),\n"
        "        sa.Column('kind', my_types.Kind()),\n"
        "        sa.PrimaryKeyConstraint('id', name=op.f('pk_shop_item')),\n"
        "    )\n",
    )
    (create,) = read_operations(path)
    assert isinstance(create, ops.CreateTableOp)
    columns = {c.name: c for c in create.columns if isinstance(c, sa.Column)}
    assert list(columns) == ["id", "title", "total", "kind"]  # the constraint is no column
    assert columns["id"].nullable is False and columns["title"].nullable is True
    assert isinstance(columns["title"].type, sa.String) and columns["title"].type.length == 80
    assert columns["title"].server_default is not None
    assert isinstance(columns["total"].server_default, sa.Computed)
    assert isinstance(columns["kind"].type, sa.types.NullType)  # a type it cannot read


def test_batch_operations_get_their_batchs_table(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "def upgrade():\n"
        "    with op.batch_alter_table('shop_item', schema=None) as batch_op:\n"
        "        batch_op.add_column(sa.Column('weight', sa.Float(), nullable=True))\n"
        "        batch_op.alter_column('title', existing_type=sa.String(length=80),"
        " nullable=False, new_column_name='name')\n"
        "        batch_op.create_index(batch_op.f('ix_shop_item_weight'), ['weight'], unique=True)\n"
        "        batch_op.drop_constraint('uq_shop_item_code', type_='unique')\n"
        "        batch_op.drop_column('sex')\n"
        "    with open('notes.txt') as notes:\n"
        "        op.drop_table('shop_old')\n",
    )
    add, alter, index, drop_constraint, drop_column, drop_table = read_operations(path)
    assert isinstance(add, ops.AddColumnOp) and add.table_name == "shop_item"
    assert add.column.name == "weight"
    assert isinstance(alter, ops.AlterColumnOp)
    assert (alter.table_name, alter.column_name, alter.modify_name) == (
        "shop_item",
        "title",
        "name",
    )
    assert alter.modify_nullable is False
    assert isinstance(index, ops.CreateIndexOp) and index.unique
    assert (index.index_name, index.table_name) == ("ix_shop_item_weight", "shop_item")
    assert isinstance(drop_constraint, ops.DropConstraintOp)
    assert (drop_constraint.constraint_name, drop_constraint.table_name) == (
        "uq_shop_item_code",
        "shop_item",
    )
    assert drop_constraint.constraint_type == "unique"
    assert isinstance(drop_column, ops.DropColumnOp) and drop_column.table_name == "shop_item"
    # a `with` that is no batch leaves the operations inside it on their own tables
    assert isinstance(drop_table, ops.DropTableOp) and drop_table.table_name == "shop_old"


def test_calls_it_cannot_describe_are_named_and_helpers_are_left_out(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "def upgrade():\n"
        "    bind = op.get_bind()\n"
        "    op.bulk_insert(table, [])\n"
        "    op.create_index()\n"  # too few arguments to describe
        "    op.execute('UPDATE shop_item SET weight = 1')\n"
        "    helper.drop_table('not_an_op')\n",
    )
    unknown, broken, sql = read_operations(path)
    assert unknown.call_name == "op.bulk_insert"  # type: ignore[attr-defined]
    assert broken.call_name == "op.create_index"  # type: ignore[attr-defined]
    assert isinstance(sql, ops.ExecuteSQLOp)


def test_our_operations_are_read_back(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "def upgrade():\n"
        "    op.create_schema('archive')\n"
        "    op.create_sequence('shop_item_seq', schema='archive', start=10, increment=2,"
        " cache=name)\n"
        "    op.alter_sequence('shop_item_seq', increment=5)\n"
        "    op.drop_sequence('old_seq')\n"
        "    op.alter_table_options('shop_item', mysql_charset='latin1')\n"
        "    op.execute(sa.table('shop_item', sa.column('weight')).update()"
        ".where(sa.column('weight').is_(None)).values(weight=0))\n",
    )
    schema, create, alter, drop, options, fill = read_operations(path)
    assert isinstance(schema, operations.CreateSchemaOp) and schema.schema_name == "archive"
    assert isinstance(create, operations.CreateSequenceOp)
    assert (create.sequence_name, create.schema) == ("shop_item_seq", "archive")
    assert create.options == {"start": 10, "increment": 2}  # `cache=name` is no literal
    assert isinstance(alter, operations.AlterSequenceOp) and alter.options == {"increment": 5}
    assert isinstance(drop, operations.DropSequenceOp) and drop.sequence_name == "old_seq"
    assert isinstance(options, operations.AlterTableOptionsOp)
    assert isinstance(fill, operations.FillNullsOp)
    assert (fill.table_name, fill.column_name) == ("shop_item", "weight")


def test_a_file_without_the_function_has_no_operations(tmp_path: Path) -> None:
    path = _file(tmp_path, "def upgrade():\n    op.drop_table('shop_old')\n")
    assert read_operations(path, "downgrade") == []


def test_foreign_key_targets_in_every_spelling(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "def upgrade():\n"
        "    op.create_table(\n"
        "        'shop_order',\n"
        "        sa.Column('customer_id', sa.ForeignKey('crm_customer.id')),\n"
        "        sa.Column('region_id', sa.ForeignKey('geo.geo_region.id')),\n"
        "        sa.ForeignKeyConstraint(['item_id', 'size'], ['shop_item.id', 'shop_item.size']),\n"
        "    )\n"
        "    op.create_foreign_key('fk_a', 'shop_order', 'crm_account', ['account_id'], ['id'])\n"
        "    with op.batch_alter_table('shop_order') as batch_op:\n"
        "        batch_op.create_foreign_key('fk_b', 'crm_agent', ['agent_id'], ['id'])\n"
        "def downgrade():\n"
        "    op.create_foreign_key('fk_c', 'shop_order', 'only_in_downgrade', ['x'], ['id'])\n",
    )
    assert foreign_key_targets(path) == {
        "crm_customer",
        "geo_region",  # the schema is not part of the table's name
        "shop_item",
        "crm_account",
        "crm_agent",
    }
    assert foreign_key_targets(_file(tmp_path, "x = 1\n", "0003_y.py")) == set()
