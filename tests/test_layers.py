"""Who may import whom: the register maps live under ``pvmon/`` so the simulator never
depends on the collector and the collector never on the simulator."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imports(package: str) -> dict[str, set[str]]:
    """Top-level packages each module of ``package`` imports (at any depth of the file)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"), [("simulators", "collectors"), ("collectors", "simulators")]
)
def test_the_simulator_and_the_collector_do_not_import_each_other(
    package: str, forbidden: str
) -> None:
    offenders = [module for module, names in _imports(package).items() if forbidden in names]
    assert not offenders, f"{package} imports {forbidden} in {offenders}"


def test_the_register_maps_depend_on_neither() -> None:
    for module, names in _imports("pvmon/registermaps").items():
        assert not names & {"collectors", "simulators", "dividends"}, module
