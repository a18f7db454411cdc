"""Kept for app commands written against the old flat layout (`from project.database import
session`, as the example app's command once did): use `from project import session`."""

from project.backends.connections import session

__all__ = ["session"]
