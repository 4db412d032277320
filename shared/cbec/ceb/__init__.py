"""CEB 2022-05 messages: table-driven models, XML build/parse, DXP envelope, validation.

Modules: ``codec`` (build/parse), ``dxp`` (DxpMsg wrap/unwrap), ``structure`` (XSD-level checks
in the product), ``rules`` (business rules, ceb-formats §8.A), ``xsd`` (the official schemas as
a test oracle), ``tables`` (generated field tables).
"""

from __future__ import annotations

from cbec.ceb.codec import build, message_type_of, parse
from cbec.ceb.model import CebMessage

__all__ = ["CebMessage", "build", "message_type_of", "parse"]
