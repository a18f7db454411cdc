"""One source of truth, in-process: the options every comparison runs with, the walk that
says which migration made each table, the questioner that probes without asking, and the
one object the migration template reads."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
import sqlalchemy as sa
from conftest import REPO
from mako.template import Template

from project.autogen import compare
from project.autogen.questioner import ProbingQuestioner, Questioner, Rename
from project.engine.history import History, Migration, tables_made, walk_tables
from project.engine.recorder import TABLES as HISTORY_TABLES
from project.errors import ProjectError

# autogenerate_options


@pytest.fixture
def made_options(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every options dict autogenerate_options hands out while the test runs."""
    made: list[dict[str, Any]] = []
    real = compare.autogenerate_options

    def spy(*args: Any, **kwargs: Any) -> dict[str, Any]:
        options = real(*args, **kwargs)
        made.append(options)
        return options

    monkeypatch.setattr(compare, "autogenerate_options", spy)
    return made


def _models() -> sa.MetaData:
    metadata = sa.MetaData()
    sa.Table("pets_pet", metadata, sa.Column("id", sa.Integer, primary_key=True))
    return metadata


def _planner_options(target: sa.MetaData) -> dict[str, Any]:
    """makemigrations' (and --update's, and check's: they run makemigrations)."""
    from project.autogen.planner import Planner

    history = SimpleNamespace(sequences=dict, table_owners={}, sequence_owners={})
    planner = Planner(
        workspace=cast(Any, SimpleNamespace(settings=SimpleNamespace(protect_unowned_tables=True))),
        history=cast(Any, history),
        models=cast(Any, SimpleNamespace(target=target, owners={"pets_pet": "pets"})),
        selected=[],
        name=None,
        write=False,
        questioner=ProbingQuestioner(),
    )
    return planner.configure_options("sqlite")


def _squash_options(target: sa.MetaData) -> dict[str, Any]:
    from project.services.squashmigrations import _Builder

    builder = _Builder(
        workspace=cast(Any, SimpleNamespace(history=SimpleNamespace(by_revision={}))),
        app=SimpleNamespace(label="pets", migrations_dir=Path("migrations")),
        squashed=cast(Any, [SimpleNamespace(name="0003_visit")]),
        stem="0001_squashed_0003_visit",
        tables={"pets_pet"},
        target=target,
        write=False,
    )
    return builder.configure_options("sqlite")


def _drift_options(target: sa.MetaData) -> dict[str, Any]:
    """check --drift's, and adopting a database's (migrate --fake-initial)."""
    from project.autogen.drift import compare_options

    return compare_options("sqlite", target)


@pytest.mark.parametrize(
    ("command", "options_of", "renders"),
    [
        ("makemigrations", _planner_options, True),
        ("squashmigrations", _squash_options, True),
        ("check --drift", _drift_options, False),
    ],
)
def test_every_comparison_runs_with_autogenerate_options(
    made_options: list[dict[str, Any]], command: str, options_of: Any, renders: bool
) -> None:
    options = options_of(_models())
    assert len(made_options) == 1, command
    assert made_options[0].items() <= options.items(), command  # the same objects, added to
    assert options["compare_type"] is compare.compare_type
    assert options["compare_server_default"] is True
    assert options["autogenerate_plugins"] == compare.AUTOGENERATE_PLUGINS
    assert ("render_as_batch" in options) is renders  # only what writes a file renders


@pytest.mark.parametrize("options_of", [_planner_options, _squash_options, _drift_options])
def test_no_comparison_sees_the_history_tables(options_of: Any) -> None:
    include = options_of(_models())["include_object"]
    for table in sorted(HISTORY_TABLES):
        assert include(None, table, "table", True, None) is False
    assert include(None, "pets_pet", "table", True, None) is True


def test_the_caller_s_include_object_still_decides_the_rest() -> None:
    options = compare.autogenerate_options("sqlite", _models(), lambda *a: a[2] != "index")
    include = options["include_object"]
    assert include(None, "ix_pets_pet_name", "index", True, None) is False
    assert include(None, "pets_pet", "table", True, None) is True


# walk_tables


def _files(tmp_path: Path, **upgrades: str) -> dict[str, Path]:
    paths = {}
    for name, body in upgrades.items():
        path = tmp_path / f"{name}.py"
        path.write_text(
            "import sqlalchemy as sa\nfrom alembic import op\n\n\n"
            f"def upgrade() -> None:\n    {body}\n\n\ndef downgrade() -> None:\n    pass\n"
        )
        paths[name] = path
    return paths


