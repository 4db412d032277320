"""The 179 upload: the ``||``-joined signing input and the ``payExInfoStr`` text.

The spec (2018-08) and the working clients disagree on the signing input (ceb-formats §7): the spec's
sample joins unquoted objects under ``payExchangeInfoList``, the clients quote every value and use
``payExchangeInfoLists``, the key of the JSON that is sent. Both forms are here; the clients' form is
the default (``CBEC_DATA_OPEN_SIGNING_INPUT``). The head and lists texts are built once
(:func:`payment_data.canonical`) and used both in the signing input and, verbatim, in the upload, so
the signed text matches the sent JSON byte for byte.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Literal, Protocol

from order_service.data_open.payment_data import PaymentRawData, canonical

SigningForm = Literal["implementations", "spec-sample"]


def signing_input(form: SigningForm, session_id: str, head_json: str, lists_json: str, service_time: int) -> str:
    """The text the platform's certificate signs."""
    if form == "spec-sample":
        parts = [f'"sessionID":{json.dumps(session_id, ensure_ascii=False)}',
                 f'"payExchangeInfoHead":{head_json}',
                 f'"payExchangeInfoList":{lists_json}',
                 f'"serviceTime":{service_time}']
    else:
        parts = [f'"sessionID":"{session_id}"',
                 f'"payExchangeInfoHead":"{head_json}"',
                 f'"payExchangeInfoLists":"{lists_json}"',
                 f'"serviceTime":"{service_time}"']
    return "||".join(parts)


class TextSigner(Protocol):
    """Signs a text with a platform's certificate (``keys.PlatformKeys``)."""

    def sign_text(self, platform: str, text: str) -> tuple[str, str]:
        """``(certNo, signValue)``: the certificate serial and the base64 signature of the UTF-8 text."""
        ...


@dataclass(frozen=True, slots=True)
class Upload:
    """One signed upload: the form value and what went into it."""

    pay_ex_info_str: str
    signed_text: str
    cert_no: str


def build_upload(data: PaymentRawData, order_no: str, session_id: str, service_time: int, *,
                 platform: str, signer: TextSigner, form: SigningForm = "implementations") -> Upload:
    """The signed ``payExInfoStr`` for customs' request about ``order_no``: the payment's head and the
    list entry of that order (a payment may cover orders customs did not ask about)."""
    lists = [item.model_dump(exclude_none=True) for item in data.payExchangeInfoLists if item.orderNo == order_no]
    head_json, lists_json = data.head_json(), canonical(lists)
    text = signing_input(form, session_id, head_json, lists_json, service_time)
    cert_no, sign_value = signer.sign_text(platform, text)
    body = ("{" + f'"sessionID":{json.dumps(session_id, ensure_ascii=False)}'
            + f',"payExchangeInfoHead":{head_json}'
            + f',"payExchangeInfoLists":{lists_json}'
            + f',"serviceTime":{service_time}'
            + f',"certNo":{json.dumps(cert_no)}'
            + f',"signValue":{json.dumps(sign_value)}' + "}")
    return Upload(body, text, cert_no)


def b64(signature: bytes) -> str:
    return base64.b64encode(signature).decode("ascii")
