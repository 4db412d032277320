"""`cbec dlq show <topic>`: the entries of a dead-letter topic, opened with the PII key ring.

Dead letters of messages that may carry personal data are sealed with ``CBEC_PII_KEYS`` (the key id is
recorded in each letter); this command reads the topic from its beginning, opens each sealed letter with
the same ring and prints one JSON object per entry: where it came from, why, and the message as it came
(key and value as text when they are UTF-8, else base64; headers likewise).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Annotated, Any

import typer
from cbec.contracts.base import ContractError
from cbec.contracts.dead_letter import DeadLetter, RawMessage, Sealer
from cbec.privacy.cipher import AesGcmCipher, CipherError
from cbec.settings import Settings


def _readable(raw: bytes | None) -> dict[str, Any]:
    if raw is None:
        return {"null": True}
    try:
        return {"text": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(raw).decode("ascii")}


def _message(raw: RawMessage) -> dict[str, Any]:
    return {"key": _readable(raw.key), "value": _readable(raw.value),
            "headers": [{"key": k, **_readable(v)} for k, v in raw.headers]}


def entry(value: bytes | None, cipher: Sealer | None) -> dict[str, Any]:
    """One dead letter as the operator reads it (sealed ones opened when the ring holds their key)."""
    try:
        letter = DeadLetter.from_json(value if value is not None else b"null")
    except ContractError as bad:  # e.g. an entry written before dead letters were envelopes
        return {"unreadable": str(bad), "value": _readable(value)}
    out: dict[str, Any] = {"source": letter.source, "topic": letter.topic, "partition": letter.partition,
                           "offset": letter.offset, "attempts": letter.attempts,
                           "errors": [e.to_dict() for e in letter.errors]}
    if letter.sealed is not None:
        out["keyId"] = letter.sealed[0]
        if cipher is None:
            out["sealed"] = "set CBEC_PII_KEYS to open it"
            return out
        try:
            letter = letter.opened_with(cipher)
        except CipherError as error:
            out["sealed"] = str(error)
            return out
    if letter.raw is not None:
        out["message"] = _message(letter.raw)
    elif letter.command:
        out["command"] = letter.command
    return out


def read_topic(bootstrap: str, topic: str, limit: int | None = None, timeout: float = 10.0) -> list[bytes | None]:
    """Every value of ``topic`` from its beginning to its current end (no consumer group)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                             max_partition_fetch_bytes=64 * 1024 * 1024)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        values: list[bytes | None] = []
        remaining = {tp for tp in tps if consumer.position(tp) < ends[tp]}
        idle = 0
        while remaining and (limit is None or len(values) < limit) and idle < timeout:
            batches = consumer.poll(timeout_ms=1000)
            idle = 0 if batches else idle + 1
            for tp, records in batches.items():
                values += [r.value for r in records]
                if records and records[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
        return values[:limit] if limit is not None else values
    finally:
        consumer.close()


def show(values: Iterable[bytes | None], cipher: Sealer | None) -> list[str]:
    return [json.dumps(entry(v, cipher), ensure_ascii=False) for v in values]


def register(app: typer.Typer) -> None:
    dlq = typer.Typer(help="Dead-letter topics: what services could not read or handle.", no_args_is_help=True)

    @dlq.command("show")
    def show_command(
        topic: Annotated[str, typer.Argument(help="a dead-letter topic, e.g. cbec.dlq.order")],
        limit: Annotated[int | None, typer.Option(help="at most this many entries")] = None,
    ) -> None:
        """Print the entries of a dead-letter topic, one JSON object a line, sealed ones opened with CBEC_PII_KEYS."""
        settings = Settings()
        cipher = AesGcmCipher.from_spec(settings.pii.key_spec())
        for line in show(read_topic(settings.kafka.bootstrap_servers, topic, limit), cipher):
            typer.echo(line)

    app.add_typer(dlq, name="dlq")
