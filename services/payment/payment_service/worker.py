"""`cbec run payment`: the payment service process."""

from __future__ import annotations

from cbec.declaration.worker import build_process

from payment_service import application, domain


def run() -> None:
    build_process(domain.SERVICE, domain.DOC_TYPES, domain.waiting_for, build_app=application.build).run()
