"""Signer throughput: raw signs, the full XML-DSig pipeline, and Kafka → sign → Kafka end to end.

    python benchmarks/signer.py                                  # raw + pipeline (+ SoftHSM2 if installed)
    python benchmarks/signer.py --kafka 127.0.0.1:9092 --messages 30000 --replicas 1 2

Prints:
1. raw sign ops/s per backend (software SM2 on OpenSSL, RSA-2048 with cryptography, RSA via PKCS#11
   on SoftHSM2) over a 600-byte SignedInfo, 1 thread (SM2 also with 2 threads);
2. full pipeline ops/s on one core for a ~5.6 KB CEB311 (parse, C14N, digest, SignedInfo, sign,
   serialize), next to a stub signer (host CPU only) and the ratio to the raw sign cost;
3. end to end: requests pre-loaded into a topic, then 1 and 2 replica processes (consumer group
   ``cbec-signer``) sign them into the results topic; messages/min from the first to the last batch,
   with each replica's time split (poll / decode / sign / produce / commit).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cbec.signing.certs import generate_rsa_identity, generate_sm2_identity
from cbec.signing.keys import SigningKey, SoftwareRSAKey
from cbec.signing.sm2 import SoftwareSM2Key
from cbec.signing.xmldsig import sign_document, strip_signature
from lxml import etree

SAMPLES = Path(__file__).resolve().parents[1] / "tests" / "data" / "ceb-202205" / "samples"

TENANT = "1101180326"  # copCode of the official samples
TARGET_PER_MIN = 100_000


def ceb311_5kb() -> bytes:
    """The official CEB311 sample, unsigned, cut to its first two orders (~5.6 KB)."""
    root = etree.fromstring(strip_signature((SAMPLES / "import" / "CEB311Message.xml").read_bytes()))
    for order in root.findall("{http://www.chinaport.gov.cn/ceb}Order")[2:]:
        root.remove(order)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Operations per CPU-second of this process (robust to other load on a shared machine)."""
    fn()  # warm up
    n, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        for _ in range(20):
            fn()
        n += 20
    return n / (time.process_time() - cpu)


