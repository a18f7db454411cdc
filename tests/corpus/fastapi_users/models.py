# Transcribed from fastapi-users-db-sqlalchemy (MIT),
# https://github.com/fastapi-users/fastapi-users-db-sqlalchemy
#   fastapi_users_db_sqlalchemy/__init__.py      @ efdc46995b7803551bc6ff0dcb8f7ef4eb6ece2c (4.0.5)
#   fastapi_users_db_sqlalchemy/access_token.py  @ efdc46995b7803551bc6ff0dcb8f7ef4eb6ece2c
#   fastapi_users_db_sqlalchemy/generics.py      @ a3f265761f2d5931f0448cfdb12427bdb9134482
# The library ships mixins; the concrete tables are declared the way the FastAPI Users docs do
# (MIT, https://github.com/fastapi-users/fastapi-users, docs/src/db_sqlalchemy_oauth.py
# @ 43c73cdbcb4cf5f34ec05da9b3524142a3fa17a6, plus the AccessToken table of the database
# strategy docs).
# Only the schema is kept: the SQLAlchemyUserDatabase / SQLAlchemyAccessTokenDatabase adapters
# and the relationships are left out.
import uuid
from datetime import datetime, timezone
from typing import Generic, Optional, TypeVar

from sqlalchemy import CHAR, TIMESTAMP, Boolean, ForeignKey, Integer, String, TypeDecorator
from sqlalchemy.dialects.postgresql import UUID
# adapted: the docs import DeclarativeMeta and declarative_base from sqlalchemy.ext.declarative,
# their deprecated (SQLAlchemy 2.0) location; the same objects come from sqlalchemy.orm here.
from sqlalchemy.orm import DeclarativeMeta, Mapped, declarative_base, declared_attr, mapped_column

# adapted: fastapi_users.models.ID is this TypeVar.
ID = TypeVar("ID")

# ---------------------------------------------------------------------------------------------
# fastapi_users_db_sqlalchemy/generics.py
# ---------------------------------------------------------------------------------------------


class GUID(TypeDecorator):  # pragma: no cover
    """
    Platform-independent GUID type.

    Uses PostgreSQL's UUID type, otherwise uses
    CHAR(36), storing as regular strings.
    """

    class UUIDChar(CHAR):
        # adapted: the original is pydantic's UUID4; the standard library's uuid.UUID here.
        python_type = uuid.UUID  # type: ignore

    impl = UUIDChar
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(UUID())
        else:
            return dialect.type_descriptor(CHAR(36))

    def process_bind_param(self, value, dialect):
        if value is None:
            return value
        elif dialect.name == "postgresql":
            return str(value)
        else:
            if not isinstance(value, uuid.UUID):
                return str(uuid.UUID(value))
            else:
                return str(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return value
        else:
            if not isinstance(value, uuid.UUID):
                value = uuid.UUID(value)
            return value


def now_utc():
    return datetime.now(timezone.utc)


class TIMESTAMPAware(TypeDecorator):  # pragma: no cover
    """
    MySQL and SQLite will always return naive-Python datetimes.

    We store everything as UTC, but we want to have
    only offset-aware Python datetimes, even with MySQL and SQLite.
    """

    impl = TIMESTAMP
    cache_ok = True

    def process_result_value(self, value: datetime, dialect):
        if dialect.name != "postgresql":
            return value.replace(tzinfo=timezone.utc)
        return value


# ---------------------------------------------------------------------------------------------
# fastapi_users_db_sqlalchemy/__init__.py
# (the originals wrap these attributes in `if TYPE_CHECKING: ... else:`; only the runtime
# branch is kept)
# ---------------------------------------------------------------------------------------------

UUID_ID = uuid.UUID


class SQLAlchemyBaseUserTable(Generic[ID]):
    """Base SQLAlchemy users table definition."""

    __tablename__ = "user"

    email: Mapped[str] = mapped_column(
        String(length=320), unique=True, index=True, nullable=False
    )
    hashed_password: Mapped[str] = mapped_column(
        String(length=1024), nullable=False
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    is_superuser: Mapped[bool] = mapped_column(
        Boolean, default=False, nullable=False
    )
    is_verified: Mapped[bool] = mapped_column(
        Boolean, default=False, nullable=False
    )


class SQLAlchemyBaseUserTableUUID(SQLAlchemyBaseUserTable[UUID_ID]):
    id: Mapped[UUID_ID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)


class SQLAlchemyBaseOAuthAccountTable(Generic[ID]):
    """Base SQLAlchemy OAuth account table definition."""

    __tablename__ = "oauth_account"

    oauth_name: Mapped[str] = mapped_column(
        String(length=100), index=True, nullable=False
    )
    access_token: Mapped[str] = mapped_column(String(length=1024), nullable=False)
    expires_at: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    refresh_token: Mapped[Optional[str]] = mapped_column(
        String(length=1024), nullable=True
    )
    account_id: Mapped[str] = mapped_column(
        String(length=320), index=True, nullable=False
    )
    account_email: Mapped[str] = mapped_column(String(length=320), nullable=False)


class SQLAlchemyBaseOAuthAccountTableUUID(SQLAlchemyBaseOAuthAccountTable[UUID_ID]):
    id: Mapped[UUID_ID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)

    @declared_attr
    def user_id(cls) -> Mapped[GUID]:
        return mapped_column(
            GUID, ForeignKey("user.id", ondelete="cascade"), nullable=False
        )


# ---------------------------------------------------------------------------------------------
# fastapi_users_db_sqlalchemy/access_token.py
# ---------------------------------------------------------------------------------------------


class SQLAlchemyBaseAccessTokenTable(Generic[ID]):
    """Base SQLAlchemy access token table definition."""

    __tablename__ = "accesstoken"

    token: Mapped[str] = mapped_column(String(length=43), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        TIMESTAMPAware(timezone=True), index=True, nullable=False, default=now_utc
    )


class SQLAlchemyBaseAccessTokenTableUUID(SQLAlchemyBaseAccessTokenTable[uuid.UUID]):
    @declared_attr
    def user_id(cls) -> Mapped[GUID]:
        return mapped_column(
            GUID, ForeignKey("user.id", ondelete="cascade"), nullable=False
        )


# ---------------------------------------------------------------------------------------------
# The application's tables, as in the FastAPI Users docs.
# ---------------------------------------------------------------------------------------------

Base: DeclarativeMeta = declarative_base()


class OAuthAccount(SQLAlchemyBaseOAuthAccountTableUUID, Base):
    pass


class User(SQLAlchemyBaseUserTableUUID, Base):
    pass


class AccessToken(SQLAlchemyBaseAccessTokenTableUUID, Base):
    pass
