"""A receipt stamped later than now is not from customs.

Customs stamps each receipt's ``returnTime`` (``yyyyMMddHHmmss[SSS]``, China Standard Time). The
platform orders a document's receipts by that time, so a receipt dated in the future would stay the
document's current one for ever. A receipt dated beyond now + ``CBEC_RECEIPT_MAX_SKEW`` (10 minutes by
default: clocks differ a little) or with a time that is not a customs time is refused: never
recorded, never the latest, and reported (a WARNING line and the service's dead-letter topic; the
saga raises a ClearanceAlert).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from cbec.errors import CebError

CST = timezone(timedelta(hours=8), "CST")
DEFAULT_MAX_SKEW = timedelta(minutes=10)
CODE = "CBEC-RECEIPT-TIME"
RULE = "receipts only from customs: returnTime not after now + CBEC_RECEIPT_MAX_SKEW"


def parse_return_time(text: str) -> datetime | None:
    """``20260101120000123`` (or without milliseconds) as an aware time; None when it is not one."""
    if len(text) not in (14, 17) or not text.isascii() or not text.isdigit():
        return None
    # Fourteen digits leave ``strptime("%Y%m%d%H%M%S")`` two per field, so reading them by position is
    # the same parse (the datetime refuses what strptime refuses), about six times cheaper.
    try:
        moment = datetime(int(text[0:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]), int(text[10:12]),
                          int(text[12:14]), tzinfo=CST)
    except ValueError:
        return None
    return moment + timedelta(milliseconds=int(text[14:] or 0))


def return_time_problem(return_time: str, now: datetime, max_skew: timedelta = DEFAULT_MAX_SKEW) -> CebError | None:
    """Why a receipt with this ``returnTime`` is refused; None when it may be recorded (an empty time is)."""
    if not return_time:
        return None
    moment = parse_return_time(return_time)
    if moment is None:
        return CebError(CODE, "return_time", RULE,
                        f"returnTime {return_time!r} is not a customs time (yyyyMMddHHmmssSSS)")
    if moment > now + max_skew:
        return CebError(CODE, "return_time", RULE,
                        f"returnTime {return_time} is {moment - now} after now (allowed: {max_skew})")
    return None
