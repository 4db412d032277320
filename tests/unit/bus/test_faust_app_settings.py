"""The faust app factory applies the project's production settings."""

from __future__ import annotations

from cbec.bus.faust_app import make_app


def test_the_app_waits_for_every_replica_and_runs_no_web_server_by_default() -> None:
    app = make_app("order", "127.0.0.1:9092,127.0.0.1:9093", partitions=12)
    assert app.conf.producer_acks == -1
    assert app.conf.topic_partitions == 12
    assert app.conf.web_enabled is False
    assert [str(url) for url in app.conf.broker] == ["kafka://127.0.0.1:9092", "kafka://127.0.0.1:9093"]
    assert app.conf.consumer_auto_offset_reset == "earliest"


def test_the_web_server_can_be_switched_on_at_a_chosen_port() -> None:
    app = make_app("order", "127.0.0.1:9092", web_port=6071)
    assert app.conf.web_enabled is True
    assert app.conf.web_port == 6071
