"""Handwriting visitors share with the owner: opt-in, revocable, and read only for the owner's retrain.

A visitor shares their whole collection: its samples now and those they
save later, until they withdraw (`share`, `withdraw`; `collections.shared_at`
says since when). Withdrawn samples are left out of every later retrain;
networks already trained keep what they learnt. What a visitor agrees to is
`CONSENT`, shown on the page in those words.

The owner sees the shared samples as one pool (`shared_pool`), contributors
as numbers (their collection's row number, never its key, token or
account), reviews them (`set_review`: "removed" keeps a sample out of
training, "kept" keeps a flagged one in) and retrains the default on them
(`model.training.shared`). A fixed fifth of the contributors
(`held_out_contributor`) is never trained on: the retrain is judged on
their handwriting.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import func, select, update

from model.store.db import reading, transaction
from model.store.samples import ID_PATTERN, SampleError, SampleStore
from model.store.schema import collections, samples

CONSENT = (
    "Share my samples with the owner of this server: they may keep these drawings and use them to train the "
    "networks this server serves, and I dedicate them to the public domain (CC0), so that a network trained on "
    "them may be passed on."
)
REVIEWS = ("removed", "kept")
HELD_OUT_SHARE = 0.2


def shared_since(store: SampleStore) -> str | None:
    """When this collection's visitor started sharing it (UTC, ISO), or None if it is not shared."""
    with reading("read whether your samples are shared", store.url) as db:
        return db.execute(select(collections.c.shared_at).where(collections.c.key == store.key)).scalar()


def share(store: SampleStore) -> None:
    """Share this collection (made now if it has no sample yet), its later samples included."""
    from model.store.samples import collection_insert

    now = datetime.now(UTC).isoformat(timespec="seconds")
    with transaction("share your samples", store.url) as db:
        db.execute(collection_insert(db).values(key=store.key, created=now).on_conflict_do_nothing())
        db.execute(
            update(collections)
            .where(collections.c.key == store.key, collections.c.shared_at.is_(None))
            .values(shared_at=now)
        )


def withdraw(store: SampleStore) -> None:
    """Stop sharing: every sample of this collection is left out of every later retrain."""
    with transaction("withdraw your samples", store.url) as db:
        db.execute(update(collections).where(collections.c.key == store.key).values(shared_at=None))


@dataclass(frozen=True)
class SharedPool:
    """Every shared sample: images (N, 28, 28) uint8, labels (N,), contributor numbers (N,), ids, reviews."""

    images: np.ndarray
    labels: np.ndarray
    contributors: np.ndarray
    ids: list[str]
    reviews: list[str | None]

    def __len__(self) -> int:
        return len(self.labels)

    def where(self, keep: np.ndarray) -> SharedPool:
        keep = np.asarray(keep, bool)
        return SharedPool(
            self.images[keep],
            self.labels[keep],
            self.contributors[keep],
            [i for i, k in zip(self.ids, keep) if k],
            [r for r, k in zip(self.reviews, keep) if k],
        )


def shared_pool(url: str | None = None) -> SharedPool:
    """Every sample of every shared collection, oldest first."""
    with reading("read the shared samples", url) as db:
        rows = db.execute(
            select(samples.c.id, samples.c.label, samples.c.image, samples.c.collection_id, samples.c.review)
            .join(collections, collections.c.id == samples.c.collection_id)
            .where(collections.c.shared_at.is_not(None))
            .order_by(samples.c.id)
        ).all()
    images = np.frombuffer(b"".join(row.image for row in rows), np.uint8).reshape(-1, 28, 28).copy()
    return SharedPool(
        images,
        np.array([row.label for row in rows], np.uint8),
        np.array([row.collection_id for row in rows], np.int64),
        [row.id for row in rows],
        [row.review for row in rows],
    )


def contributor_counts(url: str | None = None) -> dict[int, list[int]]:
    """Contributor number → how many samples of each digit 0-9 they share (one query, no images read)."""
    counts: dict[int, list[int]] = {}
    with reading("count the shared samples", url) as db:
        rows = db.execute(
            select(samples.c.collection_id, samples.c.label, func.count())
            .join(collections, collections.c.id == samples.c.collection_id)
            .where(collections.c.shared_at.is_not(None))
            .group_by(samples.c.collection_id, samples.c.label)
        )
        for contributor, label, count in rows:
            counts.setdefault(contributor, [0] * 10)[label] = count
    return dict(sorted(counts.items()))


def set_review(sample_id: str, decision: str | None, url: str | None = None) -> None:
    """The owner's decision on a shared sample: "removed", "kept", or None to undecide. The caller checks the
    owner; a sample that is not shared is not changed."""
    if not isinstance(sample_id, str) or not ID_PATTERN.fullmatch(sample_id):
        raise SampleError(f"Not a sample id: {sample_id!r}.")
    if decision is not None and decision not in REVIEWS:
        raise SampleError(f"A review is one of {', '.join(REVIEWS)} (got {decision!r}).")
    shared = select(collections.c.id).where(collections.c.shared_at.is_not(None))
    with transaction("review the sample", url) as db:
        db.execute(
            update(samples)
            .where(samples.c.id == sample_id, samples.c.collection_id.in_(shared))
            .values(review=decision)
        )


def held_out_contributor(contributor: int) -> bool:
    """A fixed fifth of the contributors, chosen by number: never trained on, so that a retrain is judged on
    handwriting it never saw."""
    return hashlib.sha256(f"contributor {int(contributor)}".encode()).digest()[0] < 256 * HELD_OUT_SHARE


@dataclass(frozen=True)
class SharedSet:
    """What a retrain takes from the pool: the samples it trains on, and the held-out contributors' samples."""

    train_x: np.ndarray
    train_y: np.ndarray
    train_contributors: np.ndarray
    held_x: np.ndarray
    held_y: np.ndarray
    held_contributors: np.ndarray
    flagged_out: int  # flagged samples left out (the owner did not keep them)
    removed: int  # samples the owner removed
    capped_out: int  # samples past a contributor's cap


def split_pool(pool: SharedPool, reasons: list[str | None], per_contributor: int, seed: int = 0) -> SharedSet:
    """The pool as a retrain takes it: the owner's removals and the flagged samples (unless kept) out; each
    contributor's samples at most `per_contributor` (a seeded choice), so that no one counts for more; and a
    fixed fifth of the contributors (`held_out_contributor`) held out whole, to judge the retrain on."""
    removed = np.array([review == "removed" for review in pool.reviews], bool)
    flagged = np.array([reason is not None and review != "kept" for reason, review in zip(reasons, pool.reviews)])
    usable = pool.where(~removed & ~flagged)
    held = np.array([held_out_contributor(c) for c in usable.contributors], bool)
    keep = np.ones(len(usable), bool)
    rng = np.random.default_rng(seed)
    for contributor in np.unique(usable.contributors[~held]):
        theirs = np.flatnonzero((usable.contributors == contributor) & ~held)
        if len(theirs) > per_contributor:
            keep[rng.choice(theirs, len(theirs) - per_contributor, replace=False)] = False
    train = ~held & keep
    return SharedSet(
        usable.images[train],
        usable.labels[train],
        usable.contributors[train],
        usable.images[held],
        usable.labels[held],
        usable.contributors[held],
        int((flagged & ~removed).sum()),
        int(removed.sum()),
        int((~held & ~keep).sum()),
    )