CREATE_OWNER = 'op.create_table("owners_owner", sa.Column("id", sa.Integer(), primary_key=True))'
RENAME_OWNER = 'op.rename_table("owners_owner", "owners_person")'
CREATE_PET = (
    'op.create_table("pets_pet", sa.Column("id", sa.Integer(), primary_key=True), '
    'sa.Column("owner_id", sa.Integer(), sa.ForeignKey("owners_person.id")))'
)


def _history(tmp_path: Path, pets_depend_on: str) -> History:
    """owners: 0001 creates owners_owner, 0002 renames it owners_person, 0003 drops it;
    pets: 0001 creates pets_pet, with a foreign key to owners_person."""
    paths = _files(
        tmp_path,
        o1=CREATE_OWNER,
        o2=RENAME_OWNER,
        p1=CREATE_PET,
        o3='op.drop_table("owners_person")',
    )
    migrations = [
        Migration("owners", "0001_initial", "o1", (), (), paths["o1"]),
        Migration("owners", "0002_person", "o2", ("o1",), (), paths["o2"]),
        Migration("pets", "0001_initial", "p1", (), (pets_depend_on,), paths["p1"]),
        Migration("owners", "0003_delete_person", "o3", ("o2",), (), paths["o3"]),
    ]
    return History(script=cast(Any, None), apps=[], migrations=migrations)


def test_the_walk_follows_creates_renames_and_drops(tmp_path: Path) -> None:
    history = _history(tmp_path, "o2")
    seen = []
    for migration, walk in walk_tables(
        history.migrations, lambda m: history.operations[m.revision]
    ):
        seen.append((migration.revision, {t: m.revision for t, m in walk.tables.items()}))
    assert seen == [
        ("o1", {"owners_owner": "o1"}),
        ("o2", {"owners_person": "o2"}),  # the renaming migration made the new name
        ("p1", {"owners_person": "o2", "pets_pet": "p1"}),
        ("o3", {"pets_pet": "p1"}),
    ]
    walk = tables_made(history.migrations, lambda m: history.operations[m.revision])
    assert {t: m.revision for t, m in walk.first.items()} == {
        "owners_owner": "o1",
        "owners_person": "o2",  # kept after its drop: a foreign key to it needed o2
        "pets_pet": "p1",
    }
    assert history.table_owners == {"pets_pet": "pets"}
    assert tables_made([], lambda m: []).tables == {}


def test_a_foreign_key_to_a_renamed_table_needs_the_rename(tmp_path: Path) -> None:
    from project.engine.graph_checks import missing_dependencies

    before, after = tmp_path / "before", tmp_path / "after"
    before.mkdir()
    after.mkdir()
    assert missing_dependencies(_history(after, "o2")) == []
    [found] = missing_dependencies(_history(before, "o1"))
    assert found.startswith(
        "pets.0001_initial has a foreign key to a table that owners.0002_person"
    )


def test_squash_takes_the_app_s_tables_before_and_after_the_range(tmp_path: Path) -> None:
    from project.services.squashmigrations import _tables

    history = _history(tmp_path, "o2")
    owners = history.for_app("owners")
    assert _tables(history, "owners", owners[1:3]) == ({"owners_owner"}, set())
    assert _tables(history, "owners", owners[0:2]) == (set(), {"owners_person"})
    assert _tables(history, "pets", history.for_app("pets")) == (set(), {"pets_pet"})


# the questioner

SEX = Rename("pets", "pets_pet", "sex", "gender", "String(10)")


def test_answers_given_on_the_command_line_decide() -> None:
    assert Questioner(renames={"pets.pet.sex": "gender"}).is_rename(SEX) is True
    assert Questioner(renames={"pets.pet.sex": "kind"}).is_rename(SEX) is False
    assert Questioner(not_renames={"pets.pet.sex"}).is_rename(SEX) is False
    assert Questioner(renames={"pets.pet.sex": "gender", "pets.pet.typo": "x"}).unmatched(
        {"pets.pet.sex"}
    ) == ["pets.pet.typo"]


@pytest.mark.parametrize("ask", [None, "eof"])
def test_no_answer_is_the_ambiguity_error(ask: str | None) -> None:
    def ended(prompt: str) -> str:
        raise EOFError

    questioner = Questioner(ask=ended if ask else None)
    with pytest.raises(ProjectError) as rename:
        questioner.is_rename(SEX)
    assert "--rename pets.pet.sex=gender" in str(rename.value)
    assert "--no-rename pets.pet.sex" in str(rename.value)
    with pytest.raises(ProjectError, match="Cannot add the NOT NULL column pets_pet.age"):
        questioner.one_off_default("pets_pet", "age", altering=False)


