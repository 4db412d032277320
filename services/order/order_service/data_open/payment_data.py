"""The payment raw data a platform submits per payment (公告179 ``payExchangeInfoHead`` and
``payExchangeInfoLists``), with the interface's field lengths, and its canonical JSON text."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

GUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")


LINE = r"^[^\x00-\x1f\x7f]*$"  # no control characters
Code18 = Annotated[str, StringConstraints(min_length=1, max_length=18, pattern=LINE)]
Text60 = Annotated[str, StringConstraints(min_length=1, max_length=60, pattern=LINE)]
Text100 = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=LINE)]
Text250 = Annotated[str, StringConstraints(min_length=1, max_length=250, pattern=LINE)]
Text1000 = Annotated[str, StringConstraints(max_length=1000, pattern=LINE)]
Text3000 = Annotated[str, StringConstraints(min_length=1, max_length=3000, pattern=LINE)]
Raw8000 = Annotated[str, StringConstraints(min_length=1, max_length=8000)]  # raw texts may hold line breaks


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class PayExchangeInfoHead(Strict):
    """One payment: the raw request to and response from the payment company, and its facts."""

    guid: str = Field(max_length=36)
    initalRequest: Raw8000  # noqa: N815 - the interface's spelling
    initalResponse: Raw8000  # noqa: N815
    ebpCode: Code18  # noqa: N815
    payCode: Code18  # noqa: N815
    payTransactionId: Text60  # noqa: N815
    totalAmount: Decimal = Field(gt=0, max_digits=19, decimal_places=5)  # noqa: N815
    currency: Annotated[str, StringConstraints(pattern=r"^[0-9]{3,4}$")]
    verDept: Annotated[str, StringConstraints(pattern=r"^[123]$")]  # noqa: N815 - 1 UnionPay, 2 NetsUnion, 3 other
    payType: Annotated[str, StringConstraints(pattern=r"^[1-4]$")] | None = None  # noqa: N815
    tradingTime: Annotated[str, StringConstraints(pattern=r"^[0-9]{14}$")]  # noqa: N815 - yyyyMMddHHmmss
    note: Text1000 | None = None

    @field_validator("guid")
    @classmethod
    def _guid(cls, value: str) -> str:
        if not GUID.match(value):
            raise ValueError("guid must be a GUID (36 characters, 8-4-4-4-12 hex)")
        return value.upper()  # the signed text must match the sent JSON byte for byte


class GoodsInfo(Strict):
    gname: Text250
    itemLink: Text3000  # noqa: N815


class PayExchangeInfoList(Strict):
    """One order the payment paid for."""

    orderNo: Text60  # noqa: N815
    goodsInfo: list[GoodsInfo] = Field(min_length=1, max_length=99)  # noqa: N815
    recpAccount: Text60  # noqa: N815
    recpCode: Code18 | None = None  # noqa: N815 - overseas sellers may omit
    recpName: Text100  # noqa: N815


class PaymentRawData(Strict):
    """What a platform submits: one payment and the orders it covers (each order number once)."""

    payExchangeInfoHead: PayExchangeInfoHead  # noqa: N815
    payExchangeInfoLists: list[PayExchangeInfoList] = Field(min_length=1, max_length=100)  # noqa: N815

    @field_validator("payExchangeInfoLists")
    @classmethod
    def _orders_once(cls, value: list[PayExchangeInfoList]) -> list[PayExchangeInfoList]:
        numbers = [item.orderNo for item in value]
        if len(set(numbers)) != len(numbers):
            raise ValueError("each orderNo may appear once")
        return value

    def order_numbers(self) -> list[str]:
        return [item.orderNo for item in self.payExchangeInfoLists]

    def head_json(self) -> str:
        return canonical(self.payExchangeInfoHead.model_dump(exclude_none=True))

    def lists_json(self) -> str:
        return canonical([item.model_dump(exclude_none=True) for item in self.payExchangeInfoLists])


def amount_text(value: Decimal) -> str:
    """An amount without trailing zeros and never in exponent form (``88.80000`` → ``88.8``)."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def canonical(value: Any) -> str:
    """Compact JSON in field order, UTF-8 text unescaped, amounts as plain numbers: the one text that
    is both signed and sent, so the two cannot differ."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{canonical(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return amount_text(value)
    return json.dumps(value, ensure_ascii=False)
