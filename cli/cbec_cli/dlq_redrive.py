"""`cbec dlq redrive`: put dead letters back on the topic they came from, once each.

A dead letter (``cbec.contracts.dead_letter.DeadLetter``) keeps the message byte for byte (key, value,
headers; sealed with the PII key ring when it may hold personal data) and the topic and partition it
was read from. Redriving opens it, sends the message back to that topic and partition with one header
more (``cbec-redriven``: the letter's id) and then appends a *mark* to the dead-letter topic itself, keyed
``redriven:<id>``. The marks are the ledger: a letter with a mark is never redriven again, by anyone, for
as long as the topic keeps the letter (marks and letters share its retention). A crash between the send
and the mark sends that message once more on the next run, as at-least-once delivery may anyway (a
repeated command maps to the same document stream; nothing reaches customs twice).

A letter is refused, with its reason, when its original topic is not one the product consumes (or is
missing: letters written before dead letters were lossless), when it keeps no message, or when it is
sealed under a key the ring does not hold. The id of a letter is ``<partition>:<offset>`` of its record on
the dead-letter topic (what ``cbec dlq show`` prints). Written by hand: no library redrives cbec's own
envelope; the Kafka side uses the same kafka-python client as the rest of the CLI.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from cbec.contracts import topics
from cbec.contracts.base import ContractError
from cbec.contracts.dead_letter import DeadLetter, Sealer
from cbec.privacy.cipher import CipherError

REDRIVEN_HEADER = "cbec-redriven"
MARK_PREFIX = "redriven:"


@dataclass(frozen=True, slots=True)
class Record:
    """One record of a dead-letter topic as read."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None

    @property
    def id(self) -> str:
        return f"{self.partition}:{self.offset}"


class Sink(Protocol):
    """Where redriven messages and marks go (Kafka, or the in-process bus in tests)."""

    def send(self, topic: str, key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]],
             partition: int | None) -> None: ...

    def flush(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one letter: ``redriven``, ``would redrive`` (dry run), ``already redriven`` or
    ``refused`` (with the reason)."""

    id: str
    outcome: str
    topic: str = ""
    reason: str = ""

    def to_json(self) -> str:
        out: dict[str, Any] = {"id": self.id, "outcome": self.outcome}
        if self.topic:
            out["topic"] = self.topic
        if self.reason:
            out["reason"] = self.reason
        return json.dumps(out, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Ledger:
    """The dead-letter topic read once: its letters by id and the ids already marked redriven."""

    letters: dict[str, Record] = field(default_factory=dict)
    redriven: frozenset[str] = frozenset()

    @classmethod
    def of(cls, records: Iterable[Record]) -> Ledger:
        letters: dict[str, Record] = {}
        marked: set[str] = set()
        for record in records:
            mark = mark_of(record)
            if mark is not None:
                marked.add(mark)
            else:
                letters[record.id] = record
        return cls(letters, frozenset(marked))


def mark_of(record: Record) -> str | None:
    """The letter id a mark record names, None for any other record."""
    key = (record.key or b"").decode("utf-8", "replace")
    if not key.startswith(MARK_PREFIX):
        return None
    try:
        body = json.loads(record.value or b"")
    except ValueError:
        return None
    marked = body.get("redriven") if isinstance(body, dict) else None
    return str(marked) if isinstance(marked, str) and marked == key[len(MARK_PREFIX):] else None


def mark(letter_id: str, to: str, now: datetime) -> tuple[bytes, bytes]:
    """Key and value of the mark that records ``letter_id`` as redriven to topic ``to``."""
    value = {"redriven": letter_id, "to": to, "at": now.isoformat()}
    return (MARK_PREFIX + letter_id).encode(), json.dumps(value).encode()


def consumed_topic(topic: str) -> bool:
    """Whether a cbec service consumes ``topic`` (so a message may be redriven onto it)."""
    if not topic or topics.is_dead_letter(topic):
        return False
    fixed = {topics.SIGN_REQUESTS, topics.SIGN_RESULTS, topics.STATUS, *topics.SERVICE_EVENTS, *topics.FEEDBACK_TOPICS}
    return topic in fixed or topics.intake_binding(topic) is not None or topics.goods_left_binding(topic)[0]


def redrive(dlq_topic: str, records: Iterable[Record], sink: Sink, cipher: Sealer | None, *,
            ids: Sequence[str] | None = None, dry_run: bool = False, now: datetime | None = None) -> list[Outcome]:
    """Redrive the letters ``ids`` of ``dlq_topic`` (every letter not yet redriven when None)."""
    if not topics.is_dead_letter(dlq_topic):
        raise ValueError(f"{dlq_topic!r} is not a dead-letter topic")
    ledger = Ledger.of(records)
    wanted = list(dict.fromkeys(ids)) if ids is not None else [i for i in ledger.letters if i not in ledger.redriven]
    outcomes: list[Outcome] = []
    for letter_id in wanted:
        record = ledger.letters.get(letter_id)
        if record is None:
            outcomes.append(Outcome(letter_id, "refused", reason=f"no letter {letter_id} on {dlq_topic}"))
        elif letter_id in ledger.redriven:
            outcomes.append(Outcome(letter_id, "already redriven"))
        else:
            outcomes.append(_one(dlq_topic, record, sink, cipher, dry_run, now or datetime.now(UTC)))
    if not dry_run:
        sink.flush()
    return outcomes


def _one(dlq_topic: str, record: Record, sink: Sink, cipher: Sealer | None, dry_run: bool,
         now: datetime) -> Outcome:
    refused = _refusal(record, cipher)
    if isinstance(refused, str):
        return Outcome(record.id, "refused", reason=refused)
    letter = refused
    assert letter.raw is not None  # checked by _refusal
    if dry_run:
        return Outcome(record.id, "would redrive", letter.topic)
    headers = [*letter.raw.headers, (REDRIVEN_HEADER, f"{dlq_topic}:{record.id}".encode())]
    sink.send(letter.topic, letter.raw.key, letter.raw.value, headers, letter.partition)
    sink.flush()  # the message is on its topic before the mark says so
    key, value = mark(record.id, letter.topic, now)
    sink.send(dlq_topic, key, value, (), None)
    return Outcome(record.id, "redriven", letter.topic)


def _refusal(record: Record, cipher: Sealer | None) -> DeadLetter | str:
    """The opened letter, or why it cannot be redriven."""
    try:
        letter = DeadLetter.from_json(record.value if record.value is not None else b"null")
    except ContractError as bad:
        return f"not a dead letter with a message to redrive ({bad})"
    if letter.sealed is not None:
        key_id = letter.sealed[0]
        if cipher is None:
            return f"sealed with key {key_id}: set CBEC_PII_KEYS to open it"
        try:
            letter = letter.opened_with(cipher)
        except CipherError as error:
            return f"sealed with key {key_id}: {error}"
    if not consumed_topic(letter.topic):
        return f"its original topic {letter.topic!r} is not one cbec consumes" if letter.topic \
            else "its original topic is unknown (a letter from before dead letters kept it)"
    if letter.raw is None:
        return "it keeps no message to send (a letter from before dead letters were lossless)"
    return letter
