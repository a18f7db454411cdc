"""MySQL/MariaDB: ask InnoDB for online DDL, and say so when it cannot.

Left to itself, MariaDB picks the least locking algorithm it has, and silently falls back to
copying the table under a lock that stops writes. migrate asks for the online forms
instead, in turn: `ALGORITHM=INSTANT` to add or drop a column (MariaDB 10.3/10.4+: metadata
only), then `ALGORITHM=INPLACE, LOCK=NONE`; `ALGORITHM=INPLACE LOCK=NONE` to create an index
(writes go on during the build). A form the server cannot run fails at once with
ER_ALTER_OPERATION_NOT_SUPPORTED (nothing of it applied; a server too old to know the
option says it is a syntax error); when none can, migrate runs the statement as written,
and says that it locked the table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# ER_ALTER_OPERATION_NOT_SUPPORTED, ER_ALTER_OPERATION_NOT_SUPPORTED_REASON (and, for
# ALGORITHM=INSTANT, ER_ALTER_OPERATION_NOT_SUPPORTED_REASON is what MariaDB sends too).
NOT_ONLINE = {1845, 1846}
SYNTAX_ERROR = 1064  # a server before MariaDB 10.3 / MySQL 8.0.12 knows no ALGORITHM=INSTANT

# DROP INDEX takes no algorithm option (MariaDB 10.11), and is a quick one anyway.
_INDEX = re.compile(r"^\s*CREATE\s+(UNIQUE\s+)?INDEX\s", re.IGNORECASE)
_COLUMN = re.compile(
    r"^\s*ALTER\s+TABLE\s+\S+\s+(ADD|DROP)\s+(COLUMN\s+)?(?!(CONSTRAINT|INDEX|KEY|UNIQUE|"
    r"PRIMARY|FOREIGN|CHECK|FULLTEXT|SPATIAL)\b)",
    re.IGNORECASE,
)
_ALREADY = re.compile(r"\b(ALGORITHM|LOCK)\s*=", re.IGNORECASE)


INDEX_FORMS = (" ALGORITHM=INPLACE LOCK=NONE",)
COLUMN_FORMS = (", ALGORITHM=INSTANT", ", ALGORITHM=INPLACE, LOCK=NONE")


def online_forms(statement: str) -> list[str]:
    """The statement asking for online DDL, most online first; none: not one we ask that
    of (several changes in one ALTER, constraints, type changes, or a form already chosen)."""
    if _ALREADY.search(statement) or ";" in statement.strip().rstrip(";"):
        return []
    body = statement.rstrip().rstrip(";")
    if _INDEX.match(body):
        return [body + form for form in INDEX_FORMS]
    if _COLUMN.match(body) and not _several_changes(body):
        return [body + form for form in COLUMN_FORMS]
    return []


def online_form(statement: str) -> str | None:
    """The most online form of the statement, or None."""
    forms = online_forms(statement)
    return forms[0] if forms else None


def as_written(statement: str) -> str:
    """The statement without the online form we added."""
    for form in (*INDEX_FORMS, *COLUMN_FORMS):
        if statement.endswith(form):
            return statement[: -len(form)]
    return statement


def _several_changes(alter: str) -> bool:
    """A comma outside parentheses and quotes: `ADD COLUMN a ..., ADD COLUMN b ...`."""
    depth, quote = 0, ""
    for char in alter:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"`":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            return True
    return False


def refused_online(error: BaseException) -> str | None:
    """The server's reason when the error says the online form is not possible."""
    original = getattr(error, "orig", error)
    arguments = getattr(original, "args", ())
    statement = str(getattr(error, "statement", "") or "")
    ours = as_written(statement) != statement
    if arguments and (arguments[0] in NOT_ONLINE or (ours and arguments[0] == SYNTAX_ERROR)):
        return str(arguments[1]) if len(arguments) > 1 else "not supported"
    return None


@dataclass(frozen=True)
class NotOnline:
    """A statement MariaDB/MySQL could not run online, run as written (writes waited)."""

    migration: str  # its key, app.name
    statement: str
    reason: str
    told_after_done = True  # once its migration's progress line is closed (cli.output)

    def line(self) -> str:
        shown = " ".join(self.statement.split())
        shown = shown if len(shown) <= SHOWN else shown[: SHOWN - 1] + "…"
        return (
            f"{self.migration}: the server could not run `{shown}` online ({self.reason}); "
            "it ran as written, under a lock that kept writes to the table waiting."
        )


SHOWN = 100  # characters of the statement in the line
