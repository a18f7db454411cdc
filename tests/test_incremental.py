"""makemigrations compares only the apps whose files changed since the last comparison, and
the apps they reach (project.autogen.scope): its answer must be a full comparison's, byte
for byte, and every case it cannot judge falls back to comparing every app."""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import Project, with_settings

from project.apps import AppConfig
from project.autogen.scope import AppRecord, Record, first_scope, reach
from project.engine.fingerprint import Sources

RECORD = ".manage_cache/compared.json"
HEADER = (
    "from sqlalchemy import BigInteger, Enum, ForeignKey, Integer, Sequence, String, Text\n"
    "from sqlalchemy.orm import mapped_column\n\n"
    "from project.db import Model\n"
)
TYPES = ("String(30)", "String(60)", "Text", "Integer", "BigInteger")


@dataclass
class Column:
    name: str
    type: str | None  # None: a foreign key's, which takes its target's type
    target: str | None = None  # "table" whose id it points at
    index: bool = False
    unique: bool = False

    def render(self) -> str:
        args = [self.type] if self.type else []
        if self.target:
            args.append(f'ForeignKey("{self.target}.id")')
        args.append("nullable=True")
        args += ["index=True"] if self.index else []
        args += ["unique=True"] if self.unique else []
        return f"    {self.name} = mapped_column({', '.join(args)})\n"


@dataclass
class Table:
    name: str
    id_type: str = "Integer"
    columns: list[Column] = field(default_factory=list)

    def render(self) -> str:
        words = self.name.split("_")
        head = (
            f"\n\nclass {''.join(w.title() for w in words)}(Model):\n"
            f'    __tablename__ = "{self.name}"\n'
            f"    id = mapped_column({self.id_type}, primary_key=True)\n"
        )
        return head + "".join(column.render() for column in self.columns)


@dataclass
class Spec:
    """The models of the generated apps: `core` holds a shared type the others import."""

    apps: dict[str, list[Table]]
    code_length: int = 20
    counter: int = 0
    preambles: dict[str, str] = field(default_factory=dict)  # more lines after the imports

    def render(self, app: str) -> str:
        text = HEADER + self.preambles.get(app, "")
        if app == "core":
            text += f"\nCODE_LENGTH = {self.code_length}\n\n\ndef code_type():\n    return String(CODE_LENGTH)\n"
        else:
            text += "\nfrom apps.core.models import code_type\n"
        for table in self.apps[app]:
            text += table.render()
            if app != "core" and table is self.apps[app][0]:
                text += "    code = mapped_column(code_type(), nullable=True)\n"
        return text

    def tables(self) -> list[tuple[str, Table]]:
        return [(app, table) for app, tables in self.apps.items() for table in tables]

    def referenced(self) -> set[str]:
        return {c.target for _, t in self.tables() for c in t.columns if c.target}

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"


def _spec() -> Spec:
    return Spec(
        {
            "core": [Table("core_kind", columns=[Column("label", "String(30)")])],
            "shop": [
                Table("shop_item", columns=[Column("kind_id", None, "core_kind")]),
                Table("shop_order", columns=[Column("item_id", None, "shop_item", index=True)]),
            ],
            "crm": [Table("crm_client", columns=[Column("note", "Text")])],
            "ship": [Table("ship_parcel", columns=[Column("order_id", None, "shop_order")])],
            "docs": [Table("docs_page", columns=[Column("title", "String(60)")])],
        }
    )


def _edit(spec: Spec, rng: random.Random) -> str:
    """One random model change (or a change of source without a schema change)."""
    kind = rng.choice(
        ["add", "add", "drop", "type", "index", "table", "drop_table", "shared", "id_type", "noop"]
    )
    app, table = rng.choice(spec.tables())
    if kind == "add":
        table.columns.append(Column(spec.fresh("c"), rng.choice(TYPES), unique=rng.random() < 0.2))
    elif kind == "drop" and [c for c in table.columns if c.type]:
        table.columns.remove(rng.choice([c for c in table.columns if c.type]))
    elif kind == "type" and [c for c in table.columns if c.type]:
        column = rng.choice([c for c in table.columns if c.type])
        column.type = rng.choice([t for t in TYPES if t != column.type])
    elif kind == "index" and table.columns:
        column = rng.choice(table.columns)
        column.index = not column.index
    elif kind == "table":
        _, target = rng.choice([pair for pair in spec.tables() if pair[0] != app])
        name = f"{app}_{spec.fresh('t')}"
        spec.apps[app].append(Table(name, columns=[Column("ref_id", None, target.name)]))
    elif kind == "drop_table":
        free = [(a, t) for a, t in spec.tables() if t.name not in spec.referenced()]
        free = [(a, t) for a, t in free if len(spec.apps[a]) > 1]
        if free:
            app, table = rng.choice(free)
            spec.apps[app].remove(table)
    elif kind == "shared":
        spec.code_length += 10
        return "shared type"
    elif kind == "id_type" and table.name in spec.referenced():
        table.id_type = "BigInteger" if table.id_type == "Integer" else "Integer"
    elif kind == "noop":
        return "comment"
    else:
        return _edit(spec, rng)
    return f"{kind} {table.name}"


