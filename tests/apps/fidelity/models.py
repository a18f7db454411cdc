"""Models on the project's own DeclarativeBase (no naming convention) and plain Tables on a
second MetaData (SQLAlchemy's documented naming convention): what `create_all` makes must be
what `migrate` makes, on every database."""

from __future__ import annotations

import enum
from datetime import datetime

from apps.fidelity.types import GUID, Money, Point, Tiny
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Sequence,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
    true,
)
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Color(enum.Enum):
    red = "red"
    blue = "blue"


class Ticket(Base):
    __tablename__ = "fid_ticket"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, Identity(start=1000, increment=10))


class Invoice(Base):
    __tablename__ = "fid_invoice"

    id: Mapped[int] = mapped_column(
        Integer, Sequence("fid_invoice_id_seq", start=100), primary_key=True
    )
    serial: Mapped[int] = mapped_column(
        BigInteger, autoincrement=False, unique=True, comment="from the paper ledger"
    )
    total = mapped_column(Money(12))


class Sample(Base):
    __tablename__ = "fid_sample"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="fid_sample_amount_positive"),
        CheckConstraint("length(label) > 0"),
        Index("ix_fid_sample_label", "label", mysql_length=10),
        Index("ix_fid_sample_id_unique", "id", unique=True),
        Index("ix_fid_sample_doubled", "doubled"),
        {"comment": "one of every type", "mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"},
    )

    id: Mapped[int] = mapped_column(primary_key=True, unique=True)
    guid = mapped_column(GUID())
    where = mapped_column(Point())
    tiny = mapped_column(Tiny())
    digest = mapped_column(LargeBinary(16).with_variant(mysql.BINARY(16), "mysql", "mariadb"))
    body = mapped_column(Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb"))
    data = mapped_column(JSON().with_variant(postgresql.JSONB(), "postgresql"))
    flag = mapped_column(Boolean(create_constraint=True), server_default=true())
    color = mapped_column(Enum(Color, native_enum=False, create_constraint=True, length=10))
    ratio = mapped_column(Float(precision=53))
    amount: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    doubled = mapped_column(Integer, Computed("amount * 2", persisted=True))
    label: Mapped[str] = mapped_column(String(200), server_default=text("'new'"), comment="shown")
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class Code(Base):
    """A primary key that may be NULL on SQLite, as create_all makes it."""

    __tablename__ = "fid_code"
    __table_args__ = ({"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"},)

    code = mapped_column(String(10), primary_key=True, nullable=True)


class Shelf(Base):
    __tablename__ = "fid_shelf"
    __table_args__ = (UniqueConstraint("room", "position"),)

    room: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)


class Book(Base):
    __tablename__ = "fid_book"
    __table_args__ = (
        ForeignKeyConstraint(
            ["room", "position"],
            ["fid_shelf.room", "fid_shelf.position"],
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        Index(
            "ix_fid_book_partial",
            "room",
            postgresql_where=text("room > 0"),
            sqlite_where=text("room > 0"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    room: Mapped[int | None]
    position: Mapped[int | None]
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("fid_ticket.id", ondelete="SET NULL", onupdate="CASCADE")
    )


# Plain tables on a second MetaData, with SQLAlchemy's documented naming convention.
events = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

event = Table(
    "fid_event",
    events,
    Column("id", Integer, primary_key=True),
    Column("kind", String(20), nullable=False, index=True),
    Column("done", Boolean(create_constraint=True, name="done"), nullable=False),
    Column("happened_at", DateTime(timezone=True), server_default=func.now()),
    CheckConstraint("length(kind) > 1", name="kind_length"),
)

event_tag = Table(
    "fid_event_tag",
    events,
    Column("event_id", ForeignKey("fid_event.id", ondelete="CASCADE"), primary_key=True),
    Column("tag", String(30), primary_key=True),
)
