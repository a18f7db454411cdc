from datetime import date

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from project.db import Model


class Pet(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    species: Mapped[str | None] = mapped_column(String(50))
    name: Mapped[str | None] = mapped_column(String(50))
    birthdate: Mapped[date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(10))
    condition: Mapped[str | None] = mapped_column(String(50))
    owner_id: Mapped[int] = mapped_column(
        ForeignKey("owners_owner.id", ondelete="CASCADE"), index=True
    )
