"""The persisted state of the control plane (SQLAlchemy 2; SQLite by default, PostgreSQL too)."""

from turnout.store.migrate import SchemaTooNew
from turnout.store.repository import Store

__all__ = ["SchemaTooNew", "Store"]
