# ruff: noqa: E402
"""Demo start-up benchmark: ``pvmon demo`` from nothing to ``/health`` and to its history.

Runs ``pvmon demo`` (this tree's code, ``python -m pvmon.cli demo``) as a subprocess in a
temporary directory, as ``make demo`` does on a first start: a new embedded PostgreSQL
(initdb, migrations), the demo county (``pvmon fleet generate --households 200``, the
same fleet as ``examples/demo-county.yaml``, on free Modbus ports), 30 days of simulated
history, the simulated fleet, the collector and the API, all on free ports so that
it can run beside another demo. It prints:

* seconds from starting the command to ``/health`` answering ``{"status": "ok"}``;
* seconds from starting the command to the history written (the demo's progress lines
  on stderr, ``wrote N simulated readings of history``), and the readings written;
* the history readings counted in the database at that moment (``quality`` simulated).

Then it stops the demo with SIGINT (as Ctrl-C does), stops the embedded server and
removes the directory.

    .venv/bin/python bench/demo.py                # 30 days, as make demo
    .venv/bin/python bench/demo.py --days 7 --keep
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# bench/dividends.py would shadow the dividends package when run as a script
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import httpx
import psycopg

from pvmon.db.connect import database_url
from pvmon.db.embedded import free_port
from pvmon.errors import PvmonError
from pvmon.quality import Quality
from pvmon.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
_WROTE = re.compile(r"wrote ([\d,]+) simulated readings of history")
_PROGRESS = re.compile(r"history:\s+(\d+) %")


def _free_block(size: int) -> int:
    """A first port with ``size`` free ports after it (the fleet's data loggers)."""
    for _ in range(50):
        first = free_port() % 20000 + 30000
        if all(_port_free(first + k) for k in range(size)):
            return first
    raise SystemExit("no block of free ports found")


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class _Output:
    """The demo's output lines with the time each arrived (seconds since start)."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.lines: list[tuple[float, str]] = []
        self.history_s: float | None = None
        self.history_rows: int | None = None
        self.progress: list[tuple[float, int]] = []
        self._lock = threading.Lock()

    def follow(self, stream: object, *, echo: bool) -> None:
        for raw in iter(stream.readline, ""):  # type: ignore[attr-defined]
            line = raw.rstrip()
            at = time.monotonic() - self.started
            with self._lock:
                self.lines.append((at, line))
                if (match := _PROGRESS.search(line)) is not None:
                    self.progress.append((at, int(match.group(1))))
                if (match := _WROTE.search(line)) is not None:
                    self.history_s = at
                    self.history_rows = int(match.group(1).replace(",", ""))
            if echo:
                print(f"  [{at:6.1f} s] {line}", flush=True)


def _health_ok(client: httpx.Client, url: str) -> bool:
    try:
        answer = client.get(url, timeout=2.0)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200 and answer.json().get("status") == "ok"


def _count_history(data_dir: Path, port: int) -> int | None:
    """Simulated readings in the demo's database (as its owner), or None."""
    settings = Settings(data_dir=data_dir, embedded_port=port)
    try:
        with psycopg.connect(database_url(settings, start_embedded=False)) as conn:
            row = conn.execute(
                "SELECT count(*) FROM readings WHERE quality & %s <> 0",
                (int(Quality.SIMULATED),),
            ).fetchone()
    except (psycopg.Error, PvmonError):
        return None
    return int(row[0]) if row else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=30, help="days of history (make demo: 30)")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after [s]")
    parser.add_argument("--quiet", action="store_true", help="do not echo the demo's output")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pvmon-bench-demo-"))
    work.chmod(0o755)  # the embedded server may run as 'postgres' when run as root
    data_dir = work / ".pvmon"
    pg_port, api_port, metrics_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PVMON_DATA_DIR": str(data_dir),
        "PVMON_EMBEDDED_PORT": str(pg_port),
        "PVMON_API_HOST": "127.0.0.1",
        "PVMON_API_PORT": str(api_port),
        "PVMON_LOG_LEVEL": "WARNING",
    }
    env.pop("PVMON_DATABASE_URL", None)
    env.pop("PVMON_OWNER_DATABASE_URL", None)
    cli = [sys.executable, "-m", "pvmon.cli"]
    generate = ["fleet", "generate", "--households", "200", "--out", "fleet.yaml"]
    subprocess.run(
        [*cli, *generate, "--base-port", str(_free_block(40))],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
    )
    print(f"pvmon demo in {work} (API :{api_port}, PostgreSQL :{pg_port})")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    command = [*cli, "demo", "--fleet", "fleet.yaml", "--history-days", str(args.days)]
    command += ["--metrics-port", str(metrics_port)]
    started = time.monotonic()
    demo = subprocess.Popen(
        command,
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    output = _Output(started)
    followers = [
        threading.Thread(target=output.follow, args=(s,), kwargs={"echo": not args.quiet})
        for s in (demo.stdout, demo.stderr)
    ]
    for thread in followers:
        thread.daemon = True
        thread.start()
    health_s: float | None = None
    counted: int | None = None
    health_url = f"http://127.0.0.1:{api_port}/health"
    try:
        with httpx.Client() as client:
            while time.monotonic() - started < args.timeout and demo.poll() is None:
                if health_s is None and _health_ok(client, health_url):
                    health_s = time.monotonic() - started
                    print(f"  [{health_s:6.1f} s] /health answers ok", flush=True)
                if output.history_s is not None and health_s is not None:
                    counted = _count_history(data_dir, pg_port)
                    break
                time.sleep(0.2)
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGINT)
            try:
                demo.wait(60)
            except subprocess.TimeoutExpired:
                demo.kill()
                demo.wait()
        subprocess.run([*cli, "db", "stop"], cwd=work, env=env, capture_output=True)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"pvmon demo, {args.days} days of history, {os.cpu_count()} CPUs")
    print(f"  start -> /health ok:            {_seconds(health_s)}")
    print(f"  start -> history written:       {_seconds(output.history_s)}")
    rows = f"{output.history_rows:,}" if output.history_rows is not None else "-"
    print(f"  readings written (demo output): {rows}")
    print(f"  simulated readings in database: {f'{counted:,}' if counted is not None else '-'}")
    if output.progress:
        steps = ", ".join(f"{p} % at {t:.0f} s" for t, p in output.progress)
        print(f"  progress: {steps}")
    print(f"  load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if health_s is None or output.history_s is None:
        tail = "\n".join(line for _, line in output.lines[-20:])
        raise SystemExit(f"the demo did not get there; its last output:\n{tail}")


def _seconds(value: float | None) -> str:
    return f"{value:6.1f} s" if value is not None else "     - (not reached)"


if __name__ == "__main__":
    main()