def _write(project: Project, spec: Spec, comment: str = "") -> None:
    for app in spec.apps:
        folder = project.file(f"apps/{app}")
        (folder / "migrations").mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").touch()
        text = spec.render(app) + (f"\n# {comment}\n" if comment and app == "docs" else "")
        models = folder / "models.py"
        if not models.exists() or models.read_text() != text:
            models.write_text(text)


def _install(project: Project, spec: Spec) -> None:
    _write(project, spec)
    labels = ["apps.owners", "apps.pets", *(f"apps.{app}" for app in spec.apps)]
    with_settings(project, INSTALLED_APPS=labels)


def _new_files(project: Project, before: set[Path]) -> dict[str, bytes]:
    now = set(project.path.glob("apps/*/migrations/*.py"))
    return {str(p.relative_to(project.path)): p.read_bytes() for p in sorted(now - before)}


def _compared(project: Project) -> list[str] | None:
    return json.loads(project.file(RECORD).read_text())["compared"]


@pytest.mark.parametrize(("backend", "steps"), [("sqlite", 10), ("postgresql", 5)])
def test_the_answer_is_a_full_comparisons_byte_for_byte(
    make_project, backend: str, steps: int
) -> None:
    """Random model edits across apps; after each, `makemigrations --check` and
    `makemigrations` in one copy (comparing the apps that changed) and `makemigrations` in
    another with no record (comparing every app) must say and write the same."""
    ours, full = make_project(backend), make_project(backend)
    spec = _spec()
    for project in (ours, full):
        _install(project, spec)
        project.run("makemigrations", check=True)
        project.run("makemigrations", "--check", check=True)  # the record of a clean state
    rng = random.Random(f"incremental-{backend}")
    partial = 0
    for step in range(steps):
        what = _edit(spec, rng)
        comment = f"step {step}" if what == "comment" else ""
        for project in (ours, full):
            _write(project, spec, comment)
        check = ours.run("makemigrations", "--check")
        compared = _compared(ours)
        partial += compared is not None
        before = set(ours.path.glob("apps/*/migrations/*.py"))
        written = ours.run("makemigrations")
        ours_files = _new_files(ours, before)
        full.file(RECORD).unlink()
        before = set(full.path.glob("apps/*/migrations/*.py"))
        expected = full.run("makemigrations")
        full_files = _new_files(full, before)
        assert _compared(full) is None, "the reference must compare every app"
        context = f"step {step} ({what}), compared {compared}"
        assert (written.returncode, written.stdout) == (expected.returncode, expected.stdout), (
            f"{context}\n{written}\n{expected}"
        )
        assert ours_files == full_files, context
        assert check.returncode == (1 if full_files else 0), f"{context}\n{check}"
        assert check.stdout == expected.stdout, f"{context}\n{check}"
    # Most steps compared some apps only: otherwise this test proved nothing.
    assert partial >= steps // 2, partial


def _clean_record(project: Project, spec: Spec | None = None) -> None:
    if spec is not None:
        _install(project, spec)
        project.run("makemigrations", check=True)
    project.run("makemigrations", "--check", check=True)  # every app clean in the record


def _record(project: Project) -> dict[str, object]:
    return json.loads(project.file(RECORD).read_text())  # type: ignore[no-any-return]


