"""The ``pvmon`` command starts without the heavy libraries only some commands need.

Every ``pvmon`` invocation pays for what ``pvmon.cli`` imports: pandas, openpyxl and the
Grafana client add about a second before anything is printed, so they load on first use.
"""

from __future__ import annotations

import subprocess
import sys

_HEAVY = [
    "pandas", "openpyxl", "requests", "grafana_client", "pvlib", "fastapi", "reportlab", "apprise",
]  # fmt: skip


def test_the_command_line_starts_without_heavy_libraries() -> None:
    probe = f"import sys, pvmon.cli; print(','.join(m for m in {_HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "", "importing pvmon.cli loads these"