def median_rates(fns: dict[str, Callable[[], object]], seconds: float, rounds: int = 5) -> dict[str, float]:
    """Interleaved rounds, median per function: drifting background load hits every one alike."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            samples[name].append(rate(fn, seconds / rounds))
    return {name: statistics.median(values) for name, values in samples.items()}


def threaded_rate(fn: Callable[[], object], threads: int, seconds: float) -> float:
    counts = [0] * threads
    stop = time.perf_counter() + seconds

    def run(i: int) -> None:
        while time.perf_counter() < stop:
            fn()
            counts[i] += 1

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts) / (time.perf_counter() - start)


class StubKey:
    """Host-CPU-only signer (what an HSM offload leaves on the host)."""

    def __init__(self, real: SigningKey) -> None:
        self.algorithm = real.algorithm
        self.certificate_der = real.certificate_der
        self.serial_hex = real.serial_hex

    def sign(self, data: bytes) -> bytes:
        return bytes(64)


def softhsm_rsa_key(workdir: Path) -> Any:
    """An RSA-2048 key inside a fresh SoftHSM2 token, or None when SoftHSM2 is not installed."""
    module = next((p for p in ("/usr/lib/softhsm/libsofthsm2.so",) if os.path.exists(p)), None)
    if module is None or shutil.which("softhsm2-util") is None:
        return None
    from cbec.signing.certs import rsa_certificate_for_public_key
    from cbec.signing.pkcs11 import Pkcs11Session, Pkcs11Settings, load_module
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from pkcs11 import KeyType
    from pkcs11.util.rsa import encode_rsa_public_key

    (workdir / "tokens").mkdir()
    conf = workdir / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {workdir / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", "bench", "--so-pin", "87654321", "--pin", "1234"],
        check=True,
        capture_output=True,
    )
    with load_module(module).get_token(token_label="bench").open(user_pin="1234", rw=True) as session:
        public, _ = session.generate_keypair(KeyType.RSA, 2048, label="signer", store=True)
        pkcs1 = encode_rsa_public_key(public)
    from asn1crypto import keys as akeys

    spki = akeys.PublicKeyInfo({"algorithm": {"algorithm": "rsa"}, "public_key": akeys.RSAPublicKey.load(pkcs1)})
    public_key = serialization.load_der_public_key(spki.dump())
    assert isinstance(public_key, rsa.RSAPublicKey)
    ca = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = rsa_certificate_for_public_key(public_key, TENANT, "bench", ca)
    return Pkcs11Session(Pkcs11Settings(module, "bench", "1234", "signer", certificate=cert))


def bench_local(seconds: float) -> None:
    sm2 = SoftwareSM2Key.from_pem(*generate_sm2_identity(TENANT, "bench"))
    rsa_key = SoftwareRSAKey.from_pem(*generate_rsa_identity(TENANT, "bench"))
    workdir = Path(tempfile.mkdtemp(prefix="signer-bench-"))
    p11 = softhsm_rsa_key(workdir)
    signed_info = b"<ds:SignedInfo>" + b"x" * 585 + b"</ds:SignedInfo>"
    doc = ceb311_5kb()
    backends: list[tuple[str, SigningKey]] = [("SM2 software (OpenSSL 3, ctypes)", sm2), ("RSA-2048 software", rsa_key)]
    if p11 is not None:
        backends.append(("RSA-2048 PKCS#11 SoftHSM2", p11))

    fns: dict[str, Callable[[], object]] = {"stub": lambda: sign_document(doc, StubKey(sm2))}
    for name, key in backends:
        fns[f"raw {name}"] = lambda k=key: k.sign(signed_info)  # type: ignore[misc]
        fns[f"pipe {name}"] = lambda k=key: sign_document(doc, k)  # type: ignore[misc]
    rates = median_rates(fns, seconds * len(fns))

    print(f"# raw sign, {len(signed_info)}-byte SignedInfo, ops per CPU-second (median of 5 interleaved rounds)")
    for name, _ in backends:
        print(f"  {name:<40} {rates[f'raw {name}']:>9,.0f}")
    wall = threaded_rate(lambda: sm2.sign(signed_info), 2, seconds)
    print(f"  {'SM2 software, 2 threads (wall clock)':<40} {wall:>9,.0f}")
    if p11 is None:
        print("  (PKCS#11: SoftHSM2 not installed, skipped)")

    print(f"\n# full pipeline, {len(doc):,}-byte CEB311 (parse, C14N, digest, SignedInfo, sign, serialize), 1 core")
    print(f"  {'stub signer (host CPU only)':<40} {rates['stub']:>9,.0f}")
    for name, _ in backends:
        pipe, raw = rates[f"pipe {name}"], rates[f"raw {name}"]
        print(f"  {name:<40} {pipe:>9,.0f}   cost = {raw / pipe:.2f}x raw sign")
    pipe2 = threaded_rate(lambda: sign_document(doc, sm2), 2, seconds)
    print(f"  {'SM2 software, 2 threads (wall clock)':<40} {pipe2:>9,.0f}")
    if p11 is not None:
        p11.close()
    shutil.rmtree(workdir, ignore_errors=True)


# ---- end to end ---------------------------------------------------------------------------------


def _replica(cfg: dict[str, Any], key_pem: bytes, cert_pem: bytes, out: Any, assigned: Any, go: Any) -> None:
    from cbec.signing.keys import load_software_key
    from cbec.signing.pool import KeyPool
    from cbec.signing.registry import CertificateRegistry
    from signer_service.application import SignerApp
    from signer_service.worker import SignerWorker, WorkerConfig

    key = load_software_key(key_pem, cert_pem)
    registry = CertificateRegistry()
    registry.register(TENANT, KeyPool(lambda: key, size=cfg["threads"]))
    worker = SignerWorker(SignerApp(registry, threads=cfg["threads"]), WorkerConfig(**cfg["worker"]))
    first = last = 0.0
    cpu = 0.0

    async def consume() -> None:
        nonlocal first, last, cpu
        async with worker:
            # Join the group, report the assignment, and start only when every replica holds partitions.
            while not go.is_set():
                assigned.value = worker.assigned_partitions()
                await asyncio.sleep(0.1)
            cpu_start = time.process_time()
            deadline = time.monotonic() + cfg["timeout"]
            idle_since = None
            while time.monotonic() < deadline and worker.processed < cfg["messages"]:
                n = await worker.process_once()
                now = time.time()
                if n:
                    first = first or now
                    last = now
                    idle_since = None
                elif worker.processed:
                    idle_since = idle_since or now
                    if now - idle_since > 3:  # the other replicas took the rest
                        break
            cpu = time.process_time() - cpu_start

    if cfg.get("profile"):
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        asyncio.run(consume())
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    else:
        asyncio.run(consume())
    out.put({"processed": worker.processed, "first": first, "last": last, "seconds": worker.seconds, "cpu": cpu})


def preload(bootstrap: str, topic: str, partitions: int, messages: int, doc: bytes) -> None:
    from cbec.contracts.signing import SignRequest
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, batch_size=1024 * 1024)
    for i in range(messages):
        request = SignRequest.for_xml(f"bench-{i}", TENANT, "CEB311", f"ebp:{i}", doc)
        producer.send(topic, key=request.clearance_key.encode(), value=request.to_json())
    producer.flush()
    producer.close()


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of another process (Linux /proc), e.g. the Kafka broker."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_kafka(
    bootstrap: str,
    messages: int,
    replicas: list[int],
    threads: int,
    partitions: int,
    profile: bool = False,
    broker_pid: int | None = None,
) -> None:
    key_pem, cert_pem = generate_sm2_identity(TENANT, "bench")
    doc = ceb311_5kb()
    print(
        f"\n# end to end Kafka → sign (software SM2) → Kafka, {messages:,} × {len(doc):,}-byte CEB311, "
        f"{partitions} partitions, {threads} signing thread(s) per replica"
    )
    ctx = mp.get_context("spawn")
    for count in replicas:
        run = uuid.uuid4().hex[:8]
        requests, results = f"bench-{run}.cbec.sign.requests", f"bench-{run}.cbec.sign.results"
        preload(bootstrap, requests, partitions, messages, doc)
        cfg = {
            "messages": messages,
            "threads": threads,
            "timeout": 600,
            "profile": profile,
            "worker": {
                "bootstrap_servers": bootstrap,
                "group_id": f"bench-{run}-cbec-signer",
                "requests_topic": requests,
                "results_topic": results,
                "dlq_topic": f"bench-{run}.dlq",
                "outcomes_prefix": f"bench-{run}.",
                "max_poll_records": 500,
            },
        }
        out = ctx.Queue()
        go = ctx.Event()
        assigned = [ctx.Value("i", 0) for _ in range(count)]
        procs = [
            ctx.Process(target=_replica, args=(cfg, key_pem, cert_pem, out, assigned[i], go)) for i in range(count)
        ]
        for p in procs:
            p.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            held = [a.value for a in assigned]
            if all(held) and sum(held) == partitions:
                break
            time.sleep(0.2)
        time.sleep(1.0)  # let a just-finished rebalance settle
        broker_cpu = process_cpu_seconds(broker_pid) if broker_pid else 0.0
        go.set()
        stats = [out.get() for _ in procs]
        for p in procs:
            p.join()
        broker_cpu = process_cpu_seconds(broker_pid) - broker_cpu if broker_pid else 0.0
        done = sum(s["processed"] for s in stats)
        span = max(s["last"] for s in stats) - min(s["first"] for s in stats if s["first"])
        per_min = done / span * 60
        verdict = "target met" if per_min >= TARGET_PER_MIN else "BELOW the 100,000/min target"
        cpu = sum(s["cpu"] for s in stats)
        print(f"  {count} replica(s): {done:,} signed in {span:.1f}s = {per_min:,.0f} messages/min ({verdict})")
        print(
            f"    signer CPU: {cpu:.1f}s = {cpu / done * 1e6:,.0f} µs/message "
            f"(≈ {done / cpu * 60 * (os.cpu_count() or 1):,.0f}/min if the replicas had every core; broker not counted)"
        )
        if broker_pid:
            total = cpu + broker_cpu
            print(
                f"    broker CPU: {broker_cpu:.1f}s = {broker_cpu / done * 1e6:,.0f} µs/message; signer + broker "
                f"{total / done * 1e6:,.0f} µs/message ≈ {done / total * 60 * (os.cpu_count() or 1):,.0f}/min "
                "on an otherwise idle machine"
            )
        for i, s in enumerate(stats):
            total = sum(s["seconds"].values()) or 1
            split = ", ".join(f"{k} {v / total:.0%}" for k, v in s["seconds"].items())
            print(f"    replica {i}: {s['processed']:,} msgs; time split: {split}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="per local measurement")
    parser.add_argument("--kafka", help="bootstrap servers; enables the end-to-end run")
    parser.add_argument("--messages", type=int, default=30_000)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--threads", type=int, default=1, help="signing threads per replica")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--skip-local", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile each replica (prints top functions)")
    parser.add_argument("--broker-pid", type=int, help="Kafka broker pid (local), to count its CPU per message")
    args = parser.parse_args()
    print(f"# cores: {os.cpu_count()}, python {sys.version.split()[0]}")
    if not args.skip_local:
        bench_local(args.seconds)
    if args.kafka:
        bench_kafka(
            args.kafka, args.messages, args.replicas, args.threads, args.partitions, args.profile, args.broker_pid
        )


if __name__ == "__main__":
    main()