def test_an_edit_compares_its_app_and_the_apps_it_reaches(sqlite_project: Project) -> None:
    project, spec = sqlite_project, _spec()
    _clean_record(project, spec)
    spec.apps["docs"][0].columns.append(Column("body", "Text"))
    _write(project, spec)
    result = project.run("makemigrations", "--check")
    assert result.returncode == 1 and "Add column body to docs_page" in result.stdout
    assert _compared(project) == ["docs"]  # no foreign key, no import: alone
    project.run("makemigrations", check=True)
    project.run("makemigrations", "--check", check=True)  # docs checked again: clean
    spec.apps["crm"][0].columns.append(Column("phone", "String(30)"))
    _write(project, spec)
    project.run("makemigrations", "--check")
    assert _compared(project) == ["crm"]
    project.run("makemigrations", check=True)
    assert project.run("makemigrations", "--check").returncode == 0
    assert _compared(project) == ["crm"]  # it had changes: its new file is checked
    # shop_order: its app, the app its foreign key reaches (core) and the one reaching it (ship)
    spec.apps["shop"][1].columns.append(Column("total", "Integer"))
    _write(project, spec)
    project.run("makemigrations", "--check")
    assert _compared(project) == ["core", "ship", "shop"]
    project.run("makemigrations", check=True)
    project.run("makemigrations", "--check", check=True)
    # the shared type: every app importing core is compared, and finds its column changed
    spec.code_length = 40
    _write(project, spec)
    result = project.run("makemigrations", "--check")
    assert _compared(project) == ["core", "crm", "docs", "ship", "shop"]
    assert "Alter column code of shop_item" in result.stdout
    assert "Alter column code of ship_parcel" in result.stdout
    # pets and owners never came into it
    assert project.run("makemigrations", "--check", "owners", "pets").returncode == 0


def test_a_type_taken_from_a_foreign_keys_target_is_found(sqlite_project: Project) -> None:
    """ship_parcel.order_id has no type of its own: it takes shop_order.id's, so a change in
    shop changes ship's table, whose files did not change."""
    project, spec = sqlite_project, _spec()
    _clean_record(project, spec)
    spec.apps["shop"][1].id_type = "BigInteger"
    _write(project, spec)
    result = project.run("makemigrations", "--check")
    assert "ship" in (_compared(project) or [])
    assert "Alter column order_id of ship_parcel" in result.stdout, result


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("env.py", "the project's files, settings or libraries changed"),
        ("shared module", "the project's files, settings or libraries changed"),
        ("settings", "the project's files, settings or libraries changed"),
        ("library version", "the project's files, settings or libraries changed"),
        ("moved table", "table docs_page moved between apps"),
        ("damaged record", "no earlier comparison"),
        ("unowned tables", "PROTECT_UNOWNED_TABLES is off"),
        ("sequence", "the history has sequences, compared database-wide"),
    ],
)
def test_what_could_reach_every_app_compares_every_app(
    sqlite_project: Project, tmp_path: Path, change: str, reason: str
) -> None:
    project, spec = sqlite_project, _spec()
    env: dict[str, str] = {}
    if change == "shared module":  # a module outside the apps that an app's models import
        project.file("common.py").write_text("LENGTH = 30\n")
        spec.preambles["docs"] = "from common import LENGTH\n"
        spec.apps["docs"][0].columns.append(Column("kind", "String(LENGTH)"))
    if change == "unowned tables":  # from the start: the setting, not its edit, says it
        with_settings(project, PROTECT_UNOWNED_TABLES=False)
    if change == "sequence":  # compared database-wide: a partial comparison would drop others'
        spec.apps["docs"][0].columns.append(Column("number", 'Integer, Sequence("docs_number")'))
    _clean_record(project, spec)
    spec.apps["crm"][0].columns.append(Column("phone", "String(30)"))
    if change == "env.py":
        project.append("migrations/env.py", "\n# edited\n")
    elif change == "shared module":
        project.file("common.py").write_text("LENGTH = 40\n")
    elif change == "settings":
        with_settings(project, MIGRATE_LOCK_TIMEOUT=30)
    elif change == "library version":  # found first on sys.path, as an upgrade would be
        site = tmp_path / "site-packages"
        (site / "typer-99.0.dist-info").mkdir(parents=True)
        env["PYTHONPATH"] = str(site)
    elif change == "moved table":
        moved = spec.apps["docs"].pop()
        spec.apps["crm"].append(moved)
    elif change == "damaged record":
        project.file(RECORD).write_text("{not json")
    _write(project, spec)
    result = project.run("makemigrations", "--check", env=env)
    assert result.returncode == 1 and "Add column phone to crm_client" in result.stdout, result
    record = _record(project)
    assert (record["compared"], record["reason"]) == (None, reason)


