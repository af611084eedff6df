"""A sliding-window rate limit every server shares: at most `count` actions in any `seconds`, per scope.

Each allowed action is a row in `rate_events`, so replicas of the app (and a
visitor's several tabs) count the same ones. The scope says whose actions
they are: a collection's saves and imports, the admin password's tries from
one address. Counting and recording happen in one transaction that holds a
lock on the scope (SQLite's write lock, or a PostgreSQL advisory lock), so
two servers cannot both take the last allowed action. Rows older than a day
go at any scope's next action, so scopes that never come back (an address
that tried a password once) do not pile up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select

from model.store.db import one_at_a_time, transaction
from model.store.schema import rate_events

KEPT_S = 24 * 3600  # no limit looks further back than this


@dataclass(frozen=True)
class RateLimit:
    count: int
    seconds: float

    def __post_init__(self):
        if not (self.count >= 1 and 0 < self.seconds <= KEPT_S):
            raise ValueError(f"A rate limit needs count >= 1 and a window of 0 to {KEPT_S} s.")

    def allow(self, scope: str, url: str | None = None, now: float | None = None) -> bool:
        """Count one action in `scope` and return True, or return False (and count nothing) if over the limit."""
        now = time.time() if now is None else now
        with transaction("check the rate limit", url) as db:
            one_at_a_time(db, f"rate limit {scope}")
            db.execute(delete(rate_events).where(rate_events.c.scope == scope, rate_events.c.at <= now - self.seconds))
            db.execute(delete(rate_events).where(rate_events.c.at <= now - KEPT_S))  # every scope's
            recent = db.execute(select(func.count()).where(rate_events.c.scope == scope)).scalar()
            if recent >= self.count:
                return False
            db.execute(insert(rate_events).values(scope=scope, at=now))
            return True

    def wait(self, scope: str, url: str | None = None, now: float | None = None) -> float:
        """Seconds until one more action is allowed in `scope`."""
        from model.store.db import reading

        now = time.time() if now is None else now
        with reading("check the rate limit", url) as db:
            times = sorted(
                db.execute(
                    select(rate_events.c.at).where(rate_events.c.scope == scope, rate_events.c.at > now - self.seconds)
                ).scalars()
            )
        return 0.0 if len(times) < self.count else self.seconds - (now - times[-self.count])
