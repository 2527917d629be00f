"""Fresh: kept for max_age_s, then answered while renewed in the background; one
computation for many waiting requests; failures neither kept nor hidden for long."""

from __future__ import annotations

import threading

import pytest

from pvmon.api.fresh import Fresh


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Source:
    """Counts computations; each returns the next number, or raises when told to."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail = False
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self) -> int:
        self.gate.wait(10)
        self.calls += 1
        if self.fail:
            raise RuntimeError("database went away")
        return self.calls


def _renewed(fresh: Fresh[int], key: str) -> None:
    """Wait until no background renewal of ``key`` is running."""
    for _ in range(1000):
        entry = fresh._entries.get(key)
        if entry is None or not entry.renewing:
            return
        threading.Event().wait(0.01)
    raise AssertionError("renewal never finished")


@pytest.mark.parametrize(
    ("age", "answer", "calls"),
    [
        (0.0, 1, 1),  # just computed
        (60.0, 1, 1),  # at max age: kept
        (60.5, 1, 2),  # older: the kept value at once, renewed behind it
        (600.0, 1, 2),  # at the stale limit: still answered while renewed
        (600.5, 2, 2),  # beyond it: computed for the request
    ],
)
def test_age_decides_between_kept_renewed_and_computed(age: float, answer: int, calls: int) -> None:
    clock, source = _Clock(), _Source()
    fresh: Fresh[int] = Fresh(max_age_s=60, clock=clock)
    assert fresh.get("LY", source) == 1
    clock.now = age
    assert fresh.get("LY", source) == answer
    _renewed(fresh, "LY")
    assert source.calls == calls


def test_a_renewed_value_is_answered_next_and_keys_are_apart() -> None:
    clock, source = _Clock(), _Source()
    fresh: Fresh[int] = Fresh(max_age_s=60, clock=clock)
    assert fresh.get("LY", source) == 1
    assert fresh.get("XX", source) == 2  # another county: its own value
    clock.now = 61
    assert fresh.get("LY", source) == 1  # kept, while renewed
    _renewed(fresh, "LY")
    assert fresh.get("LY", source) == 3
    assert fresh.get("XX", source) == 2  # kept; now being renewed


def test_renewal_uses_its_own_source() -> None:
    clock, source, background = _Clock(), _Source(), _Source()
    fresh: Fresh[int] = Fresh(max_age_s=60, clock=clock)
    fresh.get("LY", source)
    clock.now = 61
    fresh.get("LY", source, renew=background)
    _renewed(fresh, "LY")
    assert (source.calls, background.calls) == (1, 1)


def test_many_waiting_requests_share_one_computation() -> None:
    source = _Source()
    source.gate.clear()  # the first computation waits until every request has asked
    fresh: Fresh[int] = Fresh(max_age_s=60)
    answers: list[int] = []
    threads = [threading.Thread(target=lambda: answers.append(fresh.get("LY", source)))]
    threads += [
        threading.Thread(target=lambda: answers.append(fresh.get("LY", source))) for _ in range(9)
    ]
    for t in threads:
        t.start()
    for _ in range(1000):  # every request is waiting on the one entry
        if "LY" in fresh._entries:
            break
        threading.Event().wait(0.01)
    source.gate.set()
    for t in threads:
        t.join(10)
    assert answers == [1] * 10
    assert source.calls == 1


def test_a_failed_computation_is_the_requests_error_and_not_kept() -> None:
    source = _Source()
    fresh: Fresh[int] = Fresh(max_age_s=60)
    source.fail = True
    with pytest.raises(RuntimeError, match="database went away"):
        fresh.get("LY", source)
    source.fail = False
    assert fresh.get("LY", source) == 2  # tried again, not the failure kept


def test_a_failed_renewal_keeps_the_value_until_the_stale_limit() -> None:
    clock, source = _Clock(), _Source()
    fresh: Fresh[int] = Fresh(max_age_s=60, stale_limit_s=300, clock=clock)
    fresh.get("LY", source)
    source.fail = True
    clock.now = 100
    assert fresh.get("LY", source) == 1  # kept; the renewal fails behind it
    _renewed(fresh, "LY")
    clock.now = 200
    assert fresh.get("LY", source) == 1  # still kept; renewal tried again
    _renewed(fresh, "LY")
    clock.now = 301
    with pytest.raises(RuntimeError):  # too old to answer: the request sees the failure
        fresh.get("LY", source)


def test_max_age_zero_computes_every_time() -> None:
    source = _Source()
    fresh: Fresh[int] = Fresh(max_age_s=0)
    assert [fresh.get("LY", source) for _ in range(3)] == [1, 2, 3]
