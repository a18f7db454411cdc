"""Questions instead of data loss: renames, and NOT NULL columns on tables that may have rows.

Alembic sees a renamed column as one dropped and one added; Django and Piccolo ask. So do
we: interactively, or from answers given on the command line. Without an answer (scripts,
`--noinput`) an ambiguous change stops the command: Django silently answers "not a
rename" and aerich silently answers "rename"; both lose data somebody cared about.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from project.errors import ProjectError, UsageError

Ask = Callable[[str], str]  # shows a prompt, returns the answer; EOFError when there is none


@dataclass(frozen=True)
class Rename:
    """A removed table or column and an added one of the same shape, in one app."""

    app: str
    table: str  # the table (for a column), or the old table
    old: str  # old column or table name
    new: str  # new column or table name
    shape: str  # e.g. "String(10)", or the table's column count
    is_table: bool = False
    schema: str | None = None  # a PostgreSQL schema, if not the default one

    @property
    def key(self) -> str:
        """How `--rename` names it: app.model.column, or app.model for a table."""
        model = _short(self.table if not self.is_table else self.old, self.app)
        return f"{self.app}.{model}" if self.is_table else f"{self.app}.{model}.{self.old}"

    @property
    def new_key_value(self) -> str:
        return _short(self.new, self.app) if self.is_table else self.new

    @property
    def removed(self) -> str:
        return f"table {self.old}" if self.is_table else f"{self.table}.{self.old}"

    @property
    def added(self) -> str:
        return (
            f"table {self.new} ({self.shape})"
            if self.is_table
            else f"{self.table}.{self.new} ({self.shape})"
        )

    def question(self) -> str:
        return f"Did you rename {self.removed} to {self.added.removeprefix('table ')}?"


@dataclass
class Questioner:
    """Answers from the command line first, then from the user, else an error."""

    ask: Ask | None = None  # None: --noinput
    renames: dict[str, str] = field(default_factory=dict)  # --rename key=new
    not_renames: set[str] = field(default_factory=set)  # --no-rename key

    def is_rename(self, candidate: Rename) -> bool:
        key = candidate.key
        if key in self.renames:
            return self.renames[key] == candidate.new_key_value
        if key in self.not_renames:
            return False
        unanswered = ProjectError(
            f"{candidate.removed} was removed and {candidate.added} added: a rename? Say so with "
            f"--rename {key}={candidate.new_key_value}, or with --no-rename {key} to drop one "
            "and add the other."
        )
        reply = self._ask(f"{candidate.question()} [y/N] ", unanswered)
        return reply.strip().lower() in ("y", "yes")

    def one_off_default(self, table: str, column: str, altering: bool) -> tuple[str, Any]:
        """("fill", value), or ("ignore", None) for an alteration the user will handle."""
        what = (
            f"make {table}.{column} NOT NULL"
            if altering
            else f"add the NOT NULL column {table}.{column}"
        )
        unanswered = ProjectError(
            f"Cannot {what} without a default: rows may exist. Give it a server_default in the "
            "model, or make it nullable, or run makemigrations interactively to give a one-off "
            "default for the existing rows."
        )
        choices = ["Provide a one-off default now (used only for the existing rows)"]
        if altering:
            choices.append("Ignore for now: existing rows holding NULL will be handled by hand")
        choices.append("Quit, and let me add a default in the model")
        menu = "\n".join(f" {n}) {text}" for n, text in enumerate(choices, 1))
        answer = self._ask(
            f"It is impossible to {what} without a default: rows may exist.\n{menu}\nSelect an option: ",
            unanswered,
        )
        if answer.strip() == "1":
            return "fill", self._literal(unanswered)
        if altering and answer.strip() == "2":
            return "ignore", None
        raise ProjectError(
            f"Stopped: add a default for {table}.{column} in the model, then run makemigrations."
        )

    def unmatched(self, keys: set[str]) -> list[str]:
        """Answers given on the command line that no candidate has: typos, stale answers."""
        return sorted((set(self.renames) | self.not_renames) - keys)

    def _literal(self, unanswered: ProjectError) -> Any:
        while True:
            prompt = "Enter the default value as a Python literal (e.g. 0, 'none', True): "
            text = self._ask(prompt, unanswered)
            try:
                value = ast.literal_eval(text.strip())
            except (ValueError, SyntaxError):
                continue
            if value is not None and isinstance(value, (bool, int, float, str)):
                return value

    def _ask(self, prompt: str, unanswered: ProjectError) -> str:
        """The user's answer; `unanswered` is raised with --noinput or when input ends."""
        if self.ask is None:
            raise unanswered
        try:
            return self.ask(prompt)
        except EOFError:
            raise unanswered from None


class ProbingQuestioner(Questioner):
    """For asking only which apps change (`check`, the first pass of makemigrations
    --update): nothing is asked, and nothing answered here is ever written. Not a rename:
    a rename and a drop-and-add change the same app."""

    def is_rename(self, candidate: Rename) -> bool:
        return False

    def one_off_default(self, table: str, column: str, altering: bool) -> tuple[str, Any]:
        return ("ignore", None) if altering else ("fill", 0)


def parse_renames(values: Iterable[str]) -> dict[str, str]:
    renames = {}
    for value in values:
        key, sep, new = value.partition("=")
        if not sep or not new or key.count(".") not in (1, 2):
            raise UsageError(
                f"--rename takes app.model=new_model or app.model.column=new_column, not '{value}'."
            )
        renames[key] = new
    return renames


def type_name(type_: Any) -> str:
    """String(10), Numeric(10, 2), Integer."""
    args = [
        getattr(type_, a)
        for a in ("length", "precision", "scale")
        if getattr(type_, a, None) is not None
    ]
    name = type(type_).__name__
    return f"{name}({', '.join(map(str, args))})" if args else name


def _short(table: str, app: str) -> str:
    return table.removeprefix(f"{app}_")
