"""`cbec up`, `cbec down`, `cbec stack-env`: the production column of adapters on one machine.

`up` starts Kafka, Postgres and a SoftHSM2 token (each unless given from outside through
KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL / SOFTHSM2_CONF), gives the signer a software SM2 identity
for every tenant (unless it has keys configured), then starts one `cbec run <name>` process per
service, and writes `<dir>/stack.env`. `down` stops services first, then Kafka, Postgres and the token.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cbec_cli.console_commands import console_values
from cbec_cli.stack_identities import (
    provision_identities,
    signer_settings,
    stack_tenants,
    write_signer_tenants_file,
)
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


def signer_identities(stack_dir: Path, env: Mapping[str, str]) -> dict[str, str]:
    """The signer's settings: a software SM2 identity for every tenant, unless keys are configured.

    Keys given in the environment (`CBEC_SIGNER_KEY_PEM`, `CBEC_SIGNER_TENANTS_FILE`) or a `pkcs11`
    backend are left as they are. Prints one line per tenant: code, name, certificate, serial.
    """
    if env.get("CBEC_SIGNER_BACKEND", "software") != "software":
        return {}
    configured = [name for name in ("CBEC_SIGNER_TENANTS_FILE", "CBEC_SIGNER_KEY_PEM") if env.get(name)]
    if configured:
        console.print(f"[cyan]signer[/]: using {' and '.join(configured)} from the environment")
        return {}
    folder = stack_dir / "signer"
    identities = provision_identities(folder, stack_tenants(env))
    tenants_file = write_signer_tenants_file(folder, identities)
    made = sum(not identity.reused for identity in identities)
    console.print(
        f"[green]signer[/]: software SM2 identities for {len(identities)} tenants "
        f"({made} new, {len(identities) - made} reused) in {escape(str(tenants_file))}",
        soft_wrap=True,
    )
    for i in identities:
        line = f"  {i.customs_code}  {i.name}  cert {i.cert_pem}  serial {i.serial_hex}"
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    return signer_settings(tenants_file)


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
) -> None:
    """Start the local stack: Kafka, Postgres, a SoftHSM2 token, a signing key per tenant, every service."""
    stack_dir = stack_dir.resolve()
    if any(is_running(service) for service in recorded_services(stack_dir)) or read_started_servers(stack_dir):
        console.print(f"[red]a stack is already up in {stack_dir}[/]: `cbec down --dir {stack_dir}` first")
        raise typer.Exit(1)
    for sub in ("dxp/outbox", "dxp/inbox", "services"):
        (stack_dir / sub).mkdir(parents=True, exist_ok=True)
    try:
        signer = signer_identities(stack_dir, os.environ)
    except (OSError, ValueError, KeyError) as error:  # an unreadable or malformed CBEC_TENANTS_FILE
        console.print(f"[red]cannot make the signer's identities[/]: {error!r}")
        raise typer.Exit(1) from error
    try:
        values = {**_start_servers(stack_dir, servers, hsm), **signer}
    except StackError as error:
        console.print(f"[red]cannot start the stack[/]: {error}")
        raise typer.Exit(1) from error

    names = _service_names(services)
    if "console" in names:
        values = {**console_values(stack_dir, os.environ), **values}
    started = []
    for name in names:
        env = service_environment(os.environ, values, stack_dir, name)
        if name == "console":
            env["CBEC_HTTP_PORT"] = values["CBEC_CONSOLE_PORT"]
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
    if "console" in names:
        console.print(f"console: http://127.0.0.1:{values['CBEC_CONSOLE_PORT']}/ (users: docs/console.md)")
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
