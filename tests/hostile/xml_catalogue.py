"""The XML catalogue: hostile CEB/DxpMsg files for ``cbec validate`` and the customs link's inbox.

Two parts, both built in code on every run (nothing large is stored):

* :func:`crafted` — hand-made attacks: entity expansion (XXE, parameter entities, billion laughs,
  quadratic blowup, network DTDs), depth and size (100k-deep nesting, a 50 MB document, huge
  attributes and texts, many namespaces), lying encodings (UTF-16 declared as UTF-8, GBK bytes,
  BOM mismatches, invalid UTF-8, NUL bytes), processing instructions, CDATA tricks, truncations,
  a CEB311 with 5,000 empty lines; and each of them again inside a DxpMsg envelope (base64 Data).
* :func:`mutations` — the official samples under ``tests/data/ceb-202205/samples`` mutated with a
  fixed seed (byte deletions, duplications, swaps, insertions of markup characters, truncations).
"""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "ceb-202205" / "samples"
SEED = 20261207
BIG_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Hostile:
    name: str
    data: bytes


def sample(name: str) -> bytes:
    return next(SAMPLES.glob(f"*/{name}Message.xml")).read_bytes()


def samples() -> list[tuple[str, bytes]]:
    return [(p.stem, p.read_bytes()) for p in sorted(SAMPLES.glob("*/*.xml"))]


def envelope(data: bytes, *, b64: bytes | None = None) -> bytes:
    """A DxpMsg carrying ``data`` (or the literal ``b64`` text) as its Data."""
    payload = b64 if b64 is not None else base64.b64encode(data)
    return (b'<?xml version="1.0" encoding="UTF-8"?>'
            b'<DxpMsg ver="1.0" xmlns="http://www.chinaport.gov.cn/dxp" '
            b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            b'<TransInfo><CopMsgId>5C0E0B7A-0000-4000-8000-000000000001</CopMsgId>'
            b'<SenderId>DXPENT0000000001</SenderId><ReceiverIds><ReceiverId>DXPEDCCEB0000002</ReceiverId>'
            b'</ReceiverIds><CreatTime>2026-12-07T10:00:00</CreatTime><MsgType>CEB311Message</MsgType>'
            b'</TransInfo><Data>' + payload + b'</Data></DxpMsg>')


def _ceb(body: bytes) -> bytes:
    return (b'<?xml version="1.0" encoding="UTF-8"?><ceb:CEB311Message guid="x" version="1.0" '
            b'xmlns:ceb="http://www.chinaport.gov.cn/ceb">' + body + b'</ceb:CEB311Message>')


