"""The notifier: a loop of its own that reads alarms from the database, makes the
messages the routing file asks for, and delivers what is due.

It never touches the collector: it runs as ``pvmon notify`` (its own process) or as a task
beside ``pvmon collect``, reads the ``alarms`` table and writes only the notification log.
Database work and apprise's blocking sends run on a thread pool of its own, each send
bounded by the per-send timeout, different messages in parallel, so a receiver that hangs
delays nothing but its own message. A failed delivery is tried again after
``retry_base_s``, doubling, at most ``max_attempts`` times (counted in
``pvmon_notifications_total`` and in the log's ``attempts``/``last_error``, masked).
Time comes from ``clock``, so every decision can be replayed at a chosen instant.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import psycopg
from prometheus_client import CollectorRegistry, Counter

from collectors.notify import store
from collectors.notify.deliver import DeliveryError, send
from collectors.notify.plan import CHINA, plan_alarms, plan_digest
from collectors.notify.routes import Routes
from pvmon.db.connect import open_database
from pvmon.errors import DatabaseError, PvmonError

__all__ = ["Limits", "Notifier", "TickResult", "utc_now"]

_log = logging.getLogger(__name__)
T = TypeVar("T")


def utc_now() -> datetime:
    """The wall clock [UTC]."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Limits:
    """The notifier's settings: per-send timeout [s], attempts, first retry wait [s],
    how far back closed alarms are looked at [s]."""

    send_timeout_s: float = 10.0
    max_attempts: int = 6
    retry_base_s: float = 30.0
    lookback_s: int = 2 * 86400


@dataclass(frozen=True)
class TickResult:
    """What one look did: messages made, delivered, to be tried again, given up."""

    made: int
    sent: int
    retrying: int
    failed: int


class Notifier:
    """Plans and delivers alarm notifications for ``routes`` on the database at ``url``."""

    def __init__(
        self,
        *,
        url: str,
        routes: Routes,
        limits: Limits,
        clock: Callable[[], datetime] = utc_now,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.url, self.routes, self.limits, self.clock = url, routes, limits, clock
        self.registry = registry or CollectorRegistry()
        self.deliveries = Counter(
            "pvmon_notifications",
            "Notification delivery attempts by channel and outcome (sent, retry, failed)",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self._pool = ThreadPoolExecutor(
            max_workers=max(4, 2 * len(routes.channels)), thread_name_prefix="pvmon-notify"
        )

    async def _thread(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, partial(fn, *args, **kwargs)
        )

    def _plan(self, now: datetime) -> tuple[int, list[store.Pending]]:
        try:
            with open_database(self.url) as conn:
                store.lock(conn)
                since = now - timedelta(seconds=self.limits.lookback_s)
                facts = store.alarm_facts(conn, now=now, since=since)
                told = store.told(conn, [a.id for a in facts])
                made = plan_alarms(now=now, routes=self.routes, alarms=facts, told=told)
                day = now.astimezone(CHINA).date()
                made += plan_digest(
                    now=now,
                    digest=self.routes.digest,
                    open_alarms=facts,
                    sent_days=store.digest_days(conn, day),
                )
                store.record(conn, made, now=now)
                return len(made), store.pending(conn, now=now)
        except psycopg.Error as exc:
            raise DatabaseError(f"notifier: the database failed ({type(exc).__name__})") from exc

    def _record(self, outcomes: list[tuple[store.Pending, str | None]], now: datetime) -> None:
        try:
            with open_database(self.url) as conn:
                for message, error in outcomes:
                    attempt = message.attempts + 1
                    retry = error is not None and attempt < self.limits.max_attempts
                    wait = timedelta(seconds=self.limits.retry_base_s * 2 ** (attempt - 1))
                    store.record_attempt(
                        conn,
                        notification_id=message.id,
                        at=now,
                        error=error,
                        next_attempt_at=now + wait if retry else None,
                    )
        except psycopg.Error as exc:
            raise DatabaseError(f"notifier: the database failed ({type(exc).__name__})") from exc

    async def _deliver(self, message: store.Pending) -> str | None:
        """None when delivered, else why not (masked)."""
        url = self.routes.channels[message.channel]
        timeout = self.limits.send_timeout_s
        try:
            await asyncio.wait_for(
                self._thread(send, url, title=message.title, body=message.body, timeout_s=timeout),
                timeout=timeout * 2,
            )
            return None
        except TimeoutError:
            return f"no answer within {timeout:g} s"
        except DeliveryError as exc:
            return self.routes.mask(str(exc))[:500]

    async def tick(self) -> TickResult:
        """One look at ``clock()``: make the messages due, deliver what is pending."""
        now = self.clock()
        made, due = await self._thread(self._plan, now)
        due = [m for m in due if m.channel in self.routes.channels]
        errors = await asyncio.gather(*(self._deliver(m) for m in due))
        outcomes = list(zip(due, errors, strict=True))
        await self._thread(self._record, outcomes, self.clock())
        sent = retrying = failed = 0
        for message, error in outcomes:
            if error is None:
                sent += 1
                outcome = "sent"
            elif message.attempts + 1 < self.limits.max_attempts:
                retrying += 1
                outcome = "retry"
                _log.warning("notification %d to %s: %s", message.id, message.channel, error)
            else:
                failed += 1
                outcome = "failed"
                _log.error(
                    "notification %d to %s given up after %d attempts: %s",
                    message.id,
                    message.channel,
                    message.attempts + 1,
                    error,
                )
            self.deliveries.labels(message.channel, outcome).inc()
        return TickResult(made=made, sent=sent, retrying=retrying, failed=failed)

    async def run(self, *, interval_s: float, stop: asyncio.Event | None = None) -> None:
        """Look every ``interval_s`` [s] until ``stop`` is set; a database that is down is
        logged and tried again at the next look."""
        stop = stop or asyncio.Event()
        try:
            while not stop.is_set():
                try:
                    await self.tick()
                except PvmonError as exc:
                    _log.warning("notifier: %s", self.routes.mask(str(exc)))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=interval_s)
        finally:
            self.close()

    def close(self) -> None:
        """Release the thread pool (a send still hanging ends by its own timeout)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
