"""How a consumer hands one partition's messages to a handler; shared by every adapter."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from cbec.bus.ports import BatchHandler, DeadLetter, Handler, HandlerFailed, Message

log = logging.getLogger(__name__)


def deliver(
    messages: Sequence[Message],
    *,
    handler: Handler | None,
    batch_handler: BatchHandler | None,
    dead_letter: DeadLetter | None,
    commit: Callable[[Message], None],
) -> int:
    """Hand ``messages`` (one partition, in offset order) over and ``commit`` each handled one.

    A batch handler gets them all at once; if it raises, they are redone one at a time, so one
    bad message cannot hold back the others and is reported (or dead-lettered) on its own. A
    failure without a dead letter raises ``HandlerFailed`` with everything from the failed
    message on left uncommitted. Returns how many messages were handled.
    """
    if batch_handler is not None and len(messages) > 1:
        try:
            batch_handler(messages)
        except Exception as error:
            log.info("batch of %d failed (%s); redoing one by one", len(messages), type(error).__name__)
        else:
            commit(messages[-1])
            return len(messages)
    handled = 0
    for message in messages:
        try:
            if batch_handler is not None:
                batch_handler([message])
            elif handler is not None:
                handler(message)
        except Exception as error:
            if dead_letter is None:
                raise HandlerFailed(message, error) from error
            dead_letter(message, error)
        commit(message)
        handled += 1
    return handled


def check_handlers(handler: Handler | None, batch_handler: BatchHandler | None) -> None:
    if (handler is None) == (batch_handler is None):
        raise ValueError("give exactly one of handler and batch_handler")
