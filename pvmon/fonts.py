"""The CJK font every document pvmon prints embeds (PDFs, chart images).

WenQuanYi Micro Hei, a TrueType collection shipped in the ``mpl-font`` package (a
dependency of pvmon), so a 公示 or a monthly report renders the same on a machine
without Chinese fonts.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from pvmon.errors import ConfigError

__all__ = ["cjk_font_path"]


def cjk_font_path() -> Path:
    """The TrueType CJK font (WenQuanYi Micro Hei from ``mpl-font``)."""
    spec = importlib.util.find_spec("mpl_font")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for where in locations:
        path = Path(where) / "fonts" / "wqy" / "wqy-microhei.ttc"
        if path.is_file():
            return path
    raise ConfigError(
        "pvmon's PDFs and charts need the CJK font of the mpl-font package: pip install mpl-font"
    )
