"""Every column type and schema feature that must round-trip without phantom differences."""

import enum
import uuid
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
    Uuid,
    false,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from project.db import Model


class Size(enum.Enum):
    small = "small"
    large = "large"


class Sample(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    big: Mapped[int] = mapped_column(BigInteger)
    little: Mapped[int | None] = mapped_column(SmallInteger)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    title: Mapped[str] = mapped_column(String(100), server_default="untitled", index=True)
    body: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, server_default=false())
    born: Mapped[date | None] = mapped_column(Date)
    seen_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    opens: Mapped[time | None] = mapped_column(Time)
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2), server_default="0")
    ratio: Mapped[float | None] = mapped_column(Float)
    size: Mapped[Size] = mapped_column(Enum(Size, name="sample_size"), server_default="small")
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    token: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    blob: Mapped[bytes | None] = mapped_column(LargeBinary)
    quantity: Mapped[int] = mapped_column(Integer, server_default=text("0"))

    __table_args__ = (
        UniqueConstraint("big", "little"),
        CheckConstraint("quantity >= 0"),
    )


class SampleChild(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(
        ForeignKey("alltypes_sample.id", ondelete="CASCADE"), index=True
    )
