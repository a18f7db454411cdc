"""MySQL/MariaDB: ask InnoDB for online DDL, and say so when it cannot.

Left to itself, MariaDB picks the least locking algorithm it has, and silently falls back to
copying the table under a lock that stops writes. migrate asks for the online forms
instead: `ALGORITHM=INSTANT` to add or drop a column (MariaDB 10.3/10.4+: metadata only),
`ALGORITHM=INPLACE LOCK=NONE` to create an index (writes go on during the build).
A statement the server cannot run that way fails at once with ER_ALTER_OPERATION_NOT_SUPPORTED
(nothing of it applied); migrate then runs it as written, and says that it locked the table.
"""

from __future__ import annotations

import re

# ER_ALTER_OPERATION_NOT_SUPPORTED, ER_ALTER_OPERATION_NOT_SUPPORTED_REASON (and, for
# ALGORITHM=INSTANT, ER_ALTER_OPERATION_NOT_SUPPORTED_REASON is what MariaDB sends too).
NOT_ONLINE = {1845, 1846}

# DROP INDEX takes no algorithm option (MariaDB 10.11), and is a quick one anyway.
_INDEX = re.compile(r"^\s*CREATE\s+(UNIQUE\s+)?INDEX\s", re.IGNORECASE)
_COLUMN = re.compile(
    r"^\s*ALTER\s+TABLE\s+\S+\s+(ADD|DROP)\s+(COLUMN\s+)?(?!(CONSTRAINT|INDEX|KEY|UNIQUE|"
    r"PRIMARY|FOREIGN|CHECK|FULLTEXT|SPATIAL)\b)",
    re.IGNORECASE,
)
_ALREADY = re.compile(r"\b(ALGORITHM|LOCK)\s*=", re.IGNORECASE)


def online_form(statement: str) -> str | None:
    """The statement asking for online DDL, or None: not one we ask that of (several
    changes in one ALTER, constraints, type changes, or a form already chosen)."""
    if _ALREADY.search(statement) or ";" in statement.strip().rstrip(";"):
        return None
    body = statement.rstrip().rstrip(";")
    if _INDEX.match(body):
        return f"{body} ALGORITHM=INPLACE LOCK=NONE"
    if _COLUMN.match(body) and not _several_changes(body):
        return f"{body}, ALGORITHM=INSTANT"
    return None


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
    if arguments and arguments[0] in NOT_ONLINE:
        return str(arguments[1]) if len(arguments) > 1 else "not supported"
    return None
