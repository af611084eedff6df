"""The tables, in SQLAlchemy Core: what the queries are written against (Alembic creates them).

- `collections`: one per visitor's collection, named by a key made in
  `model.store.collection` (never by what a visitor typed); it keeps its
  number of samples and their bytes, so that a save checks the quota in the
  same transaction as its insert, at the same cost however full it is, and
  since when its visitor shares it with the owner (`model.store.sharing`).
- `samples`: one row per sample: the 28×28 image the network was given (784
  bytes), its label, the canvas's strokes (JSON text) and when it was made.
- `rate_events`: one row per limited action (a save, an import, a password
  tried), so that every replica counts the same ones.
- `default_networks`: the defaults the owner saved: the page's weights and
  the card in one row, the current one marked; the rest are the history a
  rollback goes back to.
- `settings`: one-off facts, e.g. that the folder store was imported.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    false,
)

metadata = MetaData()

collections = Table(
    "collections",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(80), nullable=False, unique=True),
    Column("samples", Integer, nullable=False, server_default="0"),
    Column("bytes", Integer, nullable=False, server_default="0"),
    Column("created", String(32), nullable=False),
    Column("shared_at", String(32), nullable=True),  # shared with the owner since then; NULL: not shared
    Index("collections_shared", "shared_at"),
)

samples = Table(
    "samples",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("collection_id", Integer, ForeignKey("collections.id", ondelete="CASCADE"), nullable=False),
    Column("label", SmallInteger, nullable=False),
    Column("image", LargeBinary, nullable=False),
    Column("strokes", Text, nullable=True),
    Column("created", String(32), nullable=False),
    Column("bytes", Integer, nullable=False),
    Column("digest", String(32), nullable=False),
    Column("review", String(8), nullable=True),  # the owner's decision on a shared sample: "removed" or "kept"
    Index("samples_by_collection", "collection_id", "id"),
)

rate_events = Table(
    "rate_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scope", String(160), nullable=False),
    Column("at", Float, nullable=False),
    Index("rate_events_by_scope", "scope", "at"),
)

default_networks = Table(
    "default_networks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("keras", LargeBinary, nullable=True),  # rows saved before 0002 only
    Column("weights", LargeBinary, nullable=False),
    Column("card", Text, nullable=False),
    Column("current", Boolean, nullable=False, server_default=false()),
)

settings = Table(
    "settings",
    metadata,
    Column("key", String(80), primary_key=True),
    Column("value", Text, nullable=False),
)
