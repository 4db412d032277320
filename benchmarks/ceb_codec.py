"""CEB codec throughput, single core: build+serialize, parse, validate, vs lxml + official XSD.

Run: ``.venv/bin/python benchmarks/ceb_codec.py [--seconds 1.5]``. Prints messages per second for a
1-line CEB311 and a 99-line CEB621, and the ratio of (product parse + validate) time to
(lxml parse + XSD validate) time on the same bytes. Targets: ≥10,000 one-line CEB311
parse+validate/s, and within 3× of lxml + XSD.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable

from cbec.ceb import examples as ex
from cbec.ceb.codec import build, parse
from cbec.ceb.model import CebMessage
from cbec.ceb.rules import validate_business
from cbec.ceb.structure import validate_structure
from cbec.ceb.xsd import official_schema
from lxml import etree


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn`` over about ``seconds`` (best of 3 rounds)."""
    n = 1
    while True:  # calibrate a batch of at least ~50 ms
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt > 0.05:
            break
        n *= 2
    batch = max(1, int(n * (seconds / 3) / dt))
    best = 0.0
    gc.collect()
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(batch):
            fn()
        best = max(best, batch / (time.perf_counter() - t0))
    return best


def bench(name: str, msg: CebMessage, seconds: float) -> dict[str, float]:
    xml = build(msg)
    schema = official_schema("import")
    parser = etree.XMLParser(resolve_entities=False, no_network=True)

    def product_check() -> None:
        m = parse(xml)
        assert not validate_structure(m)
        assert not validate_business(m)

    def lxml_xsd() -> None:
        assert schema.validate(etree.fromstring(xml, parser))

    parsed = parse(xml)
    r = {
        "build+serialize": rate(lambda: build(msg), seconds),
        "parse": rate(lambda: parse(xml), seconds),
        "validate (structure)": rate(lambda: validate_structure(parsed), seconds),
        "validate (business)": rate(lambda: validate_business(parsed), seconds),
        "parse+validate (both layers)": rate(product_check, seconds),
        "lxml parse + XSD validate": rate(lxml_xsd, seconds),
    }
    print(f"\n{name} ({len(xml):,} bytes)")
    for k, v in r.items():
        print(f"  {k:<32} {v:>10,.0f} msgs/s")
    ratio = r["lxml parse + XSD validate"] / r["parse+validate (both layers)"]
    print(f"  {'ratio product / (lxml + XSD) time':<32} {ratio:>10.2f}×  (target ≤ 3×)")
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=1.5, help="time per measurement")
    args = ap.parse_args()
    one = bench("CEB311, 1 order × 1 line", ex.order_message(lines=1), args.seconds)
    bench("CEB621, 1 list × 99 lines", ex.inventory_message(lines=99, signature=ex.PLACEHOLDER_SIGNATURE),
          args.seconds)  # fmt: skip
    target = one["parse+validate (both layers)"]
    print(
        f"\n1-line CEB311 parse+validate: {target:,.0f}/s (target ≥ 10,000/s): {'OK' if target >= 10_000 else 'BELOW'}"
    )


if __name__ == "__main__":
    main()
