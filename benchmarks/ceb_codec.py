"""CEB codec throughput, single core: build+serialize, parse, validate, vs lxml + official XSD.

Run: ``.venv/bin/python benchmarks/ceb_codec.py [--seconds 1.5]``. Prints messages per second for a
1-line CEB311 and a 99-line CEB621, and the ratio of (product parse + validate) time to
(lxml parse + XSD validate) time on the same bytes. Targets: ≥10,000 one-line CEB311
parse+validate/s, and within 3× of lxml + XSD. Rates are per CPU-second of this process (single
core), so that other load on the machine does not count against the codec.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable

import cbec_testkit.samples.messages as ex
from cbec.ceb.codec import build, parse
from cbec.ceb.model import CebMessage
from cbec.ceb.rules import validate_business
from cbec.ceb.structure import validate_structure
from cbec.ceb.xsd import official_schema
from lxml import etree


def _clock() -> float:
    """CPU time of this process: on a shared, busy machine wall time mostly measures the others."""
    return time.process_time()


def _batch_size(fn: Callable[[], object]) -> tuple[int, float]:
    """A batch of calls lasting at least ~50 ms, and its duration."""
    n = 1
    while True:
        t0 = _clock()
        for _ in range(n):
            fn()
        dt = _clock() - t0
        if dt > 0.05:
            return n, dt
        n *= 2


def rates(fns: dict[str, Callable[[], object]], seconds: float, rounds: int = 5) -> dict[str, float]:
    """Calls per second of each function: best of ``rounds``, the functions interleaved round by
    round so that a shared, busy machine slows them alike (the ratios stay comparable)."""
    batches = {}
    for name, fn in fns.items():
        n, dt = _batch_size(fn)
        batches[name] = max(1, int(n * (seconds / rounds) / dt))
    best = dict.fromkeys(fns, 0.0)
    for _ in range(rounds):
        for name, fn in fns.items():
            gc.collect()
            batch = batches[name]
            t0 = _clock()
            for _ in range(batch):
                fn()
            best[name] = max(best[name], batch / (_clock() - t0))
    return best


def bench(name: str, msg: CebMessage, seconds: float) -> dict[str, float]:
    xml = build(msg)
    schema = official_schema("import")
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    parsed = parse(xml)

    def product_structural() -> None:
        assert not validate_structure(parse(xml))

    def product_check() -> None:
        m = parse(xml)
        assert not validate_structure(m)
        assert not validate_business(m)

    def lxml_xsd() -> None:
        assert schema.validate(etree.fromstring(xml, parser))

    r = rates(
        {
            "build+serialize": lambda: build(msg),
            "parse": lambda: parse(xml),
            "validate (structure)": lambda: validate_structure(parsed),
            "validate (business)": lambda: validate_business(parsed),
            "parse+validate (structure)": product_structural,
            "parse+validate (both layers)": product_check,
            "lxml parse + XSD validate": lxml_xsd,
        },
        seconds,
    )
    print(f"\n{name} ({len(xml):,} bytes)")
    for k, v in r.items():
        print(f"  {k:<32} {v:>10,.0f} msgs/s")
    for layer in ("structure", "both layers"):
        ratio = r["lxml parse + XSD validate"] / r[f"parse+validate ({layer})"]
        print(f"  {f'time ratio vs lxml+XSD ({layer})':<32} {ratio:>10.2f}×  (target ≤ 3×)")
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = ap.parse_args()
    one = bench("CEB311, 1 order × 1 line", ex.order_message(lines=1), args.seconds)
    bench("CEB621, 1 list × 99 lines", ex.inventory_message(lines=99, signature=ex.PLACEHOLDER_SIGNATURE),
          args.seconds)  # fmt: skip
    print()
    for layer in ("structure", "both layers"):
        got = one[f"parse+validate ({layer})"]
        verdict = "OK" if got >= 10_000 else "BELOW"
        print(f"1-line CEB311 parse+validate ({layer}): {got:,.0f}/s (target ≥ 10,000/s): {verdict}")


if __name__ == "__main__":
    main()
