"""PostgreSQL-only model features, on the project's own declarative base."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, Sequence, String, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Document(Base):
    __tablename__ = "pg_document"
    __table_args__ = (
        Index("ix_pg_document_data", "data", postgresql_using="gin"),
        Index("ix_pg_document_title_lower", func.lower(text("title"))),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID, primary_key=True, server_default=func.gen_random_uuid()
    )
    title: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))


class Revision(Base):
    """In a schema of its own, pointing back at the default one, checked at commit."""

    __tablename__ = "pg_revision"
    __table_args__ = ({"schema": "archive", "comment": "old versions"},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("pg_document.id", deferrable=True, initially="DEFERRED", ondelete="CASCADE")
    )
    number: Mapped[int] = mapped_column(server_default=text("1"))


# SQLAlchemy's documented way to have the database fill a column from a sequence.
note_number = Sequence("pg_note_number_seq", metadata=Base.metadata, schema="archive", start=10)


class Note(Base):
    __tablename__ = "pg_note"
    __table_args__ = ({"schema": "archive"},)

    id: Mapped[int] = mapped_column(primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("archive.pg_revision.id"))
    number: Mapped[int] = mapped_column(server_default=note_number.next_value())