def test_the_user_s_answers() -> None:
    replies = iter(["y", "1", "oops(", "None", "5", "2", "3"])
    prompts: list[str] = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return next(replies)

    questioner = Questioner(ask=ask)
    assert questioner.is_rename(SEX) is True
    assert prompts[0].startswith("Did you rename pets_pet.sex to pets_pet.gender (String(10))?")
    assert questioner.one_off_default("pets_pet", "age", altering=False) == ("fill", 5)
    assert questioner.one_off_default("pets_pet", "age", altering=True) == ("ignore", None)
    with pytest.raises(ProjectError, match="Stopped: add a default for pets_pet.age"):
        questioner.one_off_default("pets_pet", "age", altering=True)


def test_probing_asks_nothing_and_answers_harmlessly() -> None:
    def never(prompt: str) -> str:
        raise AssertionError(f"asked: {prompt}")

    probe = ProbingQuestioner(ask=never)
    assert probe.is_rename(SEX) is False
    assert probe.one_off_default("pets_pet", "age", altering=False) == ("fill", 0)
    assert probe.one_off_default("pets_pet", "age", altering=True) == ("ignore", None)


def test_check_and_update_probe_with_the_one_probing_questioner(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from project.services import check, makemigrations, update

    used: list[Questioner | None] = []

    def planned(*args: Any, questioner: Questioner | None = None, **kwargs: Any) -> Any:
        used.append(questioner)
        return makemigrations.MakeMigrationsResult([], [], False)

    monkeypatch.setattr(makemigrations, "makemigrations", planned)
    monkeypatch.setattr(update, "plan_migrations", planned)
    settings = cast(Any, None)  # not read: nothing is written, nothing changed
    assert check._unmigrated_changes(settings) == []
    update.update_latest(settings, write=False)
    assert [type(q) for q in used] == [ProbingQuestioner, ProbingQuestioner]


# MigrationTemplate

TEMPLATES = [
    REPO / "migrations" / "script.py.mako",
    REPO / "project" / "project_template" / "migrations" / "script.py.mako",
]
# What script.py.mako read before MigrationTemplate (and the copies startproject wrote still do).
BEFORE = [
    (
        (
            '<% migration = config.attributes["migration_templates"][up_revision] %>\\\n'
            '"""${migration.docstring}"""\n'
        ),
        (
            '<% data = up_revision in config.attributes.get("data_migrations", ()) %>\\\n'
            '"""${config.attributes.get("docstrings", {}).get(up_revision, message)}"""\n'
        ),
    ),
    ("% if migration.data:", "% if data:"),
    ("% if migration.replaces:", '% if up_revision in config.attributes.get("replaces", {}):'),
    ("${repr(migration.replaces)}", '${repr(config.attributes["replaces"][up_revision])}'),
]


def _render(template: str, revision: str, *templates: tuple[str, Any]) -> str:
    from alembic.config import Config

    from project.autogen.writer import add_template

    config = Config()
    for rev, migration in templates:
        add_template(config, rev, migration)
    return str(
        Template(template).render_unicode(
            config=config,
            up_revision=revision,
            down_revision=None,
            branch_labels=None,
            depends_on=None,
            message="unused",
            imports="",
            upgrades="op.drop_table('pets_pet')",
            downgrades="",
        )
    )


def test_templates_written_before_still_read_the_old_keys() -> None:
    from project.autogen.writer import MigrationTemplate

    current = TEMPLATES[0].read_text()
    assert TEMPLATES[1].read_text() == current
    old = current
    for new, before in BEFORE:
        assert new in old
        old = old.replace(new, before)
    migrations = [
        ("a1", MigrationTemplate("pets.0002_x\n\nDrops it.\n")),
        ("a2", MigrationTemplate("pets.0003_manual\n", data=True)),
        ("a3", MigrationTemplate("pets.0001_squashed\n", replaces=("r1", "r2"))),
    ]
    for revision, migration in migrations:
        rendered = _render(current, revision, *migrations)
        assert rendered == _render(old, revision, *migrations), revision
        assert rendered.startswith(f'"""{migration.docstring}"""\n')
        assert ("def forward(session: Session)" in rendered) is migration.data
        assert ("replaces = ('r1', 'r2')" in rendered) is bool(migration.replaces)
