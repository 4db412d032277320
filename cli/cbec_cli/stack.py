"""`cbec up`, `cbec down`, `cbec stack-env`: the production column of adapters on one machine.

`up` starts Kafka, Postgres and a SoftHSM2 token (each unless given from outside through
KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL / SOFTHSM2_CONF), then one `cbec run <name>` process per
service, and writes `<dir>/stack.env`. `down` stops services first, then Kafka, Postgres and the token.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cbec_cli.stack_runtime import (
    DEFAULT_SERVICES,
    ServiceOutcome,
    StackError,
    cbec_command,
    is_running,
    parse_env_lines,
    read_started_servers,
    recorded_services,
    run_server_script,
    service_environment,
    start_service,
    stop_service,
    wait_until_up,
    write_stack_env,
    write_started_servers,
)

console = Console(stderr=True)

DirOption = Annotated[Path, typer.Option("--dir", help="Directory holding the stack's data, pids and logs.")]

# server -> the env var that, when already set, names an external server to use instead
STOP_ORDER = ("kafka", "postgres", "softhsm")
EXTERNAL = {"kafka": "KAFKA_BOOTSTRAP_SERVERS", "postgres": "DATABASE_URL", "softhsm": "SOFTHSM2_CONF"}


def _service_names(services: list[str] | None) -> list[str]:
    if services is None:
        return list(DEFAULT_SERVICES)
    return [name.strip() for item in services for name in item.split(",") if name.strip()]


def _start_servers(stack_dir: Path, with_servers: bool, with_hsm: bool) -> dict[str, str]:
    values: dict[str, str] = {}
    started: list[str] = []
    wanted = [("kafka", with_servers), ("postgres", with_servers), ("softhsm", with_hsm)]
    for server, enabled in wanted:
        external = os.environ.get(EXTERNAL[server])
        if external:
            values[EXTERNAL[server]] = external
            console.print(f"[cyan]{server}[/]: using {EXTERNAL[server]} from the environment")
            continue
        if not enabled:
            continue
        with console.status(f"starting {server}…"):
            try:
                values.update(run_server_script(server, "start", stack_dir))
            except StackError:
                _stop_servers(stack_dir, started)
                write_started_servers(stack_dir, [])
                raise
        started.append(server)
        write_started_servers(stack_dir, started)
        console.print(f"[green]{server}[/]: started")
    return values


def _stop_servers(stack_dir: Path, servers: list[str]) -> None:
    """Stops the broker before the database, so nothing still consuming loses its store first."""
    for server in sorted(servers, key=STOP_ORDER.index):
        try:
            run_server_script(server, "stop", stack_dir)
            console.print(f"[green]{server}[/]: stopped")
        except StackError as error:
            console.print(f"[red]{server}[/]: {error}")


def dev_signing_identity(stack_dir: Path, tenant_code: str) -> dict[str, str]:
    """A throwaway SM2 key and self-signed certificate for the signer's software backend (local only)."""
    from cbec.signing.certs import generate_sm2_identity
    from cbec_testkit.tenants import demo_registry

    names = {tenant.customs_code: tenant.name for tenant in demo_registry().all()}
    key_pem, cert_pem = generate_sm2_identity(tenant_code, names.get(tenant_code, tenant_code))
    folder = stack_dir / "signer"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sign.key").write_bytes(key_pem)
    (folder / "sign.key").chmod(0o600)
    (folder / "sign.cer").write_bytes(cert_pem)
    return {
        "CBEC_SIGNER_BACKEND": "software",
        "CBEC_SIGNER_KEY_PEM": str(folder / "sign.key"),
        "CBEC_SIGNER_CERT_PEM": str(folder / "sign.cer"),
        "CBEC_SIGNER_TENANT": tenant_code,
    }


def _print_outcomes(outcomes: list[ServiceOutcome]) -> None:
    table = Table(title="services")
    table.add_column("service")
    table.add_column("state")
    table.add_column("detail", overflow="fold")
    colours = {"ready": "green", "running": "yellow", "failed": "red"}
    for outcome in outcomes:
        first_line = outcome.detail.splitlines()[0] if outcome.detail else ""
        table.add_row(outcome.name, f"[{colours[outcome.state]}]{outcome.state}[/]", first_line)
    console.print(table)
    for outcome in outcomes:
        if outcome.state == "failed":
            console.rule(f"[red]{outcome.name}[/]")
            console.print(outcome.detail, markup=False, highlight=False)


