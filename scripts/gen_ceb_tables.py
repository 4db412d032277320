"""Generate ``shared/cbec/ceb/tables.py`` (one declarative field table per node) from the official XSDs,
and ``codes_table.py`` from the official error-code and return-status CSVs.

Run: ``.venv/bin/python scripts/gen_ceb_tables.py`` (reads ``cbec.reference.xsd_dir()`` and writes
into the ``cbec.ceb`` package of that environment's editable install).
The output is committed; a unit test checks that it is up to date.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import cbec.ceb
from cbec.reference import official_dir, xsd_dir
from lxml import etree

XS = "http://www.w3.org/2001/XMLSchema"
DS = "http://www.w3.org/2000/09/xmldsig#"
Q = {"xs": XS}
OUT = Path(cbec.ceb.__file__).resolve().parent / "tables.py"  # the CEB core package (editable install)
CODES_OUT = OUT.with_name("codes_table.py")


def _doc(el: etree._Element) -> str:
    texts = [d.text or "" for d in el.iterfind("xs:annotation/xs:documentation", namespaces=Q)]
    return re.sub(r"\s+", " ", " ".join(texts)).strip()


def _occurs(el: etree._Element) -> tuple[int, int]:
    lo = int(el.get("minOccurs", "1"))
    hi_s = el.get("maxOccurs", "1")
    return lo, (-1 if hi_s == "unbounded" else int(hi_s))


class Walker:
    def __init__(self, schema_root: etree._Element) -> None:
        self.globals = {str(e.get("name")): e for e in schema_root.findall(f"{{{XS}}}element")}
        self.nodes: dict[str, str] = {}  # key -> generated source
        self.order: list[str] = []

    def item(self, el: etree._Element, parent_key: str) -> str:
        """Source text for one sequence item (a field, a child node, the signature or xs:any)."""
        lo, hi = _occurs(el)
        ref = el.get("ref")
        if ref is not None:
            prefix, _, local = ref.partition(":")
            if prefix == "ds":
                return f"Sig(min_occurs={lo})"
            target = self.globals[local]
            desc = _doc(el) or _doc(target)
            return self._element(target, local, desc, lo, hi, parent_key, is_global=True)
        name = el.get("name")
        assert name is not None
        return self._element(el, name, _doc(el), lo, hi, parent_key, is_global=False)

    def _element(
        self, el: etree._Element, name: str, desc: str, lo: int, hi: int, parent_key: str, *, is_global: bool
    ) -> str:
        if el.get("type") == "ceb:XMLElement":
            return f"F({name!r}, {desc!r}, kind='any', min_occurs={lo})"
        seq = el.find(f"{{{XS}}}complexType/{{{XS}}}sequence")
        if seq is not None:
            key = name if is_global else f"{parent_key}/{name}"
            self.node(key, name, el, seq)
            return f"Child({name!r}, {key!r}, min_occurs={lo}, max_occurs={hi})"
        return self._field(el, name, desc, lo, hi)

    def node(self, key: str, name: str, el: etree._Element, seq: etree._Element) -> None:
        if key in self.nodes:
            return
        self.nodes[key] = ""
        items = [self.item(c, key) for c in seq if isinstance(c.tag, str) and c.tag == f"{{{XS}}}element"]
        other = [c.tag for c in seq if isinstance(c.tag, str) and c.tag != f"{{{XS}}}element"]
        assert not other, (key, other)
        body = "".join(f"        {i},\n" for i in items)
        self.nodes[key] = f"    {key!r}: Node({key!r}, {name!r}, {_doc(el)!r}, (\n{body}    )),\n"
        self.order.append(key)

    def _field(self, el: etree._Element, name: str, desc: str, lo: int, hi: int) -> str:
        args = [repr(name), repr(desc)]
        typ = el.get("type")
        restr = el.find(f"{{{XS}}}simpleType/{{{XS}}}restriction")
        base = typ if typ is not None else (restr.get("base") if restr is not None else "xs:string")
        kind = {"xs:string": "str", "xs:decimal": "decimal", "xs:int": "int"}[str(base)]
        if kind != "str":
            args.append(f"kind={kind!r}")
        if lo != 1:
            args.append(f"min_occurs={lo}")
        if hi != 1:
            args.append(f"max_occurs={hi}")
        if restr is not None:
            for facet in restr:
                if not isinstance(facet.tag, str):
                    continue
                local = etree.QName(facet).localname
                value = facet.get("value")
                if local == "length":
                    args += [f"min_len={value}", f"max_len={value}"]
                elif local in ("minLength", "maxLength", "totalDigits", "fractionDigits"):
                    py = {
                        "minLength": "min_len",
                        "maxLength": "max_len",
                        "totalDigits": "total_digits",
                        "fractionDigits": "fraction_digits",
                    }[local]
                    args.append(f"{py}={value}")
                elif local == "whiteSpace":
                    assert value == "collapse"
                    args.append("collapse=True")
                elif local == "annotation":
                    continue
                else:
                    raise AssertionError(f"unsupported facet {local} on {name}")
        for attr in ("fixed", "default"):
            if el.get(attr) is not None:
                args.append(f"{attr}={el.get(attr)!r}")
        return "F(" + ", ".join(args) + ")"


def generate_schema(path: Path, var: str, kind: str) -> str:
    root = etree.parse(str(path)).getroot()
    w = Walker(root)
    roots: list[str] = []
    for name, el in w.globals.items():
        if re.fullmatch(r"CEB\d{3}Message", name):
            attrs = [a.get("name") for a in el.findall(f"{{{XS}}}complexType/{{{XS}}}attribute")]
            assert attrs == ["guid", "version"], (name, attrs)
            seq = el.find(f"{{{XS}}}complexType/{{{XS}}}sequence")
            assert seq is not None, name
            w.node(name, name, el, seq)
            roots.append(name)
    body = "".join(w.nodes[k] for k in w.order)
    return f"{var} = Schema(\n    {kind!r},\n    {{\n{body}    }},\n    {tuple(roots)!r},\n)\n"


def generate(xsd_dir: Path) -> str:
    head = (
        '"""GENERATED by scripts/gen_ceb_tables.py from the official 2022-05 XSDs: do not edit.\n\n'
        "One declarative table per node: fields in XSD sequence order with their facets; the\n"
        "description is the XSD annotation (中文).\n"
        '"""\n\n'
        "# ruff: noqa: E501\n"
        "from __future__ import annotations\n\n"
        "from cbec.ceb.spec import Child, F, Node, Schema, Sig\n\n"
    )
    return (
        head
        + generate_schema(xsd_dir / "ceb-import.xsd", "IMPORT", "import")
        + "\n"
        + generate_schema(xsd_dir / "ceb-export.xsd", "EXPORT", "export")
    )


