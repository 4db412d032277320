"""How a consumer hands one partition's messages to a handler; shared by every adapter."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence

from cbec.bus.poison import Attempts, MessageDefect, is_certain, is_infrastructure
from cbec.bus.ports import BatchHandler, DeadLetter, Handler, HandlerFailed, Message

log = logging.getLogger(__name__)


def deliver(
    messages: Sequence[Message],
    *,
    handler: Handler | None,
    batch_handler: BatchHandler | None,
    dead_letter: DeadLetter | None,
    commit: Callable[[Message], None],
    attempts: Attempts | None = None,
) -> int:
    """Hand ``messages`` (one partition, in offset order) over and ``commit`` each handled one.

    A batch handler gets them all at once; if it raises, they are redone one at a time, so one
    bad message cannot hold back the others and is reported (or dead-lettered) on its own. A
    message with ``defects`` goes to the dead letter without a handler call. A failed message
    goes to the dead letter on its last attempt (``attempts``; one by default) unless the error is
    an infrastructure error (``cbec.bus.poison``). Otherwise a failure raises ``HandlerFailed``
    with everything from the failed message on left uncommitted. Returns how many messages were
    handled.
    """
    attempts = attempts or Attempts()
    if batch_handler is not None and len(messages) > 1 and not any(m.defects for m in messages):
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
            if message.defects:
                raise MessageDefect(message.defects)
            if batch_handler is not None:
                batch_handler([message])
            elif handler is not None:
                handler(message)
        except Exception as error:
            if dead_letter is None:
                raise HandlerFailed(message, error) from error
            if not is_certain(error) and (is_infrastructure(error) or not attempts.exhausted(message)):
                raise HandlerFailed(message, error) from error
            tried = 0 if message.defects else max(attempts.of(message), 1)
            log.warning("dead-lettering %s[%d]@%d after %d attempt(s): %s", message.topic, message.partition,
                        message.offset, tried, type(error).__name__)
            with contextlib.suppress(AttributeError, TypeError):
                error.attempts = tried  # type: ignore[attr-defined]  # read by cbec.bus.poison.poison_letter
            dead_letter(message, error)
        attempts.done(message)
        commit(message)
        handled += 1
    return handled


def check_handlers(handler: Handler | None, batch_handler: BatchHandler | None) -> None:
    if (handler is None) == (batch_handler is None):
        raise ValueError("give exactly one of handler and batch_handler")
