"""The order (CEB311): the one document type this service owns. An order waits for nothing."""

from __future__ import annotations

from cbec.declaration.application import no_prerequisites
from cbec.declaration.doctypes import ORDER

DOC_TYPES = [ORDER]
SERVICE = "order"
waiting_for = no_prerequisites
