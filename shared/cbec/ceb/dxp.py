"""The DXP envelopes (namespace http://www.chinaport.gov.cn/dxp): the terminal node's ``DxpMsg``, and
the transport node's ``DxpMsgSv`` (a ``SvNo`` and one ``DxpMsg``), in which receipts travel between
DXP nodes; :func:`unwrap` takes either."""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from lxml import etree

from cbec.ceb.safe_xml import MAX_BYTES, parse_xml
from cbec.errors import CebError, CebValidationError

DXP_NS = "http://www.chinaport.gov.cn/dxp"
CST = timezone(timedelta(hours=8), "CST")
"""China Standard Time: DXP and CEB timestamps are local Beijing time."""

_Q = {
    name: f"{{{DXP_NS}}}{name}"
    for name in (
        "DxpMsg",
        "TransInfo",
        "CopMsgId",
        "SenderId",
        "ReceiverIds",
        "ReceiverId",
        "CreatTime",
        "MsgType",
        "Data",
        "AddInfo",
        "FileName",
        "IcCard",
        "BizKey",
        "Key",
        "DxpMsgSv",
        "SvNo",
        "MsgId",
        "SubMsgId",
        "SendTime",
        "EndNode",
        "StaNode",
    )
}
ENVELOPE_TAGS = frozenset({_Q["DxpMsg"], _Q["DxpMsgSv"]})
"""The root tags :func:`unwrap` takes."""
_TYPE_RE = re.compile(r"CEB\d{3}")


@dataclass(frozen=True)
class ServerNumbers:
    """The ``SvNo`` a DXP transport node puts around a DxpMsg (``dxp-transport.xsd``)."""

    msg_id: str  # 8-digit node id + yyyyMMddHHmmss + 10-digit sequence
    send_time: datetime  # CST-aware
    end_node: str  # the destination server node
    sta_node: str  # the node the message entered at
    sub_msg_id: str | None = None  # set when a message for several receivers was split


@dataclass
class DxpEnvelope:
    """An unwrapped DxpMsg; ``data`` is the decoded business XML, ``created`` is CST-aware;
    ``server`` holds the transport node's numbers when the DxpMsg came inside a DxpMsgSv."""

    cop_msg_id: str
    sender_id: str
    receiver_ids: list[str]
    created: datetime
    msg_type: str
    data: bytes
    file_name: str | None = None
    ic_card: str | None = None
    biz_keys: dict[str, str] = field(default_factory=dict)
    server: ServerNumbers | None = None


def _cst(when: datetime) -> datetime:
    """Aware datetimes are converted to CST; naive ones are taken as CST already."""
    return when.astimezone(CST) if when.tzinfo is not None else when.replace(tzinfo=CST)


def _message_name(msg_type: str) -> str:
    return msg_type if msg_type.endswith("Message") else f"{msg_type}Message"


def _fail(path: str, message: str, xsd: str = "dxp-terminal.xsd") -> CebValidationError:
    return CebValidationError([CebError("CBEC-DXP", path, xsd, message)])


