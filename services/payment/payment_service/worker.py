"""`cbec run payment`: the payment service process."""

from __future__ import annotations

from cbec.declaration.worker import build_process

from payment_service import application, domain


def run() -> None:
    build_process(domain.SERVICE, application.build).run()
