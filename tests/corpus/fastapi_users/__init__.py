"""FastAPI Users SQLAlchemy adapter tables -- https://github.com/fastapi-users/fastapi-users-db-sqlalchemy -- MIT."""
