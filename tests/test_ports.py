"""The tests' fleet ports: separate blocks in the worker's slice, busy blocks skipped."""

from __future__ import annotations

import socket

import pytest

from tests.ports import fleet_base_port


def test_blocks_follow_one_another_and_skip_a_busy_one() -> None:
    first = fleet_base_port(15)
    second = fleet_base_port(15)
    assert 20000 <= first < second < 32000 and second - first >= 100
    with socket.socket() as taken:  # another program listens inside the next block
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", second + 100 + 7))
        taken.listen()
        third = fleet_base_port(15)
    assert third != second + 100  # the busy block was passed over
    assert not third <= second + 107 < third + 15


@pytest.mark.parametrize("ports", [0, 101])
def test_a_fleet_beyond_a_block_is_refused(ports: int) -> None:
    with pytest.raises(ValueError, match=r"1\.\.100 ports"):
        fleet_base_port(ports)