def test_a_postgresql_enum_compares_every_app(make_project) -> None:
    project, spec = make_project("postgresql"), _spec()
    spec.apps["docs"][0].columns.append(Column("state", 'Enum("draft", "live", name="state")'))
    _install(project, spec)
    project.run("makemigrations", check=True)
    _clean_record(project)
    models = project.file("apps/crm/models.py")
    models.write_text(models.read_text() + "    phone = mapped_column(String(30), nullable=True)\n")
    result = project.run("makemigrations", "--check")
    assert result.returncode == 1 and "Add column phone to crm_client" in result.stdout, result
    record = _record(project)
    assert (record["compared"], record["reason"]) == (
        None,
        "a sequence, schema or enum type is shared by the whole database",
    )


def test_no_cache_compares_every_app_and_a_new_app_is_compared(sqlite_project: Project) -> None:
    project, spec = sqlite_project, _spec()
    _clean_record(project, spec)
    spec.apps["docs"][0].columns.append(Column("body", "Text"))
    _write(project, spec)
    assert project.run("makemigrations", "--check", "--no-cache").returncode == 1
    assert _compared(project) is None
    shutil.rmtree(project.file(".manage_cache"))
    assert project.run("makemigrations", "--check").returncode == 1
    assert _compared(project) is None


# Units: the decision, without a project.


def _app(label: str) -> AppConfig:
    return AppConfig(f"apps.{label}", label, Path(label), Path(label) / "migrations")


def test_reach_follows_imports_transitively_and_foreign_keys_one_step() -> None:
    apps = {
        "a": AppRecord("", True, tables=["a_t"]),
        "b": AppRecord("", True, imports=["a"], tables=["b_t"]),
        "c": AppRecord("", True, imports=["b"], tables=["c_t"]),
        "d": AppRecord("", True, tables=["d_t"], references=["a_t"]),
        "e": AppRecord("", True, tables=["e_t"], references=["d_t"]),
        "f": AppRecord("", True, tables=["f_t"], touches=["a_t"]),
        "g": AppRecord("", True, tables=["g_t"]),
    }
    assert reach({"a"}, apps) == {"a", "b", "c", "d"}  # e points at d, not at a: left out
    assert reach({"f"}, apps) == {"f", "a"}  # its migrations change a's table
    assert reach({"e"}, apps) == {"e", "d"}


def test_first_scope_falls_back_and_finds_what_changed() -> None:
    apps = [_app("a"), _app("b")]
    sources = Sources("p1", {"a": "1", "b": "2"})
    clean = {"a": AppRecord("1", True), "b": AppRecord("2", True)}
    assert first_scope(None, sources, apps, None)[0].compared is None
    assert first_scope(Record("p0", clean), sources, apps, None)[0].compared is None
    assert first_scope(Record("p1", clean), sources, apps, "why")[0].reason == "why"
    assert first_scope(Record("p1", clean), sources, apps, None)[0].compared == frozenset()
    dirty = {"a": AppRecord("1", False), "b": AppRecord("2", True)}
    assert first_scope(Record("p1", dirty), sources, apps, None)[0].compared == {"a"}
    shared = {"a": AppRecord("1", True, shared=True), "b": AppRecord("2", True)}
    assert first_scope(Record("p1", shared), sources, apps, None)[0].compared is None


def test_app_facts_read_imports_and_touched_tables_from_the_text(tmp_path: Path) -> None:
    from project.autogen.scope import app_facts

    apps = []
    for label in ("a", "b", "c", "d", "e"):
        (tmp_path / "apps" / label / "migrations").mkdir(parents=True)
        apps.append(
            AppConfig(
                f"apps.{label}",
                label,
                tmp_path / "apps" / label,
                tmp_path / "apps" / label / "migrations",
            )
        )
    a = tmp_path / "apps" / "a"
    (a / "models.py").write_text(
        "from apps.b.models import Kind\n"
        "from .. import c\n"  # relative, leaving the app's package
        "from apps import (\n    d,  # a comment\n)\n"
        "import sqlalchemy as sa\n"
    )
    (a / "migrations" / "0001_x.py").write_text(
        'from alembic import op\n\ndef upgrade():\n    op.add_column("b_kind", sa.Column("x"))\n'
    )
    facts = app_facts(apps[0], apps)
    assert facts.imports == ["b", "c", "d"]  # not e
    assert {"b_kind", "x"} <= set(facts.touches)
    (a / "loader.py").write_text('importlib.import_module("apps.e.models")\n')
    assert app_facts(apps[0], apps).imports == ["b", "c", "d", "e"]