def generate_codes(reference: Path) -> str:
    """error-codes.csv and return-status.csv as Python literals."""
    with (reference / "error-codes.csv").open(encoding="utf-8", newline="") as fh:
        errors = [(r["code"], r["message_zh"], r["message_en"], r["area"]) for r in csv.DictReader(fh)]
    with (reference / "return-status.csv").open(encoding="utf-8", newline="") as fh:
        statuses = [
            (r["code"], r["meaning_zh"], r["meaning_en"], tuple(r["receipts"].split(";"))) for r in csv.DictReader(fh)
        ]
    return (
        '"""GENERATED by scripts/gen_ceb_tables.py from error-codes.csv and return-status.csv: '
        'do not edit."""'
        "\n\n"
        "# ruff: noqa: E501\n"
        "from __future__ import annotations\n\n"
        "# (code, message_zh, message_en, area), in the spec's order; codes may repeat (see CODES.md).\n"
        f"ERROR_CODES: tuple[tuple[str, str, str, str], ...] = {tuple(errors)!r}\n\n"
        "# (code, meaning_zh, meaning_en, receipts carrying it)\n"
        f"RETURN_STATUS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = {tuple(statuses)!r}\n"
    )


def _ruff_format(text: str) -> str:
    """The project formats with ruff; emit exactly what ``ruff format`` would keep.

    One pass can add magic trailing commas that change the next pass, so format to a fixed point.
    """
    for _ in range(5):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(OUT), "-"],
            input=text,
            capture_output=True,
            text=True,
            check=True,
            cwd=OUT.parents[3],
        )
        if result.stdout == text:
            break
        text = result.stdout
    return text


def main() -> int:
    outputs = {
        OUT: _ruff_format(generate(xsd_dir())),
        CODES_OUT: _ruff_format(generate_codes(official_dir())),
    }
    if "--check" in sys.argv:
        return 0 if all(p.read_text(encoding="utf-8") == text for p, text in outputs.items()) else 1
    for path, text in outputs.items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
