"""project.backends.online_ddl: which MySQL/MariaDB statements migrate asks to run online."""

from __future__ import annotations

import pytest

from project.backends.online_ddl import as_written, online_form, online_forms, refused_online


@pytest.mark.parametrize(
    ("statement", "online"),
    [
        ("CREATE INDEX ix_a ON t (a)", "CREATE INDEX ix_a ON t (a) ALGORITHM=INPLACE LOCK=NONE"),
        (
            "CREATE UNIQUE INDEX uq ON t (a, b)",
            "CREATE UNIQUE INDEX uq ON t (a, b) ALGORITHM=INPLACE LOCK=NONE",
        ),
        (
            "ALTER TABLE t ADD COLUMN c INTEGER DEFAULT '1,2'",
            "ALTER TABLE t ADD COLUMN c INTEGER DEFAULT '1,2', ALGORITHM=INSTANT",
        ),
        ("ALTER TABLE t DROP COLUMN c", "ALTER TABLE t DROP COLUMN c, ALGORITHM=INSTANT"),
        (
            "ALTER TABLE t ADD c NUMERIC(10, 2)",
            "ALTER TABLE t ADD c NUMERIC(10, 2), ALGORITHM=INSTANT",
        ),
        # Not ours to ask: constraints, type changes, several changes, a form already chosen.
        ("ALTER TABLE t ADD CONSTRAINT uq UNIQUE (a)", None),
        ("ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES o (id)", None),
        ("ALTER TABLE t MODIFY a VARCHAR(5)", None),
        ("ALTER TABLE t ADD COLUMN a INT, ADD COLUMN b INT", None),
        ("CREATE INDEX ix ON t (a) LOCK=SHARED", None),
        ("DROP INDEX ix_a ON t", None),
        ("CREATE FULLTEXT INDEX ft ON t (b)", None),
        ("INSERT INTO t VALUES (1)", None),
    ],
)
def test_online_form(statement: str, online: str | None) -> None:
    assert online_form(statement) == online


def test_a_refusal_is_told_from_other_errors() -> None:
    class Error(Exception):
        pass

    refusal = Error(1846, "LOCK=NONE is not supported. Reason: COPY. Try LOCK=SHARED")
    assert refused_online(refusal) == "LOCK=NONE is not supported. Reason: COPY. Try LOCK=SHARED"
    assert refused_online(Error(1064, "syntax")) is None


def test_a_column_is_asked_instant_then_inplace_and_the_form_comes_off_again() -> None:
    statement = "ALTER TABLE t ADD COLUMN c INTEGER"
    forms = online_forms(statement)
    assert forms == [
        "ALTER TABLE t ADD COLUMN c INTEGER, ALGORITHM=INSTANT",
        "ALTER TABLE t ADD COLUMN c INTEGER, ALGORITHM=INPLACE, LOCK=NONE",
    ]
    assert {as_written(form) for form in forms} == {statement}
    assert as_written("CREATE INDEX ix ON t (a) ALGORITHM=INPLACE LOCK=NONE") == (
        "CREATE INDEX ix ON t (a)"
    )


def test_an_old_server_that_knows_no_algorithm_counts_as_a_refusal() -> None:
    class Error(Exception):
        def __init__(self, statement: str) -> None:
            super().__init__()
            self.statement = statement
            self.orig = Exception(1064, "You have an error in your SQL syntax")

    assert refused_online(Error("ALTER TABLE t DROP COLUMN c, ALGORITHM=INSTANT")) is not None
    assert refused_online(Error("ALTER TABLE t DROP COLUMN c")) is None  # the user's own error
