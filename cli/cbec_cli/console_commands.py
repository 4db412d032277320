"""`cbec console …`: the web console's users (`cbec run console` serves it)."""

from __future__ import annotations

import socket
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from cbec.settings import Settings
from cbec.tenants import TenantRegistry

if TYPE_CHECKING:
    from cbec.privacy.cipher import AesGcmCipher
    from console_service.platform import Platform

console_app = typer.Typer(help="The web console's users (served by `cbec run console`).", no_args_is_help=True)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@console_app.command("create-operator")
def create_operator(
    username: Annotated[str, typer.Option(help="The operator's user name.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Create a platform operator user (the first user of a new console) in the console's database."""
    _add(username, password_stdin, platform_operator=True, memberships={})


@console_app.command("add-user")
def add_user(
    username: Annotated[str, typer.Option(help="The user's name.")],
    enterprise: Annotated[str, typer.Option(help="Customs code of the user's enterprise.")],
    role: Annotated[str, typer.Option(help="admin, operator or viewer.")] = "viewer",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Create an enterprise user with a role in one enterprise."""
    from console_service.accounts import ConsoleRole

    if role not in {r.value for r in ConsoleRole}:
        raise typer.BadParameter("role must be admin, operator or viewer")
    _add(username, password_stdin, platform_operator=False, memberships={enterprise: ConsoleRole(role)})


def _add(username: str, password_stdin: bool, *, platform_operator: bool, memberships: dict[str, object]) -> None:
    from console_service.accounts import ConsoleRole, MemoryAccounts, Passwords, User, UserExists
    from console_service.bootstrap import open_accounts

    settings = Settings()
    accounts = open_accounts(settings)
    if isinstance(accounts, MemoryAccounts):
        typer.echo("set CBEC_CONSOLE_DATABASE_URL: users made here must outlive this command",
                   err=True)
        raise typer.Exit(2)
    try:
        password_hash = Passwords().hash(_password(password_stdin))
    except ValueError as weak:
        raise typer.BadParameter(str(weak)) from None
    roles = {code: ConsoleRole(str(role)) for code, role in memberships.items()}
    try:
        accounts.add_user(User(username, password_hash, roles, platform_operator))
    except UserExists:
        typer.echo("a user of that name exists already", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"created {'platform operator' if platform_operator else 'user'} {username}")


def run_console(settings: Settings, tenants: TenantRegistry) -> None:
    """`cbec run console`: in development with the test kit's embedded sandbox platform (the simulator)."""
    from console_service.bootstrap import process

    def embedded_sandbox(registry: TenantRegistry) -> tuple[Platform, Callable[[], None]]:
        from cbec_testkit.console_platform import EmbeddedPlatform  # the test kit: development only

        sandbox = EmbeddedPlatform(Path(tempfile.mkdtemp(prefix="cbec-console-sandbox-")), "sandbox",
                                   tenants=registry, settings=settings).start()
        return sandbox.platform, sandbox.close

    try:
        import cbec_testkit  # noqa: F401 - the embedded sandbox needs it (not in the production image)
    except ImportError:
        typer.echo("cbec console: the test kit is not installed here: no embedded sandbox", err=True)
        process(settings, tenants).run()
        return
    process(settings, tenants, None if settings.production else embedded_sandbox).run()


def console_values(stack_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """What `cbec up` gives the console: a port (``CBEC_CONSOLE_PORT``, else 8080 when free, else any free
    one) and a users' database in the stack dir (so `cbec console create-operator` reaches it)."""
    port = environ.get("CBEC_CONSOLE_PORT") or str(_free_port(8080))
    return {"CBEC_CONSOLE_PORT": port,
            "CBEC_CONSOLE_DATABASE_URL": environ.get("CBEC_CONSOLE_DATABASE_URL")
            or f"sqlite:///{stack_dir / 'console.db'}"}


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise OSError("no free port")


def register(app: typer.Typer) -> None:
    app.add_typer(console_app, name="console")


def reencrypt_console(settings: Settings, cipher: AesGcmCipher, database_url: str | None) -> int:
    """`cbec reencrypt-pii console`: the console's drafts, batches and parcels under the newest key, with a
    progress line per batch; returns the exit code (1 when a row opens with no key of the ring: it is named
    by table and id, never shown)."""
    from cbec.readmodel.tables import open_engine
    from console_service.reencrypt import reencrypt_console as run
    from console_service.stores import ConsoleTables

    own = settings.console.database_url
    url = own.get_secret_value() if own else database_url or settings.database.url
    engine = open_engine(url, pool_size=1, max_overflow=0)
    try:
        done = run(ConsoleTables(engine, cipher, settings.database.schema_for("console")),
                   progress=lambda line: typer.echo(f"console: {line}"))
    finally:
        engine.dispose()
    for table in done.missing:
        typer.echo(f"console: no table {table} in this database (nothing to do)")
    typer.echo(f"console: {done.total} rows re-encrypted under key {cipher.ring.current}")
    for row in done.unreadable:
        typer.echo(f"console: {row.table} id {row.id} opens with no key of the ring, left as it is: {row.reason}",
                   err=True)
    if done.unreadable:
        typer.echo(f"console: {len(done.unreadable)} rows unreadable: keep the old keys until they are dealt with",
                   err=True)
        return 1
    return 0
