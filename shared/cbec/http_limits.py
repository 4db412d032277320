"""ASGI middleware that bounds a request before any route sees it.

- The body: a declared ``Content-Length`` over the limit is answered 413 without reading a byte; a
  body without one is counted while it streams in and answered 413 the moment it passes the limit,
  so a 50 MB upload never sits in memory whole.
- The parameters: a query parameter or a path holding a control character (NUL included) is
  answered 400 naming it, before it can reach a database driver that would choke on it.

Every answer is the API's problem shape ``{"errors": [{code, path, rule, message}]}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from cbec.errors import CebError
from cbec.intake_limits import DEFAULT_MAX_BYTES, too_large

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

BAD_PARAMETER = "CBEC-0400"
_CONTROL = re.compile("[\x00-\x1f\x7f]")


class _BodyTooLarge(Exception):  # noqa: N818 - raised inside the app's receive, caught right here
    """The streamed body passed the limit."""


async def _answer(send: Send, status: int, error: CebError) -> None:
    body = json.dumps({"errors": [error.to_dict()]}, ensure_ascii=True).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def bad_parameter(scope: Scope) -> CebError | None:
    """The first query parameter (or the path) holding a control character."""
    path = str(scope.get("path", ""))
    if _CONTROL.search(path):
        return CebError(BAD_PARAMETER, "path", "parameters", "the path holds a control character")
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if _CONTROL.search(name) or _CONTROL.search(value):
            shown = name if not _CONTROL.search(name) else "query"
            return CebError(BAD_PARAMETER, shown, "parameters", f"{shown} holds a control character")
    return None


class RequestLimits:
    """Refuse an oversized body (413) or a parameter with control characters (400) up front."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = bad_parameter(scope)
        if problem is not None:
            await _answer(send, 400, problem)
            return
        declared = self._content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await _answer(send, 413, too_large(declared, self.max_body_bytes))
            return
        received = 0
        started = False

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge()
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded_receive, watched_send)
        except _BodyTooLarge:
            if started:
                raise
            await _answer(send, 413, too_large(None, self.max_body_bytes))

    @staticmethod
    def _content_length(scope: Scope) -> int | None:
        for name, value in scope.get("headers", []):
            if name.lower() == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return None
        return None
