"""The payment (CEB411): released at once, like the order; the saga pairs it with its order."""

from __future__ import annotations

from cbec.declaration.application import no_prerequisites
from cbec.declaration.doctypes import PAYMENT

DOC_TYPES = [PAYMENT]
SERVICE = "payment"
waiting_for = no_prerequisites
