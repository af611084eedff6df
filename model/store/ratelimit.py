"""A sliding-window rate limit: at most `count` actions in any `seconds`.

Kept per visitor session (saves of samples, imports), so that one visitor
cannot fill the disk or the server's time however fast their browser sends.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class RateLimit:
    count: int
    seconds: float
    times: list[float] = field(default_factory=list)

    def allow(self, now: float | None = None) -> bool:
        """Count one action and return True, or return False (and count nothing) if over the limit."""
        now = time.monotonic() if now is None else now
        self.times = [t for t in self.times if now - t < self.seconds]
        if len(self.times) >= self.count:
            return False
        self.times.append(now)
        return True

    def wait(self, now: float | None = None) -> float:
        """Seconds until one more action is allowed."""
        now = time.monotonic() if now is None else now
        recent = [t for t in self.times if now - t < self.seconds]
        return 0.0 if len(recent) < self.count else self.seconds - (now - recent[0])
