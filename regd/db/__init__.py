"""Metadata in SQL: SQLite (WAL) by default, PostgreSQL for several replicas."""

from regd.db.engine import Database, connect
from regd.db.migrate import upgrade

__all__ = ["Database", "connect", "upgrade"]
