"""Stopping a pvmon process as an operator does (Ctrl-C), and saying why when it hangs.

Tests start pvmon commands with :data:`FAULTHANDLER_ENV` in their environment. When a
command has not exited by the deadline after Ctrl-C, :func:`interrupt` sends it SIGABRT:
Python's fault handler then writes every thread's stack to the command's output, so a
failure names where it hung instead of only that it did.
"""

from __future__ import annotations

import signal
import subprocess

__all__ = ["FAULTHANDLER_ENV", "interrupt"]

FAULTHANDLER_ENV = {"PYTHONFAULTHANDLER": "1"}


def interrupt(
    process: subprocess.Popen[str], *, timeout_s: float, signum: int = signal.SIGINT
) -> int:
    """Ctrl-C ``process`` (or send it ``signum``: SIGTERM as docker stop does) and wait
    up to ``timeout_s`` [s] for it to exit; past that, SIGABRT (a stack dump with
    :data:`FAULTHANDLER_ENV`) and then SIGKILL. Its exit code (negative: the signal that
    ended it)."""
    if process.poll() is None:
        process.send_signal(signum)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return process.returncode
