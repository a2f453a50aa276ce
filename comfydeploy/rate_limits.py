"""Per-API-key rate limits: fixed windows counted in Redis, checked in the same round trip as the key.

`RATE_LIMIT` applies to every API-key request, `RUN_RATE_LIMIT` in addition to POST /api/run. Limits
are read from the config on each request (so they can change without a restart) and counted per key
id, shared by every process through Redis. Machine callbacks and pages carry no API key and are never
counted. Over a limit: 429 with Retry-After; every counted response carries X-RateLimit-* headers."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from flask import current_app, request

RATE_KEY = "cd:rl:"
UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
LIMIT_SYNTAX = re.compile(r"^\s*(\d+)\s*(?:/|per)\s*(\d+)?\s*(second|minute|hour|day)s?\s*$", re.IGNORECASE)
# Extra limits by (method, endpoint), on top of RATE_LIMIT; values name a config key.
EXTRA_LIMITS = {("POST", "runs.RunResource"): ("run", "RUN_RATE_LIMIT")}


@dataclass(frozen=True)
class Limit:
    """At most `count` requests per window of `seconds`."""

    count: int
    seconds: int
    text: str


@lru_cache(maxsize=64)
def parse_limit(text: str) -> Limit:
    """'1200/minute', '10 per second', '100/5 minutes' -> Limit; ValueError says what is accepted."""
    match = LIMIT_SYNTAX.match(text or "")
    if not match or int(match.group(1)) < 1:
        raise ValueError(f"Rate limit {text!r} is not of the form '<count>/<unit>' or '<count> per <n> <unit>s' "
                         f"with unit second, minute, hour or day (e.g. '1200/minute')")
    amount = int(match.group(2) or 1)
    return Limit(int(match.group(1)), amount * UNITS[match.group(3).lower()], text)


def validate_limits(config: dict) -> None:
    """Fail at startup, not on the first request, when a configured limit does not parse."""
    for key in ("RATE_LIMIT", "RUN_RATE_LIMIT"):
        parse_limit(config[key])


def limits_for_request() -> list[tuple[str, Limit]]:
    """The limits this request counts against: the default one, plus its endpoint's own if any."""
    config = current_app.config
    limits = [("api", parse_limit(config["RATE_LIMIT"]))]
    extra = EXTRA_LIMITS.get((request.method, request.endpoint))
    if extra is not None:
        limits.append((extra[0], parse_limit(config[extra[1]])))
    return limits


def counter_keys(key_id: str, limits: list[tuple[str, Limit]], now: float) -> list[tuple[str, int]]:
    """(Redis key of each limit's current window, its lifetime in seconds): INCR each, EXPIRE it."""
    return [(f"{RATE_KEY}{name}:{key_id}:{int(now // limit.seconds)}", limit.seconds + 1) for name, limit in limits]


@dataclass(frozen=True)
class LimitState:
    """The outcome for the tightest of a request's limits."""

    limit: Limit
    used: int
    reset_at: int

    @property
    def exceeded(self) -> bool:
        return self.used > self.limit.count

    def headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.limit.count),
                "X-RateLimit-Remaining": str(max(0, self.limit.count - self.used)),
                "X-RateLimit-Reset": str(self.reset_at)}

    def retry_after(self, now: float) -> int:
        return max(1, int(self.reset_at - now + 0.999))


def evaluate(limits: list[tuple[str, Limit]], counts: list[int], now: float) -> LimitState:
    """From the counts: the exceeded limit if any, else the one with the fewest requests left."""
    states = []
    for (_, limit), used in zip(limits, counts):
        reset_at = (int(now // limit.seconds) + 1) * limit.seconds
        states.append(LimitState(limit, int(used), reset_at))
    exceeded = [s for s in states if s.exceeded]
    if exceeded:
        return max(exceeded, key=lambda s: s.reset_at)
    return min(states, key=lambda s: s.limit.count - s.used)
