"""The `cbec` command: the composition root that wires adapters and services."""

from __future__ import annotations

import typer

from cbec_cli import (
    ceb_commands,
    console_commands,
    demo,
    dlq,
    kafka_acls,
    migrate,
    notifications,
    run,
    sign_commands,
    stack,
    summary,
)

app = typer.Typer(help="cbec: cross-border e-commerce declarations to China Customs.", no_args_is_help=True)



@app.callback()
def main() -> None:
    """cbec: cross-border e-commerce declarations to China Customs."""


demo.register(app)
run.register(app)
stack.register(app)
ceb_commands.register(app)
sign_commands.register(app)
kafka_acls.register(app)
dlq.register(app)
notifications.register(app)
migrate.register(app)
summary.register(app)
console_commands.register(app)

if __name__ == "__main__":
    app()
