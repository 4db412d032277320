"""A logging filter that masks personal data in every record, whatever the call site logged."""

from __future__ import annotations

import logging
import re

from cbec.privacy.masking import PII_FIELDS, mask_value

# 18-character PRC resident ID numbers (last character may be X) and 11-digit mainland mobiles.
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
MOBILE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d{9}(?!\d)")
# name=value / "name": "value" / 'name': 'value' / <name>value</name> for the known PII fields.
_NAMES = "|".join(sorted(PII_FIELDS, key=len, reverse=True))
FIELD_VALUE = re.compile(
    rf"""(?P<pre>(?P<q>["']?)\b(?:{_NAMES})\b(?P=q)\s*[:=]\s*)(?P<vq>["'])?(?P<value>(?(vq)[^"']*|[^\s,;&}}\]]+))(?(vq)(?P=vq))"""
)
XML_FIELD = re.compile(rf"(?P<open><(?:\w+:)?(?:{_NAMES})>)(?P<value>[^<]*)(?P<close></)")


def mask_text(text: str) -> str:
    """``text`` with PII values of known fields, ID numbers and mobile numbers masked."""
    text = FIELD_VALUE.sub(
        lambda m: f"{m['pre']}{m['vq'] or ''}{mask_value(m['value'])}{m['vq'] or ''}", text
    )
    text = XML_FIELD.sub(lambda m: f"{m['open']}{mask_value(m['value'])}{m['close']}", text)
    text = ID_NUMBER.sub(lambda m: mask_value(m.group()), text)
    return MOBILE.sub(lambda m: mask_value(m.group()), text)


class PiiFilter(logging.Filter):
    """Renders each record's message once, masked, so no handler sees the raw arguments.

    Install it on handlers (``configure_logging`` does): a filter on a logger does not see records
    that propagate from child loggers.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not stop logging
            message = f"{record.msg!r} {record.args!r}"
        record.msg = mask_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True
