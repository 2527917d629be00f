"""Fault profiles: what a SunSpec client reads during a simulated grid outage."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from simulators.faults import GRID_DISCONNECT, PROFILES, draw_faults


@pytest.mark.parametrize("profile", sorted(p for p in PROFILES if PROFILES[p]))
def test_a_grid_outage_sets_evt1_grid_disconnect_not_manual_shutdown(profile: str) -> None:
    outages = [
        f
        for n in range(50)
        for f in draw_faults(
            f"INV{n}", profile=profile, seed=1, start=datetime(2025, 1, 1, tzinfo=UTC)
        )
        if f.kind == "grid_outage"
    ]
    assert outages, profile
    assert {f.params["event_code"] for f in outages} == {GRID_DISCONNECT} == {0x10}


def test_an_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known: none, demo, field"):
        draw_faults("X", profile="storm", seed=1, start=datetime(2025, 1, 1, tzinfo=UTC))
