"""The one place that touches SQLAlchemy's, Alembic's (and PyMySQL's) non-public parts.

Everything else in project/ calls these modules; tests/test_architecture.py fails on a
private name of theirs used anywhere else. When a release changes one of these parts, it
breaks here, and the module's test (tests/test_internals.py, tests/test_adapter_scripts.py,
tests/test_adapter_version_table.py) names it. Imports only the top level.

Below, each use and why no public API serves.

project.adapter.scripts (Alembic's ScriptDirectory and revisions):

- `ScriptDirectory._load_revisions`, read through a `RevisionMap` we give the
  ScriptDirectory (`script_directory`): a database sees a squashed range as its squash or
  as what it replaces (project.engine.squash_view decides), so Alembic's revision map must
  hold only the files of that view. Nothing public filters the files Alembic reads, and
  `command.*` always builds its own ScriptDirectory (`from_config`).
- `Script._orig_branch_labels` (`add_branch_labels`): a squash takes over the branch label
  of the first migration it replaces; the revision map reads a file's declared labels from
  this attribute, not from the public `branch_labels`.
- `ScriptDirectory._upgrade_revs` / `_downgrade_revs` (`upgrade_steps`, `downgrade_steps`):
  the exact steps `command.upgrade`/`downgrade` hand env.py's `fn`, with Alembic's own
  messages for a bad target. `iterate_revisions` is public, but turning its scripts into
  steps, and its errors into those messages, would copy Alembic.
- The `RevisionStep` constructor (`single_step`): one migration's step on its own, for
  sqlmigrate, whatever the heads; Alembic builds steps only from a walk between heads.
- A copied `RevisionStep` whose class is swapped for a subclass with a no-op
  `migration_fn` (`faked`): `migrate --fake` has Alembic record a step (version table,
  `on_version_apply`, in order with the real ones) without running it. `MigrationContext.stamp`
  records, but outside the run, without the callbacks the runner reports progress by.
- `alembic.autogenerate.RevisionContext`, its constructor and `run_autogenerate`,
  `run_no_autogenerate`, `generate_scripts`, `template_args` (`autogenerate_revisions`,
  `empty_revisions`): what `command.revision` does, on our ScriptDirectory; `command.revision`
  builds its own, which would show a squash and what it replaces (two heads in one app).

project.adapter.deferred_impls (Alembic's module layout):

- A placeholder in `sys.modules["alembic.ddl.postgresql"]`, put there before Alembic is
  imported and run in place on the first look-up of one of its names (`defer_unused`,
  `load`): `alembic.ddl` imports every database's support, and PostgreSQL's imports
  SQLAlchemy's PostgreSQL dialect, a tenth of a small `migrate` on SQLite. Alembic has no
  switch to import only the support of the database in use.

project.adapter.version_table (rows of `alembic_version` that Alembic does not know):

- Rows updated, deleted or replaced with SQLAlchemy Core on Alembic's table: a replaced
  revision moved onto its squash, a foreign history's revisions adopted, ghosts pruned, a
  scratch database emptied. `MigrationContext.stamp` / `command.stamp` move only heads the
  ScriptDirectory knows, and these rows are ones it does not (or the scratch database has no
  ScriptDirectory at hand). Each write runs in the caller's transaction.

project.adapter.internals (schema objects, operations, renderers, drivers):

- `sys._getframe` and a frame's `f_locals` (CPython's): which module's top-level code is
  making a Table, and the class SQLAlchemy's declarative machinery is mapping (its `cls`),
  as the table is made; nothing public says where a table was defined.
- `IdentifierPreparer.format_constraint(constraint, _alembic_quote=False)`: the name a
  constraint really gets on a dialect, after the MetaData's naming convention (a Boolean's
  or an Enum's check constraint is named only when the DDL is compiled). Alembic calls it
  the same way (`sqla_compat._get_constraint_final_name`).
- `Constraint._create_rule`: whether a type's own check constraint is created at all on a
  dialect (a Boolean's is not where the database has a native boolean).
- `Constraint._type_bound`: the check constraint belongs to a column's type (Boolean, Enum).
- `alembic.operations.batch.ApplyBatchImpl._create` (wrapped, by `fix_batch_copies`):
  SQLite's batch mode copies every column's values into the re-created table, generated
  columns too, which SQLite refuses ("cannot INSERT into generated column"); the wrapper
  leaves those out of the copy (the database computes them).
- `DefaultImpl._normalize_computed_default`: Alembic's own way of telling whether a
  generated column's expression changed (it only warns); we recreate the column instead.
- `MetaData._sequences`: the sequences on a MetaData, to say which no column uses (no app
  can then be told to own one; SQLAlchemy has no public list).
- `alembic.autogenerate.render._render_modify_table`: a SQLite batch is written with the
  unnamed check constraints its re-created table must keep, as `table_args` (Alembic's
  batch mode leaves them out of the copy, with a warning); no hook adds arguments there.
- `alembic.autogenerate.render._alter_column` and `_render_server_default`: an identity
  column whose options change needs `existing_server_default=sa.Identity(...)`, which
  PostgreSQL's ALTER needs (SET, not ADD), and Alembic writes it only when the default
  itself does not change.
- `alembic.autogenerate.render._add_table` and `_render_constraint`, with
  `CreateTableOp._namespace_metadata` and `Constraint._creation_order`: Alembic writes a
  new table's constraints sorted as text, where CREATE TABLE takes them in the model's
  order, and MySQL/MariaDB number the names of unnamed ones (`t_ibfk_1`, `CONSTRAINT_1`)
  in that order; we put them back in the model's order.
- `alembic.autogenerate.render._render_column` and `_repr_type`: Alembic's rendering of a
  column and of a type, which we extend with what it leaves out (an explicit Sequence, the
  element type of a PostgreSQL ARRAY written where another dialect renders); `render_item`
  can only replace them.
- `renderers.dispatch_for(op, replace=True)` (`replace_renderers`): Alembic documents this
  hook for the renderers of new operations (RenameTableOp, FillNullsOp); with `replace=True`
  it replaces Alembic's own (CreateTableOp, AlterColumnOp, ModifyTableOps; each calls
  Alembic's and only adds to it), for the whole process.
- `MigrateOperation._reverse` (`reflected`, and the `_reverse=` a drop is made with in
  `drop_with_reflected`): what a drop autogenerate made removes, as the database has it
  (the reflected table, column, index or constraint): renames are proposed from it, a
  dropped generated column is told apart, a downgrade recreates it. The public `reverse()`
  builds one from the drop's own arguments when nothing was reflected (or raises), so it
  cannot say whether the database's object is known.
- `Inspector.info_cache["alembic_check_constraints"]` and `["alembic_table_options"]`
  (`reflected_check_constraints`, `reflected_table_options`): what Alembic's table comparison
  reflected for every table at once (`get_multi_*`), keyed by (schema, table). Our check
  constraint and table option comparators read it there; the inspector's per-table methods
  would run a query per table (1,000 more at 1,000 tables on PostgreSQL). Alembic has no
  public accessor for its reflection.
- `Column._copy()` (`copy_column`): a column to add with a temporary server default;
  `Column.copy()` is deprecated, and Alembic copies columns the same way (`sqla_compat._copy`).
- `TypeEngine._type_affinity` (`type_affinity`): whether two types are the same kind
  (a narrowing change is one that needs a question); SQLAlchemy compares types by it too.
- `sqlalchemy.dialects.mysql.types._IntegerType` (`is_mysql_integer`): the base of the MySQL
  integer types, which carry a display width inspectdb leaves out when it is the default.
- `async_creator_fn` in the connect arguments of SQLAlchemy's aiomysql and asyncmy
  adapters (their `dbapi.connect` takes it; the public `async_creator` does too, but then
  the URL's host, user and options are not applied): the driver's connect, wrapped in one
  deadline. Their `connect_timeout` ends once TCP connects, and neither has a read timeout,
  so a server that never sends its greeting would hang the command.
- PyMySQL's `Connection._read_timeout` (`no_read_timeout`): the `read_timeout` that bounds
  the connect (a server that never greets) is turned off once connected, as a migration
  may run one statement for hours; PyMySQL has no public setter.

Three of these act on the whole process once registered, for any Alembic use in it: the
renderers project.autogen.render replaces, `fix_batch_copies`, and the deferred
alembic.ddl.postgresql (`migrate` on another database defers it).
"""
