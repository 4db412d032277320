"""`cbec run payment`, the embedded demo and the tests build the payment service here, from the settings
tree and the adapters they pass (store, tenants)."""

from __future__ import annotations

from cbec.declaration.bootstrap import DeclarationBootstrap

from payment_service import application, domain

SERVICE = domain.SERVICE
BOOTSTRAP = DeclarationBootstrap(SERVICE, application.build)
build, check, process = BOOTSTRAP.build, BOOTSTRAP.check, BOOTSTRAP.process