def up(
    services: Annotated[
        list[str] | None,
        typer.Option(help="Services to run (comma-separated or repeated); '' for none. Default: all."),
    ] = None,
    stack_dir: DirOption = Path(".stack"),
    servers: Annotated[bool, typer.Option(help="Start Kafka and Postgres (unless given in the env).")] = True,
    hsm: Annotated[bool, typer.Option(help="Initialise a SoftHSM2 token for the signer.")] = True,
    wait: Annotated[float, typer.Option(help="Seconds to watch services for readiness or exit.")] = 30.0,
    signer_tenant: Annotated[
        str, typer.Option(help="Customs code of the throwaway software key made when none is configured.")
    ] = "3105960001",
) -> None:
    """Start the local stack: Kafka, Postgres, a SoftHSM2 token, then every service."""
    stack_dir = stack_dir.resolve()
    if any(is_running(service) for service in recorded_services(stack_dir)) or read_started_servers(stack_dir):
        console.print(f"[red]a stack is already up in {stack_dir}[/]: `cbec down --dir {stack_dir}` first")
        raise typer.Exit(1)
    for sub in ("dxp/outbox", "dxp/inbox", "services"):
        (stack_dir / sub).mkdir(parents=True, exist_ok=True)
    try:
        values = _start_servers(stack_dir, servers, hsm)
    except StackError as error:
        console.print(f"[red]cannot start the stack[/]: {error}")
        raise typer.Exit(1) from error

    names = _service_names(services)
    software_signer = os.environ.get("CBEC_SIGNER_BACKEND", "software") == "software"
    if "signer" in names and software_signer and not os.environ.get("CBEC_SIGNER_KEY_PEM"):
        values.update(dev_signing_identity(stack_dir, signer_tenant))
    started = []
    for name in names:
        env = service_environment(os.environ, values, stack_dir, name)
        started.append(start_service(name, cbec_command(name), env, stack_dir))
    with console.status(f"waiting for {len(started)} services…"):
        outcomes = wait_until_up(started, wait) if started else []
    if outcomes:
        _print_outcomes(outcomes)

    stack_values = {
        key: value
        for key, value in service_environment({}, values, stack_dir, "").items()
        if key not in {"CBEC_READY_FILE", "CBEC_SERVICE_NAME"}
    }
    env_file = write_stack_env(stack_dir, stack_values)
    console.print(f"stack env written to {env_file}")
    failed = [outcome.name for outcome in outcomes if outcome.state == "failed"]
    if failed:
        console.print(f"[red]failed to start: {', '.join(failed)}[/] (the rest runs on; `cbec down` stops it)")
        raise typer.Exit(1)


def down(stack_dir: DirOption = Path(".stack")) -> None:
    """Stop what `cbec up` started: services first, then Kafka, Postgres and the token."""
    stack_dir = stack_dir.resolve()
    for service in reversed(recorded_services(stack_dir)):
        stopped = stop_service(service)
        console.print(f"[green]{service.name}[/]: {'stopped' if stopped else 'was not running'}")
    _stop_servers(stack_dir, read_started_servers(stack_dir))
    (stack_dir / "servers.json").unlink(missing_ok=True)
    (stack_dir / "stack.env").unlink(missing_ok=True)


def stack_env(
    stack_dir: DirOption = Path(".stack"),
    shell: Annotated[bool, typer.Option(help="Print `export K=V` lines for eval.")] = False,
) -> None:
    """Print the running stack's settings (KEY=VALUE lines of <dir>/stack.env)."""
    path = stack_dir.resolve() / "stack.env"
    if not path.exists():
        console.print(f"[red]no stack is up in {path.parent}[/] (run `cbec up`)")
        raise typer.Exit(1)
    text = path.read_text()
    if shell:
        text = "".join(f"export {key}={shlex.quote(value)}\n" for key, value in parse_env_lines(text).items())
    typer.echo(text, nl=False)


def register(app: typer.Typer) -> None:
    """Add `up`, `down` and `stack-env` to the CLI."""
    app.command("up")(up)
    app.command("down")(down)
    app.command("stack-env")(stack_env)
