"""The celery model's settings: --broker and --chunk (and, from the API, acks and the
Redis visibility timeout).

They travel as `RunOptions.model_options` → `TrialSpec.options` → `hooks.options`, and are
validated twice: by the CLI before any trial runs (`profiler.models.model_options_from_flags`
calls `CeleryModel.check_options`: one `ConfigError` line, exit 2) and by the model in the
trial (`celery_options`), so a library caller's mistake is a failed trial with the same
sentence. Whether the broker answers is checked once per run in the parent
(`broker_reason`, through `Model.options_reason`): an unreachable default broker skips the
model with that one line. Imports nothing from celery; kombu only to reach the broker.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from profiler.errors import ConfigError
from profiler.extras import install_hint
from profiler.models.workers import chunk_option

DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
SCHEMES = {"redis": 6379, "rediss": 6379, "amqp": 5672, "amqps": 5671, "pyamqp": 5672}
REACH_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class CeleryOptions:
    """The celery model's settings (`hooks.options`, from --broker/--chunk)."""

    broker: str = DEFAULT_BROKER
    chunk: int | None = 1  # records per task; None = auto
    # "late": a task is acknowledged after it ran, so a killed worker's tasks go back to
    # the queue (redelivered); "early" (Celery's own default): on receipt, so they are lost.
    acks: str = "late"
    visibility_timeout_s: float | None = None  # Redis only; None = sized from the task time
    broker_given: bool = False  # --broker was given (else the default, skipped if unreachable)

    @property
    def chunk_label(self) -> str:
        return "auto" if self.chunk is None else str(self.chunk)

    @property
    def is_redis(self) -> bool:
        return urlsplit(self.broker).scheme.startswith("redis")


def celery_options(options: Mapping[str, Any]) -> CeleryOptions:
    """Validate the model options; a bad value is one `ConfigError` line naming the flag."""
    raw_broker = options.get("broker") or None
    broker = DEFAULT_BROKER
    if raw_broker is not None:
        if not isinstance(raw_broker, str) or urlsplit(raw_broker).scheme not in SCHEMES:
            raise ConfigError(f"--broker takes a redis://HOST:PORT/DB or amqp://USER:PASS@HOST:PORT// "
                              f"URL, not {redact(str(raw_broker))!r}")
        broker = raw_broker
    chunk = chunk_option(options.get("chunk", 1))
    acks = options.get("acks", "late")
    if acks not in ("late", "early"):
        raise ConfigError(f"celery acks must be 'late' or 'early', not {acks!r}")
    vt = options.get("visibility_timeout_s")
    if vt is not None:
        try:
            vt = float(vt)
        except (TypeError, ValueError):
            vt = -1.0
        if not vt > 0:
            raise ConfigError(f"celery visibility_timeout_s must be a positive number of seconds, "
                              f"not {options.get('visibility_timeout_s')!r}")
    return CeleryOptions(broker, chunk, acks, vt, raw_broker is not None)


def redact(url: str) -> str:
    """The broker URL without its password (guest:guest@ → guest:***@), for every message."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


def broker_address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or SCHEMES.get(parts.scheme, 0)


def broker_reason(opts: CeleryOptions) -> str | None:
    """None when the broker accepts a connection (and our login), else the one-line reason.

    A TCP connect first (fast, and no client library involved when nothing listens), then
    a real kombu connection, which for AMQP also checks the user and password."""
    where = redact(opts.broker)
    host, port = broker_address(opts.broker)
    default = "" if opts.broker_given else " (the default; give --broker redis://… or amqp://…)"
    try:
        socket.create_connection((host, port), timeout=REACH_TIMEOUT_S).close()
    except OSError as exc:
        return f"celery skipped: no broker reachable at {where}{default}: {exc.strerror or exc}"
    try:
        from kombu import Connection
    except ImportError:
        return f"celery needs celery and a broker client: {install_hint('celery')}"
    try:
        with Connection(opts.broker, connect_timeout=REACH_TIMEOUT_S) as conn:
            conn.ensure_connection(max_retries=1, timeout=REACH_TIMEOUT_S)
    except Exception as exc:
        return (f"celery skipped: the broker at {where}{default} refused the connection: "
                f"{type(exc).__name__}: {redact(str(exc))}")
    return None
