"""`cbec dlq show <topic>`: the entries of a dead-letter topic, opened with the PII key ring;
`cbec dlq redrive --topic <topic>`: put them back where they came from.

Dead letters of messages that may carry personal data are sealed with ``CBEC_PII_KEYS`` (the key id is
recorded in each letter); this command reads the topic from its beginning, opens each sealed letter with
the same ring and prints one JSON object per entry: where it came from, why, and the message as it came
(key and value as text when they are UTF-8, else base64; headers likewise), with its id. ``redrive``
puts letters back on their original topic, once each (``cbec_cli.dlq_redrive``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from typing import Annotated, Any

import typer
from cbec.bus.security import client_options
from cbec.contracts import topics
from cbec.contracts.base import ContractError
from cbec.contracts.dead_letter import DeadLetter, RawMessage, Sealer
from cbec.privacy.cipher import AesGcmCipher, CipherError
from cbec.settings import Settings

from cbec_cli.dlq_redrive import Ledger, Record, redrive


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
    return [r.value for r in read_records({"bootstrap_servers": bootstrap}, topic, limit, timeout)]


def read_records(client: dict[str, Any], topic: str, limit: int | None = None,
                 timeout: float = 10.0) -> list[Record]:
    """Every record of ``topic`` from its beginning to its current end (no consumer group);
    ``client``: kafka-python connection options (``cbec.bus.security.client_options``)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**client, enable_auto_commit=False, group_id=None,
                             max_partition_fetch_bytes=64 * 1024 * 1024)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        records: list[Record] = []
        remaining = {tp for tp in tps if consumer.position(tp) < ends[tp]}
        idle = 0
        while remaining and (limit is None or len(records) < limit) and idle < timeout:
            batches = consumer.poll(timeout_ms=1000)
            idle = 0 if batches else idle + 1
            for tp, batch in batches.items():
                records += [Record(r.partition, r.offset, r.key, r.value) for r in batch]
                if batch and batch[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
        return records[:limit] if limit is not None else records
    finally:
        consumer.close()


class KafkaSink:
    """Redriven messages and marks onto Kafka (acks=all, idempotent producer: no duplicate on retry)."""

    def __init__(self, client: dict[str, Any], max_message_bytes: int) -> None:
        from kafka import KafkaProducer

        self._producer = KafkaProducer(**client, acks="all", enable_idempotence=True,
                                       max_request_size=2 * max_message_bytes)
        self._pending: list[Any] = []

    def send(self, topic: str, key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]],
             partition: int | None) -> None:
        known = self._producer.partitions_for(topic) or set()
        self._pending.append(self._producer.send(topic, key=key, value=value, headers=list(headers),
                                                 partition=partition if partition in known else None))

    def flush(self) -> None:
        self._producer.flush()
        pending, self._pending = self._pending, []
        for future in pending:
            future.get(timeout=30)  # raises when the broker refused it

    def close(self) -> None:
        self._producer.close()


def show(values: Iterable[bytes | None], cipher: Sealer | None) -> list[str]:
    return [json.dumps(entry(v, cipher), ensure_ascii=False) for v in values]


def show_records(records: Iterable[Record], cipher: Sealer | None) -> list[str]:
    """The letters of a dead-letter topic with their ids (``--id`` of ``redrive``), each marked
    ``"redriven": true`` once redriven; the redrive marks themselves are not shown."""
    ledger = Ledger.of(records)
    return [json.dumps({"id": i, **({"redriven": True} if i in ledger.redriven else {}), **entry(r.value, cipher)},
                       ensure_ascii=False) for i, r in ledger.letters.items()]


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
        for line in show_records(read_records(client_options(settings.kafka), topic, limit), cipher):
            typer.echo(line)

    @dlq.command("redrive")
    def redrive_command(
        topic: Annotated[str, typer.Option("--topic", help="the dead-letter topic, e.g. cbec.dlq.order")],
        ids: Annotated[list[str] | None, typer.Option("--id", help="a letter's id (partition:offset, as "
                                                      "`cbec dlq show` prints it); repeatable")] = None,
        every: Annotated[bool, typer.Option("--all", help="every letter not redriven yet")] = False,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="say what would be redriven, send nothing")] = False,
    ) -> None:
        """Put dead letters back on the topic they came from, once each (opened with CBEC_PII_KEYS).
        Prints one JSON line per letter; exits 1 when any was refused."""
        if bool(ids) == every:
            raise typer.BadParameter("give --id (one or more) or --all")
        if not topics.is_dead_letter(topic):
            raise typer.BadParameter(f"{topic!r} is not a dead-letter topic", param_hint="--topic")
        settings = Settings()
        cipher = AesGcmCipher.from_spec(settings.pii.key_spec())
        client = client_options(settings.kafka)
        records = read_records(client, topic)
        sink = KafkaSink(client, settings.kafka.max_message_bytes)
        try:
            outcomes = redrive(topic, records, sink, cipher, ids=None if every else ids, dry_run=dry_run)
        finally:
            sink.close()
        for outcome in outcomes:
            typer.echo(outcome.to_json())
        if any(o.outcome == "refused" for o in outcomes):
            raise typer.Exit(1)

    app.add_typer(dlq, name="dlq")
