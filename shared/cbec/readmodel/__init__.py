"""Query-side tables of a declaration service (SQLAlchemy 2, Postgres or SQLite), fed by a projection."""

from cbec.readmodel.cursor import BadCursor
from cbec.readmodel.projection import Projection, StoreSource
from cbec.readmodel.tables import DocumentRow, Page, ReadModel

__all__ = ["BadCursor", "DocumentRow", "Page", "Projection", "ReadModel", "StoreSource"]
