"""The bounded aggregate state kept behind one key (an entity, an IP, an e-mail, a BIN).

One class serves every key kind; a kind simply leaves the parts it does not use empty (which
costs nothing once serialised). Every part is bounded so that a hot key (a bot hammering one
account, a shared NAT address) cannot grow without limit:

=====================  ==========================================================================
part                   bound
=====================  ==========================================================================
``event_ids``          the last :data:`ID_CAP` event ids (idempotency: a redelivered event is
                       recognised if it is among them)
``times``              times of the events of the last :data:`ENTITY_HORIZON` (entity keys, at
                       most :data:`ENTITY_RECENT_CAP`) or :data:`LINK_HORIZON` (shared keys, at
                       most :data:`LINK_RECENT_CAP`); windowed counts saturate at the cap
``amounts``            the amount of each of those events (entity keys only; 0 if missing)
``probe_times``        times of small-amount events in the last hour (BIN keys only)
``seen``               per role, the last few distinct values with their last-seen time
                       (:data:`SEEN_CAPS`, least recently seen evicted); shared keys keep
                       their entities here
``since``              for the roles of :data:`SINCE_ROLES`, when each value ``seen`` remembers
                       was first seen (evicted with it)
``hours``              24 counters (events by UTC hour of day), entity keys only
``amount_stats``       Welford ``[n, mean, m2]`` of ``log1p(amount)``, then the largest amount
``categories``         per category ``[events, n, mean, m2, largest amount, last time]``:
                       Welford of ``log1p(amount)`` over purchases of at least the schema's
                       ``small_amount`` (:data:`CATEGORY_CAP` categories, the rarest evicted)
``geo``                ``[n, x, y, z, last_x, last_y, last_z, last_time]``: running sum of
                       unit vectors (the "home" direction) and the latest location
=====================  ==========================================================================

The serialised form is an orjson array; floats round-trip exactly (shortest repr), so a state
that went through SQLite or Redis yields bit-identical features to one that stayed in memory.
Format 1 (before the largest amounts, first-seen and category times were kept) is still read:
the entity's largest amount starts from the largest one still in ``amounts``, a category's
largest amount and last time as unknown (0), first-seen times as unknown.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import Any

import orjson

from fraudstream.errors import FraudstreamError

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0

ID_CAP = 64
ENTITY_HORIZON = 7 * DAY
ENTITY_RECENT_CAP = 128
LINK_HORIZON = DAY
LINK_RECENT_CAP = 256
CATEGORY_CAP = 32
#: Distinct values remembered per role. ``entity`` is used by shared keys (IP, e-mail, BIN).
SEEN_CAPS: dict[str, int] = {
    "ip": 16,
    "email": 8,
    "device": 8,
    "card_bin": 8,
    "currency": 4,
    "entity": 128,
}

#: Roles whose values also keep their first-seen time (how long the entity has known them).
SINCE_ROLES: tuple[str, ...] = ("ip", "email", "device")

_FORMAT = 2
_OLD_FORMAT = 1  # no largest amounts, no first-seen times: upgraded on reading


class StateFormatError(FraudstreamError, ValueError):
    """Stored state bytes are not a state this version can read (corrupt, or a newer format)."""


@dataclass(slots=True)
class EntityState:
    """Aggregates of every event seen so far for one key (see the module docstring)."""

    count: int = 0
    first_seen: float = 0.0
    last_seen: float = 0.0
    event_ids: dict[str, None] = field(default_factory=dict)
    times: list[float] = field(default_factory=list)
    amounts: list[float] = field(default_factory=list)
    probe_times: list[float] = field(default_factory=list)
    seen: dict[str, dict[str, float]] = field(default_factory=dict)
    since: dict[str, dict[str, float]] = field(default_factory=dict)
    hours: list[int] = field(default_factory=list)
    amount_stats: list[float] = field(default_factory=list)
    categories: dict[str, list[float]] = field(default_factory=dict)
    geo: list[float] = field(default_factory=list)

    # -- updates (called by the feature blocks; each keeps its part bounded) --------------

    def remember(self, event_id: str) -> bool:
        """Note the event id; ``False`` (and no change) if it was already noted."""
        ids = self.event_ids
        if event_id in ids:
            return False
        ids[event_id] = None
        if len(ids) > ID_CAP:
            del ids[next(iter(ids))]
        return True

    def observe(self, time: float) -> None:
        """Count one event at ``time`` (first/last seen follow event time, not arrival)."""
        if self.count == 0:
            self.first_seen = self.last_seen = time
        elif time < self.first_seen:
            self.first_seen = time
        elif time > self.last_seen:
            self.last_seen = time
        self.count += 1

    def add_recent(self, time: float, amount: float | None, horizon: float, cap: int) -> None:
        """Insert one event in time order and drop what fell out of the horizon or the cap.

        ``amount`` is ``None`` for keys that keep no amounts (``amounts`` stays empty).
        """
        times = self.times
        if not times or time >= times[-1]:
            times.append(time)
            if amount is not None:
                self.amounts.append(amount)
        else:  # a late event: keep the list sorted so windows stay bisectable
            at = bisect_right(times, time)
            times.insert(at, time)
            if amount is not None:
                self.amounts.insert(at, amount)
        if times[0] < times[-1] - horizon or len(times) > cap:
            _prune(times, self.amounts, horizon, cap)

    def add_probe(self, time: float) -> None:
        """Note a small-amount event (kept for :data:`HOUR`, at most :data:`LINK_RECENT_CAP`)."""
        probes = self.probe_times
        if not probes or time >= probes[-1]:
            probes.append(time)
        else:
            probes.insert(bisect_right(probes, time), time)
        if probes[0] < probes[-1] - HOUR or len(probes) > LINK_RECENT_CAP:
            _prune(probes, None, HOUR, LINK_RECENT_CAP)

    def touch(self, role: str, value: str, time: float) -> None:
        """Record that ``value`` was seen now (most recent last; the stalest evicted)."""
        values = self.seen.get(role)
        if values is None:
            self.seen[role] = {value: time}
            return
        previous = values.pop(value, None)
        if previous is not None and previous > time:
            time = previous  # a late event does not make the value less recent
        values[value] = time
        if len(values) > SEEN_CAPS[role]:
            del values[next(iter(values))]

    def touch_since(self, role: str, value: str, time: float) -> None:
        """:meth:`touch`, also keeping when ``value`` was first seen (for :data:`SINCE_ROLES`)."""
        values = self.seen.get(role)
        if values is None:
            self.seen[role] = {value: time}
            self.since[role] = {value: time}
            return
        previous = values.pop(value, None)
        if previous is None:  # new (or evicted and back): first seen now
            firsts = self.since.get(role)
            if firsts is None:
                firsts = self.since[role] = {}
            firsts[value] = time
        elif previous > time:  # a late event: maybe the earliest sighting, not the latest
            firsts = self.since.get(role)
            first = None if firsts is None else firsts.get(value)
            if firsts is not None and first is not None and time < first:
                firsts[value] = time
            time = previous
        values[value] = time
        if len(values) > SEEN_CAPS[role]:
            stalest = next(iter(values))
            del values[stalest]
            firsts = self.since.get(role)
            if firsts is not None:
                firsts.pop(stalest, None)

    # -- serialisation ----------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """Compact, exact serialisation (orjson array; see :meth:`from_bytes`)."""
        return orjson.dumps(
            [
                _FORMAT,
                self.count,
                self.first_seen,
                self.last_seen,
                list(self.event_ids),
                self.times,
                self.amounts,
                self.probe_times,
                self.seen,
                self.hours,
                self.since,
                self.amount_stats,
                self.categories,
                self.geo,
            ]
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> EntityState:
        """Inverse of :meth:`to_bytes`; raises :class:`StateFormatError` on anything else."""
        try:
            parts: Any = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise StateFormatError(f"feature state is not valid JSON: {exc}") from None
        version = parts[0] if isinstance(parts, list) and parts else None
        size = {_FORMAT: 14, _OLD_FORMAT: 13}.get(version) if type(version) is int else None
        if size is None or len(parts) != size:
            raise StateFormatError(f"unsupported feature state format {version!r}")
        old = version == _OLD_FORMAT
        rest = 10 if old else 11  # where amount_stats, categories and geo start
        try:
            state = cls(
                count=int(parts[1]),
                first_seen=float(parts[2]),
                last_seen=float(parts[3]),
                event_ids=dict.fromkeys(parts[4]),
                times=[float(t) for t in parts[5]],
                amounts=[float(a) for a in parts[6]],
                probe_times=[float(t) for t in parts[7]],
                seen=dict(parts[8]),
                hours=list(parts[9]),
                since={} if old else dict(parts[10]),
                amount_stats=list(parts[rest]),
                categories=dict(parts[rest + 1]),
                geo=list(parts[rest + 2]),
            )
            if old:
                if state.amount_stats:
                    state.amount_stats.append(max(state.amounts, default=0.0))
                for stats in state.categories.values():
                    stats += (0.0, 0.0)
        except (TypeError, ValueError, AttributeError) as exc:
            raise StateFormatError(f"malformed feature state: {exc}") from None
        return state


def _prune(times: list[float], amounts: list[float] | None, horizon: float, cap: int) -> None:
    """Drop the oldest entries: those before ``newest - horizon``, and beyond ``cap``."""
    cut = bisect_left(times, times[-1] - horizon)
    over = len(times) - cap
    if over > cut:
        cut = over
    if cut > 0:
        del times[:cut]
        if amounts:
            del amounts[:cut]


def count_recent(values: dict[str, float], start: float) -> int:
    """How many values of an LRU ``seen`` map were last seen at or after ``start``.

    The map is ordered from least to most recently seen, so: everything if the stalest is
    recent enough (the common case, O(1)), else walk back from the most recent until one is
    older. Exact for time-ordered streams; a late event is ordered by arrival, which at worst
    makes the count stop a little early (or include a value seen after the late event).
    """
    if next(iter(values.values())) >= start:
        return len(values)
    found = 0
    for last in reversed(values.values()):
        if last < start:
            break
        found += 1
    return found


def count_recent_2(
    values: dict[str, float], start_short: float, start_long: float
) -> tuple[int, int]:
    """:func:`count_recent` for two starts (``start_short >= start_long``) in one walk."""
    if next(iter(values.values())) >= start_short:
        return len(values), len(values)
    short = long = 0
    for last in reversed(values.values()):
        if last < start_long:
            break
        long += 1
        if last >= start_short:
            short += 1
    return short, long
