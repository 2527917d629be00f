"""The README's finance walkthrough, run as written (each ``pvmon`` line a subprocess)
against a fresh test database, in a scratch folder beside the repository's examples."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def walkthrough() -> list[str]:
    """The indented command lines under the README's "Finance walkthrough" heading."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Finance walkthrough", 1)[1].split("\n#", 1)[0]
    return [line.strip() for line in section.splitlines() if line.startswith("    pvmon ")]


def test_the_walkthrough_is_there() -> None:
    commands = walkthrough()
    assert commands[0].startswith("pvmon fleet import") and len(commands) >= 10
    assert any(" approve " in c for c in commands) and any(" paid " in c for c in commands)


def test_the_finance_walkthrough_runs_as_written(db_url: str, flavour: str, tmp_path: Path) -> None:
    if flavour != "postgres":
        pytest.skip("the walkthrough drives the dividends engine; one flavour is enough")
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = {**os.environ, "PVMON_DATABASE_URL": db_url, "PVMON_DATA_DIR": str(tmp_path / "data"),
           "COLUMNS": "200"}  # fmt: skip
    env.pop("PVMON_API_KEY", None)
    outputs = {}
    for command in walkthrough():
        args = shlex.split(command)
        done = subprocess.run(
            [sys.executable, "-m", "pvmon.cli", *args[1:]],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        out = done.stdout + done.stderr
        assert done.returncode == 0, f"{command}\n{out}"
        assert "Traceback" not in out, out
        outputs[command] = out
    shown = next(out for c, out in outputs.items() if " show 1" in c)
    assert "stations with estimated energy" in shown  # 2025: no readings in the demo
    history = next(out for c, out in outputs.items() if " history 1" in c)
    for event, who in (("created", "clerk"), ("approved", "chief"), ("exported", "chief"),
                       ("paid", "chief")):  # fmt: skip
        assert any(event in line and who in line for line in history.splitlines()), history
    assert "estimates acknowledged" in history
    bank = (tmp_path / "bank-2025.csv").read_text(encoding="utf-8-sig")
    assert bank.count("\n") > 100  # a row per household of the demo county