def wrap(
    business_xml: bytes,
    *,
    msg_type: str,
    sender_id: str,
    receiver_ids: list[str],
    cop_msg_id: str | None = None,
    created: datetime | None = None,
    file_name: str | None = None,
    ic_card: str | None = None,
    biz_keys: dict[str, str] | None = None,
) -> bytes:
    """A ``DxpMsg`` (ver 1.0) carrying ``business_xml`` base64-encoded in ``Data``."""
    if not 1 <= len(receiver_ids) <= 5:
        raise _fail("TransInfo.ReceiverIds", "DxpMsg takes 1 to 5 receiver ids")
    for value, path, hi in [(sender_id, "TransInfo.SenderId", 16)] + [
        (r, "TransInfo.ReceiverIds.ReceiverId", 16) for r in receiver_ids
    ]:
        if not 1 <= len(value) <= hi:
            raise _fail(path, f"must be 1..{hi} characters")
    if biz_keys is not None and not 1 <= len(biz_keys) <= 5:
        raise _fail("AddInfo.BizKey", "BizKey takes 1 to 5 keys")
    stamp = _cst(created or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S")
    sub = etree.SubElement
    root = etree.Element(_Q["DxpMsg"], nsmap={"dxp": DXP_NS})
    root.set("ver", "1.0")
    info = sub(root, _Q["TransInfo"])
    sub(info, _Q["CopMsgId"]).text = cop_msg_id or str(uuid.uuid4()).upper()
    sub(info, _Q["SenderId"]).text = sender_id
    ids = sub(info, _Q["ReceiverIds"])
    for rid in receiver_ids:
        sub(ids, _Q["ReceiverId"]).text = rid
    sub(info, _Q["CreatTime"]).text = stamp
    sub(info, _Q["MsgType"]).text = _message_name(msg_type)
    sub(root, _Q["Data"]).text = base64.b64encode(business_xml).decode("ascii")
    if file_name is not None or ic_card is not None or biz_keys:
        add = sub(root, _Q["AddInfo"])
        if file_name is not None:
            sub(add, _Q["FileName"]).text = file_name
        if ic_card is not None:
            sub(add, _Q["IcCard"]).text = ic_card
        if biz_keys:
            keys = sub(add, _Q["BizKey"])
            for name, value in biz_keys.items():
                sub(keys, _Q["Key"], name=name).text = value
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _text(el: etree._Element | None) -> str | None:
    return None if el is None else (el.text or "")


def _server_numbers(sv_no: etree._Element) -> ServerNumbers:
    """The ``SvNo`` fields, each checked against its XSD length (hostile input gets a named field)."""
    values: dict[str, str] = {}
    for name, lo, hi, required in (("MsgId", 1, 32, True), ("SubMsgId", 1, 1, False), ("SendTime", 1, 64, True),
                                   ("EndNode", 1, 8, True), ("StaNode", 1, 8, True)):
        text = _text(sv_no.find(_Q[name]))
        if text is None:
            if required:
                raise _fail(f"SvNo.{name}", f"{name} is missing", "dxp-transport.xsd")
            continue
        if not lo <= len(text.strip()) <= hi:
            raise _fail(f"SvNo.{name}", f"{name} must be {lo}..{hi} characters", "dxp-transport.xsd")
        values[name] = text.strip()
    try:
        sent = datetime.fromisoformat(values["SendTime"])
    except ValueError:
        raise _fail("SvNo.SendTime", "SendTime is not an xs:dateTime", "dxp-transport.xsd") from None
    return ServerNumbers(values["MsgId"], _cst(sent), values["EndNode"], values["StaNode"], values.get("SubMsgId"))


def _unwrap_server(root: etree._Element) -> DxpEnvelope:
    """A DxpMsgSv: its SvNo first, then exactly one DxpMsg (never another DxpMsgSv: one level only)."""
    children = [c for c in root if isinstance(c.tag, str)]
    if not children or children[0].tag != _Q["SvNo"]:
        raise _fail("SvNo", "DxpMsgSv needs SvNo as its first element", "dxp-transport.xsd")
    inner = [c for c in children if c.tag == _Q["DxpMsg"]]
    if len(inner) != 1:
        raise _fail("DxpMsg", f"DxpMsgSv carries exactly one DxpMsg, found {len(inner)}", "dxp-transport.xsd")
    server = _server_numbers(children[0])
    envelope = unwrap_element(inner[0])
    envelope.server = server
    return envelope


def unwrap_element(root: etree._Element) -> DxpEnvelope:
    """Unwrap an already-parsed DxpMsg or DxpMsgSv element."""
    if root.tag == _Q["DxpMsgSv"]:
        return _unwrap_server(root)
    if root.tag != _Q["DxpMsg"]:
        raise _fail("/", f"root element {root.tag} is not {_Q['DxpMsg']}")
    info = root.find(_Q["TransInfo"])
    data_el = root.find(_Q["Data"])
    if info is None or data_el is None:
        raise _fail("/", "DxpMsg needs TransInfo and Data")
    values = {name: _text(info.find(_Q[name])) for name in ("CopMsgId", "SenderId", "CreatTime", "MsgType")}
    for name, value in values.items():
        if value is None:
            raise _fail(f"TransInfo.{name}", f"{name} is missing")
    receivers = [r.text or "" for r in info.iterfind(f"{_Q['ReceiverIds']}/{_Q['ReceiverId']}")]
    try:
        created = datetime.fromisoformat(str(values["CreatTime"]).strip())
    except ValueError:
        raise _fail("TransInfo.CreatTime", f"not an xs:dateTime: {values['CreatTime']!r}") from None
    try:
        data = base64.b64decode("".join((data_el.text or "").split()), validate=True)
    except binascii.Error:
        raise _fail("Data", "Data is not valid base64") from None
    add = root.find(_Q["AddInfo"])
    file_name = ic_card = None
    biz: dict[str, str] = {}
    if add is not None:
        file_name = _text(add.find(_Q["FileName"]))
        ic_card = _text(add.find(_Q["IcCard"]))
        biz = {k.get("name", ""): k.text or "" for k in add.iterfind(f"{_Q['BizKey']}/{_Q['Key']}")}
    return DxpEnvelope(
        cop_msg_id=str(values["CopMsgId"]),
        sender_id=str(values["SenderId"]),
        receiver_ids=receivers,
        created=_cst(created),
        msg_type=str(values["MsgType"]),
        data=data,
        file_name=file_name,
        ic_card=ic_card,
        biz_keys=biz,
    )


def unwrap(xml: bytes, *, max_bytes: int = MAX_BYTES) -> DxpEnvelope:
    """Parse a DxpMsg or DxpMsgSv safely and decode its business XML."""
    return unwrap_element(parse_xml(xml, max_bytes=max_bytes))


def is_dxp(xml: bytes) -> bool:
    """True when the root element is a DxpMsg or a DxpMsgSv (cheap check on already-trusted bytes)."""
    return parse_xml(xml).tag in ENVELOPE_TAGS


def dxp_file_name(msg_type: str, customs_code: str, when: datetime, seq: int) -> str:
    """``CEB311Message_<10-char code>_<yyyyMMddHHmmss CST>_<5-digit seq>.xml``."""
    name = _message_name(msg_type)
    if not _TYPE_RE.fullmatch(name.removesuffix("Message")):
        raise ValueError(f"not a CEB message type: {msg_type!r}")
    if len(customs_code) != 10 or not customs_code.isalnum() or not customs_code.isascii():
        raise ValueError(f"customs code must be 10 ASCII letters/digits: {customs_code!r}")
    if not 0 <= seq <= 99999:
        raise ValueError(f"sequence must be 0..99999: {seq}")
    return f"{name}_{customs_code}_{_cst(when).strftime('%Y%m%d%H%M%S')}_{seq:05d}.xml"
