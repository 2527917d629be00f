"""Files read as data only: YAML without anchors, aliases or duplicate keys, and every
imported file bounded in size before it is read.

A YAML alias can expand a kilobyte file into gigabytes ("billion laughs"); aliases and
anchors are refused from the parser's event stream before anything is built. A key given
twice in one mapping is refused too (YAML would silently keep the last one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pvmon.errors import ValidationError

__all__ = ["DEFAULT_MAX_BYTES", "load_yaml", "read_text"]

#: the largest imported file read by default [bytes] (``PVMON_IMPORT_FILE_MAX_BYTES``)
DEFAULT_MAX_BYTES = 20_000_000

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the base class says why
                break
            if duplicate:
                raise ValidationError(
                    f"line {key_node.start_mark.line + 1}: key {key!r} is given twice"
                )
            seen.add(key)
        return dict(super().construct_mapping(node, deep=deep))


def read_text(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """The UTF-8 text of ``path`` (a byte order mark is dropped), refused before reading
    when larger than ``max_bytes`` [bytes]."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ValidationError(
                f"{path}: {size:,} bytes, larger than the limit of {max_bytes:,} bytes "
                "(PVMON_IMPORT_FILE_MAX_BYTES)"
            )
        return path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise ValidationError(f"{path}: cannot read ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from exc


def load_yaml(text: str, *, where: str) -> Any:
    """``text`` as YAML data; anchors, aliases and duplicate keys refused with the line."""
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                line = event.start_mark.line + 1 if event.start_mark else 0
                raise ValidationError(
                    f"{where}: line {line}: YAML anchors and aliases "
                    "(& and *) are not accepted; write the values out"
                )
        return yaml.load(text, Loader=_Loader)
    except ValidationError as exc:
        if str(exc).startswith(where):
            raise
        raise ValidationError(f"{where}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ValidationError(f"{where}: not valid YAML: {exc}") from exc
