"""`cbec sign` and `cbec verify`: CEB signatures from the command line, for enterprises and support.

`sign` takes the key files an enterprise holds (PEM pairs, or the E-Port issue: ``sign.cer`` in DER,
PEM or base64 text plus the private key file) and writes the signed XML to stdout, checked on its
exact bytes like everything the signer service produces. `verify` prints one line per file.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from cbec.errors import CebValidationError
from cbec.signing.profiles import DEFAULT_PROFILE, PROFILES, UnknownProfile
from cbec.signing.xmldsig import SigningError, VerifyResult, sign_document, verify_document
from cryptography.exceptions import UnsupportedAlgorithm

from cbec_cli.ceb_commands import business_bytes

KEY_ERROR = "CBEC-SIG-KEY"
PROFILE_NAMES = ", ".join(PROFILES)
IO_ERROR = "CBEC-IO"


def _password(env: str | None) -> bytes | None:
    """The key password from the named environment variable (never from the command line)."""
    if env is None:
        return None
    value = os.environ.get(env)
    if value is None:
        raise typer.BadParameter(f"environment variable {env} is not set", param_hint="--key-password-env")
    return value.encode()


def verify_line(path: Path, profile: str | None = None) -> tuple[bool, str]:
    """``(ok, line)`` for one file: ``verified`` with algorithm, profile and serial, or why not."""
    try:
        xml = business_bytes(path.read_bytes())
    except OSError as exc:
        return False, f"{path}: cannot read: {exc.strerror} [{IO_ERROR}]"
    except CebValidationError as exc:
        first = exc.errors[0]
        return False, f"{path}: {first.message} [{first.code}]"
    result: VerifyResult = verify_document(xml, profile=profile)
    if result.ok:
        return True, (
            f"{path}: verified ({result.algorithm}, profile {result.profile}, certificate serial {result.serial_hex})"
        )
    return False, f"{path}: {result.reason} [{result.code}]"


def register(app: typer.Typer) -> None:
    """Add this module's commands to the CLI."""

    @app.command("sign")
    def sign_cmd(
        file: Annotated[Path, typer.Argument(help="The CEB declaration to sign (bare XML, not a DxpMsg).")],
        key: Annotated[Path, typer.Option("--key", help="Private key: PEM (PKCS#8/SEC1) or DER.")],
        cert: Annotated[Path, typer.Option("--cert", help="Certificate: PEM, or the E-Port's sign.cer (DER/base64).")],
        profile: Annotated[str, typer.Option(help=f"Signing profile: {PROFILE_NAMES}.")] = DEFAULT_PROFILE,
        key_password_env: Annotated[
            str | None, typer.Option(help="Read the password of an encrypted key from this environment variable.")
        ] = None,
    ) -> None:
        """Sign a declaration; the signed XML goes to stdout (an existing signature is replaced)."""
        if profile not in PROFILES:
            raise typer.BadParameter(f"unknown profile {profile!r}; known: {PROFILE_NAMES}", param_hint="--profile")
        from cbec.signing.keys import load_key_files

        try:
            signing_key = load_key_files(key, cert, _password(key_password_env))
        except OSError as exc:
            typer.echo(f"{exc.filename}: cannot read: {exc.strerror} [{IO_ERROR}]", err=True)
            raise typer.Exit(1) from None
        except (ValueError, TypeError, RuntimeError, UnsupportedAlgorithm) as exc:  # certificate, key, OpenSSL
            typer.echo(f"{key}: cannot load the key pair: {' '.join(str(exc).split())} [{KEY_ERROR}]", err=True)
            raise typer.Exit(1) from None
        try:
            signed = sign_document(file.read_bytes(), signing_key, profile)
        except OSError as exc:
            typer.echo(f"{file}: cannot read: {exc.strerror} [{IO_ERROR}]", err=True)
            raise typer.Exit(1) from None
        except (SigningError, UnknownProfile) as exc:
            code = exc.code if isinstance(exc, SigningError) else "CBEC-SIG-PROFILE"
            typer.echo(f"{file}: {' '.join(str(exc).split())} [{code}]", err=True)
            raise typer.Exit(1) from None
        sys.stdout.buffer.write(signed)
        sys.stdout.buffer.flush()

    @app.command("verify")
    def verify_cmd(
        files: Annotated[list[Path], typer.Argument(help="Signed CEB XML files (bare or DxpMsg-wrapped).")],
        profile: Annotated[
            str | None, typer.Option(help=f"Check against this profile only ({PROFILE_NAMES}); default: inferred.")
        ] = None,
    ) -> None:
        """Verify signatures: one line per file, `verified` or the reason; exit 1 when any fails."""
        if profile is not None and profile not in PROFILES:
            raise typer.BadParameter(f"unknown profile {profile!r}; known: {PROFILE_NAMES}", param_hint="--profile")
        failed = False
        for path in files:
            ok, line = verify_line(path, profile)
            failed = failed or not ok
            typer.echo(line)
        if failed:
            raise typer.Exit(1)
