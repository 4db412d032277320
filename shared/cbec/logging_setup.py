"""Structured JSON logs with trace ids, and personal data masked by one shared filter."""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TextIO

from cbec.privacy.log_filter import PiiFilter, mask_text

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _trace_ids() -> dict[str, str]:
    try:
        from opentelemetry import trace
    except ImportError:  # pragma: no cover - opentelemetry is a dependency
        return {}
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, trace ids, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_trace_ids(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = (
                    value if isinstance(value, (str, int, float, bool)) or value is None else str(value)
                )
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        # Extras are not covered by the filter's message rendering: mask the whole line once more.
        return mask_text(json.dumps(entry, ensure_ascii=False, default=str))


def configure_logging(
    level: str | int | None = None, *, stream: TextIO | None = None, excepthooks: bool = True
) -> logging.Handler:
    """Send every log record to ``stream`` (stderr) as masked JSON; returns the installed handler.

    ``level`` defaults to INFO (processes pass ``CBEC_LOG_LEVEL`` from their settings). Replaces
    handlers on the root logger, so calling it twice does not duplicate lines. With ``excepthooks``
    an uncaught exception (main thread or any other) is logged as one masked JSON line, never a raw
    traceback on stderr.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(PiiFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level or "INFO")
    if excepthooks:
        sys.excepthook = _main_thread_hook
        threading.excepthook = _thread_hook
        sys.unraisablehook = _unraisable_hook
    return handler


def log_uncaught(
    error: BaseException, thread_name: str, *, what: str = "uncaught exception", traceback: TracebackType | None = None
) -> None:
    """Log ``error`` as one CRITICAL JSON line (masked, traceback in its ``exception`` field).

    Falls back to Python's own report when no handler is configured, so a crash is never silent.
    """
    if not logging.getLogger().handlers:
        sys.__excepthook__(type(error), error, traceback or error.__traceback__)
        return
    logging.getLogger("cbec.crash").critical(
        "%s in thread %s: %s: %s",
        what,
        thread_name,
        type(error).__name__,
        error,
        exc_info=(type(error), error, traceback or error.__traceback__),
        extra={"crashed_thread": thread_name, "error_type": type(error).__name__},
    )


def _main_thread_hook(kind: type[BaseException], error: BaseException, traceback: TracebackType | None) -> None:
    log_uncaught(error, threading.current_thread().name, traceback=traceback)


def _thread_hook(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None or args.exc_type is SystemExit:
        return  # what threading's default hook ignores too
    log_uncaught(args.exc_value, args.thread.name if args.thread else "?", traceback=args.exc_traceback)


def _unraisable_hook(unraisable: Any) -> None:
    """An exception Python could not raise (e.g. in ``__del__``): one JSON warning, not a raw traceback."""
    try:
        error = unraisable.exc_value
        logging.getLogger("cbec.crash").warning(
            "%s: %s: %s", unraisable.err_msg or "Exception ignored in", unraisable.object, type(error).__name__,
            exc_info=(unraisable.exc_type, error, unraisable.exc_traceback) if error is not None else None,
        )
    except Exception:  # noqa: BLE001 - at interpreter shutdown logging may be gone
        sys.__unraisablehook__(unraisable)
