"""A load harness for the whole platform: the clearance benchmark and the fault tests run on it.

- ``stats``: percentiles and the latency summary;
- ``cpu``: CPU seconds of a process (and of a server with its children) from ``/proc/<pid>/stat``;
- ``servers``: Kafka and Postgres through ``scripts/kafka.sh`` / ``scripts/postgres.sh`` (start, restart,
  stop), or servers given in the environment;
- ``processes``: ``cbec run <name>`` processes, with replicas, kill -9 and restart;
- ``identities``: a software SM2 key per tenant for the signer;
- ``clearances``: full clearances published in reverse prerequisite order at a chosen rate;
- ``watch``: ``cbec.out.status`` followed until every list is released;
- ``arrivals``: the simulator's journal read back, and the exactly-once / prerequisite-order check;
- ``faults``: the fault scenarios (kill -9, server restarts, lossy or duplicating customs);
- ``run``: a whole load run (stack, load, wait, report), as the benchmark and the fault tests use it.

It relies only on the intake topics (``cbec.in.*``), ``cbec.out.status``, the ``CBEC_*`` settings and
the DXP folders, so it keeps working while the platform's internals change.
"""
