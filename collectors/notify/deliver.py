"""Delivery through apprise: every channel is an apprise URL (WeCom ``wecombot://``,
DingTalk ``dingtalk://``, Feishu ``feishu://``, e-mail ``mailto://``/``mailtos://``, a
webhook ``json://``/``form://``). apprise's own connect and read timeouts are set to the
per-send timeout, so a receiver that never answers ends the attempt in time; errors come
back as :class:`DeliveryError`, which the caller masks before they are logged or stored."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pvmon.errors import PvmonError

if TYPE_CHECKING:
    import apprise

__all__ = ["DeliveryError", "check_url", "send"]


class DeliveryError(PvmonError):
    """A message did not reach its channel (may hold the URL's secrets: mask it)."""


def _plugin(url: str) -> apprise.NotifyBase | None:
    import apprise  # on first use: every pvmon command would pay for its plugins

    return apprise.Apprise.instantiate(url, suppress_exceptions=True)


def check_url(url: str) -> str | None:
    """Why ``url`` is no usable apprise URL, or None."""
    scheme = url.partition("://")[0] if "://" in url else ""
    if not scheme:
        return "expected an apprise URL such as json://host/path or mailtos://user:pass@host"
    if _plugin(url) is None:
        return f"apprise cannot use this {scheme}:// URL (unknown scheme or missing parts)"
    return None


def send(url: str, *, title: str, body: str, timeout_s: float) -> None:
    """Send one message to ``url``, waiting at most ``timeout_s`` [s] per connect and read;
    :class:`DeliveryError` when it was not delivered."""
    plugin = _plugin(url)
    if plugin is None:
        raise DeliveryError("apprise cannot use this URL")
    plugin.socket_connect_timeout = timeout_s
    plugin.socket_read_timeout = timeout_s
    import apprise

    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
        try:
            ok = plugin.notify(body=body, title=title)
        except Exception as exc:  # apprise's plugins raise what their transport raises
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
    if not ok:
        said = " ".join(str(captured.getvalue()).split())[-300:]
        raise DeliveryError(said or "not delivered")
