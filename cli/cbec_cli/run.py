"""`cbec run <service>`: start one service as a foreground process (configured by CBEC_* variables)."""

from __future__ import annotations

import importlib
import os
from typing import Annotated

import typer

SERVICES: dict[str, str] = {
    "order": "order_service.worker",
    "payment": "payment_service.worker",
    "logistics": "logistics_service.worker",
    "inventory": "inventory_service.worker",
    "signer": "signer_service.main",
    "receipts": "receipts_service.worker",
    "saga": "saga_service.worker",
}


def run_simulator() -> None:
    """The customs simulator as its own process, on the DXP outbox/inbox folders."""
    from cbec.customs.simulator import CustomsSimulator, SimulatorSettings
    from cbec.runtime import ServiceProcess
    from cbec.settings import Settings

    settings = Settings()
    journal = settings.simulator_journal or settings.dxp_outbox.parent / "simulator-journal.txt"
    simulator = CustomsSimulator(settings.dxp_outbox, settings.dxp_inbox, journal=journal,
                                 config=SimulatorSettings().config())
    ServiceProcess("simulator", pollers=[simulator.poll], poll_interval=settings.poll_interval,
                   ready_file=settings.ready_file).run()


def register(app: typer.Typer) -> None:
    @app.command()
    def run(
        service: Annotated[str, typer.Argument(help=f"One of: {', '.join([*SERVICES, 'simulator'])}.")],
    ) -> None:
        """Run one service process in the foreground until SIGTERM."""
        from cbec.logging_setup import configure_logging
        from cbec.runtime import discard_ready_file

        configure_logging(os.environ.get("CBEC_LOG_LEVEL", "INFO"))
        discard_ready_file(os.environ.get("CBEC_READY_FILE"))  # a restart never inherits a stale signal
        if service == "simulator":
            run_simulator()
            return
        if service not in SERVICES:
            raise typer.BadParameter(f"unknown service {service!r}; choose from {', '.join(SERVICES)}")
        module = importlib.import_module(SERVICES[service])
        module.run()

    @app.command()
    def replay(
        tenant: Annotated[str | None, typer.Option(help="Only this tenant's status messages.")] = None,
        since: Annotated[int | None, typer.Option(help="Only messages after this notification id.")] = None,
    ) -> None:
        """Re-send stored status messages (webhooks and cbec.out.status) from the saga's store."""
        from saga_service import replay as replay_module

        argv = [*(["--tenant", tenant] if tenant else []), *(["--since", str(since)] if since is not None else [])]
        raise typer.Exit(replay_module.main(argv))

    @app.command("reencrypt-pii")
    def reencrypt_pii(
        service: Annotated[str, typer.Argument(help="order, payment, logistics or inventory")],
        database_url: Annotated[str | None, typer.Option(envvar=["CBEC_DATABASE_URL", "DATABASE_URL"])] = None,
    ) -> None:
        """After a key rotation (CBEC_PII_KEYS=new,old): re-encrypt the service's events under the new key."""
        from cbec.privacy.cipher import AesGcmCipher
        from cbec.privacy.reencrypt import reencrypt
        from cbec.settings import Settings, schema_for

        cipher = AesGcmCipher.from_env()
        if cipher is None:
            raise typer.BadParameter("CBEC_PII_KEYS is not set")
        settings = Settings()
        changed = reencrypt(database_url or settings.database_url, schema=schema_for(settings, service),
                            name=service, cipher=cipher)
        typer.echo(f"{service}: {changed} events re-encrypted under key {cipher.ring.current}")

    @app.command()
    def status(
        doc_type: Annotated[str, typer.Argument(help="CEB311, CEB411, …")],
        key: Annotated[list[str], typer.Argument(help="The business key, e.g. EBPCODE ORDERNO.")],
        database_url: Annotated[str | None, typer.Option(envvar=["CBEC_DATABASE_URL", "DATABASE_URL"])] = None,
    ) -> None:
        """Print one document's status and receipt history as JSON (reads the owning service's store)."""
        import json

        from cbec.declaration import lifecycle
        from cbec.declaration.doctypes import BY_CODE
        from cbec.declaration.views import status_view
        from cbec.store.event_store import EventStore

        doc_type_spec = BY_CODE.get(doc_type)
        if doc_type_spec is None:
            raise typer.BadParameter(f"unknown document type {doc_type!r}")
        from cbec.settings import Settings, schema_for

        settings = Settings()
        url = database_url or settings.database_url
        store = EventStore.open(url, schema=schema_for(settings, doc_type_spec.service), name=doc_type_spec.service)
        try:
            events = [(e.type, e.data) for e in store.read(doc_type_spec.stream_id(tuple(key)))]
        finally:
            store.close()
        if not events:
            typer.echo(json.dumps({"error": "no such document"}))
            raise typer.Exit(1)
        typer.echo(json.dumps(status_view(lifecycle.fold(doc_type, events)), ensure_ascii=False, indent=2))
