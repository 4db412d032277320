"""`cbec run <service>`: start one service as a foreground process (configured by CBEC_* variables)."""

from __future__ import annotations

import importlib
import logging
from typing import Annotated

import typer
from cbec import production
from cbec.logging_setup import configure_logging
from cbec.production import UnsafeForProduction
from cbec.runtime import discard_ready_file
from cbec.settings import Settings
from cbec.tenants import TenantRegistry
from cbec.tenants_config import NoTenants, load_tenants

BOOTSTRAPS: dict[str, str] = {
    "order": "order_service.bootstrap",
    "payment": "payment_service.bootstrap",
    "logistics": "logistics_service.bootstrap",
    "inventory": "inventory_service.bootstrap",
    "signer": "signer_service.bootstrap",
    "receipts": "receipts_service.bootstrap",
    "saga": "saga_service.bootstrap",
    "console": "console_service.bootstrap",  # the web console (HTTP on CBEC_HTTP_PORT)
}
SERVICES = list(BOOTSTRAPS)


def demo_tenants() -> TenantRegistry:
    """The test kit's demo tenants (development only, and only where the test kit is installed)."""
    try:
        from cbec_testkit.tenants import demo_registry
    except ImportError:
        raise NoTenants("cbec: CBEC_TENANTS_FILE is not set and the demo tenants (test kit) are not installed"
                        " here") from None
    registry: TenantRegistry = demo_registry()
    return registry


def tenants_for(settings: Settings) -> TenantRegistry:
    """``CBEC_TENANTS_FILE``; in development only, the demo tenants when it is not set."""
    if settings.tenants.file is None and settings.production:
        raise UnsafeForProduction(production.tenants_problems(settings))
    return load_tenants(settings, None if settings.production else demo_tenants)


def run_service(service: str, settings: Settings) -> None:
    """Build ``service`` through its bootstrap from ``settings`` and run it until SIGTERM."""
    if service == "simulator":
        from cbec_testkit.customs.simulator import run_process  # the test kit: development only

        run_process(settings)
        return
    if service == "console":
        from cbec_cli.console_commands import run_console

        run_console(settings, tenants_for(settings))
        return
    bootstrap = importlib.import_module(BOOTSTRAPS[service])
    if service == "signer":  # in development it signs for whichever tenants it has keys for
        bootstrap.run(settings, tenants_for(settings) if settings.tenants.file or settings.production else None)
        return
    bootstrap.process(settings, tenants_for(settings)).run()


def register(app: typer.Typer) -> None:
    @app.command()
    def run(
        service: Annotated[str, typer.Argument(help=f"One of: {', '.join([*SERVICES, 'simulator'])}.")],
    ) -> None:
        """Run one service process in the foreground until SIGTERM."""
        if service != "simulator" and service not in BOOTSTRAPS:
            raise typer.BadParameter(f"unknown service {service!r}; choose from {', '.join(SERVICES)}")
        configure_logging("INFO")  # first, so even a bad setting is reported as one JSON line
        settings = Settings()  # the one read of the environment in this process
        logging.getLogger().setLevel(settings.process.log_level or "INFO")
        discard_ready_file(settings.process.ready_file)  # a restart never inherits a stale signal
        run_service(service, settings)

    @app.command()
    def replay(
        tenant: Annotated[str | None, typer.Option(help="Only this tenant's status messages.")] = None,
        since: Annotated[int | None, typer.Option(help="Only messages after this notification id.")] = None,
    ) -> None:
        """Re-send stored status messages (webhooks and cbec.out.status) from the saga's store."""
        from saga_service import replay as replay_module

        argv = [*(["--tenant", tenant] if tenant else []), *(["--since", str(since)] if since is not None else [])]
        settings = Settings()
        raise typer.Exit(replay_module.main(argv, settings, tenants_for(settings)))

    @app.command("reencrypt-pii")
    def reencrypt_pii(
        service: Annotated[str, typer.Argument(help="order, payment, logistics, inventory or console")],
        database_url: Annotated[str | None, typer.Option(envvar=["CBEC_DATABASE_URL", "DATABASE_URL"])] = None,
    ) -> None:
        """After a key rotation (CBEC_PII_KEYS=new,old): re-encrypt the service's events under the new key
        (console: its stored import drafts, batches and hand-off parcels, in CBEC_CONSOLE_DATABASE_URL when
        set)."""
        from cbec.privacy.cipher import AesGcmCipher
        from cbec.privacy.reencrypt import reencrypt

        settings = Settings()
        cipher = AesGcmCipher.from_spec(settings.pii.key_spec())
        if cipher is None:
            raise typer.BadParameter("CBEC_PII_KEYS is not set")
        if service == "console":
            from cbec_cli.console_commands import reencrypt_console

            raise typer.Exit(reencrypt_console(settings, cipher, database_url))
        changed = reencrypt(database_url or settings.database.url, schema=settings.database.schema_for(service),
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
        settings = Settings()
        url = database_url or settings.database.url
        store = EventStore.open(url, schema=settings.database.schema_for(doc_type_spec.service),
                                name=doc_type_spec.service)
        try:
            events = [(e.type, e.data) for e in store.read(doc_type_spec.stream_id(tuple(key)))]
        finally:
            store.close()
        if not events:
            typer.echo(json.dumps({"error": "no such document"}))
            raise typer.Exit(1)
        typer.echo(json.dumps(status_view(lifecycle.fold(doc_type, events)), ensure_ascii=False, indent=2))