def _entities() -> Iterator[Hostile]:
    yield Hostile("xxe-file", b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                  b'<ceb:CEB311Message xmlns:ceb="http://www.chinaport.gov.cn/ceb">&x;</ceb:CEB311Message>')
    yield Hostile("xxe-http", b'<!DOCTYPE r [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]><r>&x;</r>')
    yield Hostile("xxe-php-filter", b'<!DOCTYPE r [<!ENTITY x SYSTEM "php://filter/resource=/etc/hosts">]><r>&x;</r>')
    yield Hostile("parameter-entity", b'<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]><r/>')
    yield Hostile("parameter-entity-oob", b'<!DOCTYPE r [<!ENTITY % f SYSTEM "file:///etc/passwd">'
                  b'<!ENTITY % e "<!ENTITY &#x25; s SYSTEM \'http://127.0.0.1:9/?%f;\'>"> %e; %s;]><r/>')
    yield Hostile("external-dtd", b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:9/r.dtd"><r/>')
    yield Hostile("public-dtd", b'<!DOCTYPE r PUBLIC "-//X//Y" "http://127.0.0.1:9/r.dtd"><r/>')
    laughs = b"".join(b'<!ENTITY l%d "%s">' % (i, b"&l%d;" % (i - 1) * 10) for i in range(1, 10))
    yield Hostile("billion-laughs", b'<!DOCTYPE r [<!ENTITY l0 "lol">' + laughs + b']><r>&l9;</r>')
    big = b"A" * 100_000
    yield Hostile("quadratic-blowup", b'<!DOCTYPE r [<!ENTITY a "' + big + b'">]><r>' + b"&a;" * 20_000 + b"</r>")
    yield Hostile("entity-in-attribute", b'<!DOCTYPE r [<!ENTITY a "x">]><r a="&a;"/>')
    yield Hostile("xinclude", _ceb(b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="/etc/passwd" '
                                   b'parse="text"/>'))
    yield Hostile("schema-location", _ceb(b'<ceb:Order xsi:schemaLocation="http://x http://127.0.0.1:9/x.xsd" '
                                          b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>'))
    yield Hostile("undefined-entity", _ceb(b"<ceb:Order>&nbsp;&undefined;</ceb:Order>"))
    yield Hostile("char-ref-nul", _ceb(b"<ceb:Order>&#0;</ceb:Order>"))
    yield Hostile("char-ref-huge", _ceb(b"<ceb:Order>&#x110000;&#99999999999;</ceb:Order>"))
    yield Hostile("doctype-utf16", '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
                  .encode("utf-16"))


def _depth_and_size() -> Iterator[Hostile]:
    yield Hostile("deep-100k", b"<a>" * 100_000 + b"</a>" * 100_000)
    yield Hostile("deep-100k-unclosed", b"<a>" * 100_000)
    yield Hostile("deep-ceb", _ceb(b"<ceb:Order>" * 5_000 + b"</ceb:Order>" * 5_000))
    filler = b"<ceb:OrderList><ceb:gnum>1</ceb:gnum><ceb:itemName>x</ceb:itemName></ceb:OrderList>"
    yield Hostile("50mb-document", _ceb(b"<ceb:Order>" + filler * (BIG_BYTES // len(filler)) + b"</ceb:Order>"))
    yield Hostile("50mb-text", _ceb(b"<ceb:Order><ceb:note>" + b"x" * BIG_BYTES + b"</ceb:note></ceb:Order>"))
    yield Hostile("huge-attribute", _ceb(b'<ceb:Order a="' + b"y" * 5_000_000 + b'"/>'))
    yield Hostile("many-attributes", _ceb(b"<ceb:Order " + b" ".join(b'a%d="1"' % i for i in range(50_000))
                                          + b"/>"))
    yield Hostile("huge-text", _ceb(b"<ceb:Order><ceb:OrderHead><ceb:note>" + "中".encode() * 2_000_000
                                    + b"</ceb:note></ceb:OrderHead></ceb:Order>"))
    yield Hostile("many-namespaces", _ceb(b"<ceb:Order " + b" ".join(b'xmlns:n%d="urn:n%d"' % (i, i)
                                                                     for i in range(20_000)) + b"/>"))
    yield Hostile("many-elements", _ceb(b"<ceb:Order>" + b"<ceb:OrderList/>" * 200_000 + b"</ceb:Order>"))
    yield Hostile("huge-tag-name", b"<" + b"a" * 1_000_000 + b"/>")
    yield Hostile("5000-empty-lines", sample("CEB311").replace(b"<ceb:OrderHead>", b"\n" * 5_000
                                                               + b"<ceb:OrderHead>", 1))
    yield Hostile("5000-empty-lines-before-decl", b"\n" * 5_000 + sample("CEB311"))
    yield Hostile("empty", b"")
    yield Hostile("whitespace-only", b" \n\t\r\n" * 1000)


def _encodings() -> Iterator[Hostile]:
    valid = sample("CEB311")
    text = valid.decode("utf-8")
    yield Hostile("utf16-declared-utf8", text.encode("utf-16"))
    yield Hostile("utf16le-no-bom-declared-utf8", text.encode("utf-16-le"))
    yield Hostile("utf16be-no-bom", text.encode("utf-16-be"))
    yield Hostile("utf32", text.encode("utf-32"))
    yield Hostile("gbk-bytes-declared-utf8", text.encode("gbk", errors="replace"))
    yield Hostile("gbk-declared", text.replace('encoding="UTF-8"', 'encoding="GBK"').encode("gbk", errors="replace"))
    yield Hostile("utf8-declared-gbk", text.replace('encoding="UTF-8"', 'encoding="GBK"').encode())
    yield Hostile("unknown-encoding", text.replace('encoding="UTF-8"', 'encoding="X-NOPE-42"').encode())
    yield Hostile("ebcdic-declared", text.replace('encoding="UTF-8"', 'encoding="EBCDIC-US"').encode())
    yield Hostile("bom-utf8", b"\xef\xbb\xbf" + valid)
    yield Hostile("bom-utf8-twice", b"\xef\xbb\xbf\xef\xbb\xbf" + valid)
    yield Hostile("bom-utf16-on-utf8", b"\xff\xfe" + valid)
    yield Hostile("bom-utf16be-on-utf8", b"\xfe\xff" + valid)
    yield Hostile("bom-utf32-on-utf8", b"\xff\xfe\x00\x00" + valid)
    yield Hostile("nul-byte-in-text", valid.replace(b"</ceb:orderNo>", b"\x00</ceb:orderNo>", 1))
    yield Hostile("nul-bytes-everywhere", valid.replace(b">", b">\x00"))
    yield Hostile("nul-prefix", b"\x00" * 16 + valid)
    yield Hostile("invalid-utf8", valid.replace(b"</ceb:orderNo>", b"\xc3\x28\xff\xfe</ceb:orderNo>", 1))
    yield Hostile("overlong-utf8", valid.replace(b"</ceb:orderNo>", b"\xc0\xaf\xe0\x80\xaf</ceb:orderNo>", 1))
    yield Hostile("surrogate-utf8", valid.replace(b"</ceb:orderNo>", b"\xed\xa0\x80</ceb:orderNo>", 1))
    yield Hostile("control-chars", valid.replace(b"</ceb:orderNo>", bytes(range(1, 32)) + b"</ceb:orderNo>", 1))
    yield Hostile("rtl-override", valid.replace(b"</ceb:orderNo>", "\u202e\u2066".encode() + b"</ceb:orderNo>", 1))
    yield Hostile("xml11", valid.replace(b'version="1.0"', b'version="1.1"', 1))
    yield Hostile("not-xml-binary", bytes(random.Random(SEED).randrange(256) for _ in range(4096)))
    yield Hostile("json-not-xml", b'{"OrderHead": {"orderNo": "x"}}')
    yield Hostile("gzip-magic", b"\x1f\x8b\x08\x00" + valid)


def _markup_tricks() -> Iterator[Hostile]:
    valid = sample("CEB311")
    yield Hostile("processing-instruction", valid.replace(b"<ceb:OrderHead>", b"<?evil rm -rf /?><ceb:OrderHead>", 1))
    yield Hostile("xml-stylesheet-pi", valid.replace(b"?>", b'?><?xml-stylesheet href="http://127.0.0.1:9/x.xsl"?>', 1))
    yield Hostile("pi-before-decl", b"<?x y?>" + valid)
    yield Hostile("two-xml-decls", valid + valid)
    yield Hostile("two-roots", valid + valid.split(b"?>", 1)[1])
    yield Hostile("cdata-markup", valid.replace(b"</ceb:orderNo>", b"<![CDATA[</ceb:orderNo><x>]]></ceb:orderNo>", 1))
    yield Hostile("cdata-unterminated", valid.replace(b"</ceb:orderNo>", b"<![CDATA[ never closed", 1))
    yield Hostile("cdata-nested", valid.replace(b"</ceb:orderNo>", b"<![CDATA[<![CDATA[x]]>]]></ceb:orderNo>", 1))
    yield Hostile("comment-bomb", valid.replace(b"<ceb:OrderHead>", b"<!--" + b"-" * 1_000_000 + b"x-->"
                                                + b"<ceb:OrderHead>", 1))
    yield Hostile("comment-unterminated", valid.replace(b"<ceb:OrderHead>", b"<!-- <ceb:OrderHead>", 1))
    yield Hostile("wrong-namespace", valid.replace(b"http://www.chinaport.gov.cn/ceb", b"urn:evil"))
    yield Hostile("no-namespace", valid.replace(b"ceb:", b"").replace(b' xmlns="http://www.chinaport.gov.cn/ceb"', b""))
    yield Hostile("unbound-prefix", valid.replace(b'xmlns:ceb="http://www.chinaport.gov.cn/ceb"', b""))
    yield Hostile("unknown-root", _ceb(b"").replace(b"CEB311Message", b"CEB999Message"))
    yield Hostile("empty-root", _ceb(b""))
    yield Hostile("mismatched-tags", valid.replace(b"</ceb:orderNo>", b"</ceb:orderNO>", 1))
    yield Hostile("attribute-duplicate", valid.replace(b'guid="', b'guid="a" guid="', 1))
    yield Hostile("lt-in-attribute", valid.replace(b'guid="', b'guid="<', 1))
    yield Hostile("dtd-after-root", valid + b'<!DOCTYPE r [<!ENTITY x "y">]>')
    yield Hostile("script-in-text", valid.replace(b"</ceb:orderNo>", b"&lt;script&gt;alert(1)&lt;/script&gt;"
                                                  b"</ceb:orderNo>", 1))
    yield Hostile("sql-in-text", valid.replace(b"</ceb:orderNo>", b"'; DROP TABLE events;--</ceb:orderNo>", 1))
    yield Hostile("format-string", valid.replace(b"</ceb:orderNo>", b"%s%s%n{0}{__class__}</ceb:orderNo>", 1))
    yield Hostile("path-traversal-guid", valid.replace(b'guid="', b'guid="../../../../etc/passwd', 1))
    for cut in (1, 10, 100, len(valid) // 2, len(valid) - 10, len(valid) - 1):
        yield Hostile(f"truncated-at-{cut}", valid[:cut])


def _envelope_tricks() -> Iterator[Hostile]:
    valid = sample("CEB311")
    yield Hostile("dxp-data-not-base64", envelope(b"", b64=b"!!!not base64***"))
    yield Hostile("dxp-data-bad-padding", envelope(b"", b64=base64.b64encode(valid)[:-3]))
    yield Hostile("dxp-data-empty", envelope(b"", b64=b""))
    yield Hostile("dxp-data-whitespace", envelope(b"", b64=b"  \n  "))
    yield Hostile("dxp-data-base64-with-spaces", envelope(b"", b64=b" \n".join(
        base64.b64encode(valid)[i:i + 76] for i in range(0, len(base64.b64encode(valid)), 76))))
    yield Hostile("dxp-data-nested-envelope", envelope(envelope(valid)))
    yield Hostile("dxp-data-triple-envelope", envelope(envelope(envelope(valid))))
    yield Hostile("dxp-data-plain-xml", envelope(b"", b64=b"<x/>"))
    yield Hostile("dxp-no-data", envelope(b"", b64=b"").replace(b"<Data></Data>", b""))
    yield Hostile("dxp-two-data", envelope(valid).replace(b"</DxpMsg>", b"<Data>AAAA</Data></DxpMsg>"))
    yield Hostile("dxp-huge-data", envelope(b"", b64=b"QUFB" * 10_000_000))


def crafted() -> Iterator[Hostile]:
    """The hand-made attacks, each bare then inside a DxpMsg envelope (those under 25 MB), then the
    envelope tricks; built one at a time, so the large ones are never all in memory together."""
    for family in (_entities, _depth_and_size, _encodings, _markup_tricks):
        for hostile in family():
            yield hostile
            if len(hostile.data) < BIG_BYTES // 2:
                yield Hostile(f"dxp({hostile.name})", envelope(hostile.data))
    yield from _envelope_tricks()


MARKUP = b'<>&"\'/=:;!?[]\x00\xff'


def mutate(data: bytes, rng: random.Random) -> bytes:
    """``data`` with one to a few random byte-level edits."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not out:
            break
        i = rng.randrange(len(out))
        span = rng.randint(1, 64)
        match rng.randrange(7):
            case 0:  # delete
                del out[i:i + span]
            case 1:  # duplicate
                out[i:i] = out[i:i + span]
            case 2:  # swap two characters
                j = rng.randrange(len(out))
                out[i], out[j] = out[j], out[i]
            case 3:  # a markup character
                out[i:i] = bytes([rng.choice(MARKUP)])
            case 4:  # a random byte
                out[i] = rng.randrange(256)
            case 5:  # truncate
                del out[i:]
            case _:  # move a chunk
                chunk = bytes(out[i:i + span])
                del out[i:i + span]
                k = rng.randrange(len(out) + 1)
                out[k:k] = chunk
    return bytes(out)


def mutations(count: int, seed: int = SEED) -> list[Hostile]:
    """``count`` mutated official samples (every ninth one inside a DxpMsg envelope)."""
    rng = random.Random(seed)
    base = samples()
    out: list[Hostile] = []
    for n in range(count):
        name, data = base[n % len(base)]
        mutated = mutate(data, rng)
        out.append(Hostile(f"mutation-{n}-{name}", envelope(mutated) if n % 9 == 8 else mutated))
    return out
