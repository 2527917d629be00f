"""Files read as data only: no alias expansion, no duplicate keys, bounded size, UTF-8."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from pvmon.errors import ValidationError
from pvmon.safeyaml import load_yaml, read_text

# a "billion laughs" file: nine levels of nine aliases, about a kilobyte of text
_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 1\nb: [x, y]\n", {"a": 1, "b": ["x", "y"]}),
        ("", None),
        ("- 1\n- 2\n", [1, 2]),
        ("名字: 张三\n", {"名字": "张三"}),
    ],
)
def test_plain_yaml_loads(text: str, expected: object) -> None:
    assert load_yaml(text, where="f.yaml") == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_LAUGHS, "f.yaml: line 1: YAML anchors and aliases"),
        ("a: &x 1\n", "f.yaml: line 1: YAML anchors and aliases"),
        ("a: 1\nb: 2\na: 3\n", "f.yaml: line 3: key 'a' is given twice"),
        ("x:\n  k: 1\n  k: 1\n", "f.yaml: line 3: key 'k' is given twice"),
        ("a: [1,\n", "f.yaml: not valid YAML"),
        ("a: !!python/object:os.system ls\n", "f.yaml: not valid YAML"),
    ],
)
def test_hostile_yaml_is_refused_with_the_line(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match="^" + message.replace("[", r"\[")):
        load_yaml(text, where="f.yaml")


def test_read_text_bounds_size_and_encoding(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: 1\n" * 1000)
    with pytest.raises(ValidationError, match="5,000 bytes, larger than the limit of 4,000"):
        read_text(big, max_bytes=4000)
    utf16 = tmp_path / "utf16.yaml"
    utf16.write_text("a: 张三\n", encoding="utf-16")
    with pytest.raises(ValidationError, match="not UTF-8 text"):
        read_text(utf16)
    bom = tmp_path / "bom.yaml"
    bom.write_text("a: 1\n", encoding="utf-8-sig")
    assert read_text(bom) == "a: 1\n"
    with pytest.raises(ValidationError, match="cannot read"):
        read_text(tmp_path / "missing.yaml")


def _limited() -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (1_500_000_000, 1_500_000_000))


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("laughs.yaml", _LAUGHS, "YAML anchors and aliases"),
        ("dup.yaml", "counties: []\ncounties: []\n", "key 'counties' is given twice"),
        ("markup.yaml", "counties: [/nope]\n", "counties[0]"),
    ],
)
def test_fleet_import_refuses_hostile_yaml_within_a_memory_ceiling(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    env = {**os.environ, "PVMON_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200",
           "PVMON_DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "pvmon.cli", "fleet", "import", str(path)],
        env=env, capture_output=True, text=True, timeout=120, preexec_fn=_limited,
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 1 and "Traceback" not in out, out
    assert "rejected, nothing written" in out and message in out, out
