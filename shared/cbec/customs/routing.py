"""Several customs transports at once, chosen per tenant or per region by the customs code.

A route is a customs-code prefix: a tenant's full ten-character code, or a shorter prefix for a region
(the first four characters are the customs district). The longest matching prefix wins; the default
transport takes the rest. Outgoing messages are routed by the customs code in their seed-rule name
(``CEB311Message_<code>_...``), so a staged message is settled on the transport that staged it, even by
a restarted process; receipts are acknowledged on the transport that fetched them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cbec.customs.filedrop import Received, Staged
from cbec.customs.transport import Transport


class TransportRouter:
    """A :class:`~cbec.customs.transport.Transport` over several, by customs-code prefix."""

    def __init__(self, default: Transport, routes: dict[str, Transport]) -> None:
        self.default = default
        self.routes = dict(sorted(routes.items(), key=lambda kv: -len(kv[0])))  # longest prefix first
        self.transports: list[Transport] = list({id(t): t for t in [default, *routes.values()]}.values())
        self._fetched_by: dict[str, Transport] = {}

    def for_code(self, customs_code: str) -> Transport:
        for prefix, transport in self.routes.items():
            if customs_code.startswith(prefix):
                return transport
        return self.default

    def for_name(self, name: str) -> Transport:
        parts = name.split("_")
        return self.for_code(parts[1]) if len(parts) > 2 else self.default

    def _grouped(self, files: Sequence[Staged]) -> list[tuple[Transport, list[Staged]]]:
        groups: dict[int, tuple[Transport, list[Staged]]] = {}
        for f in files:
            transport = self.for_name(f.name)
            groups.setdefault(id(transport), (transport, []))[1].append(f)
        return list(groups.values())

    def free_name(self, msg_type: str, customs_code: str, when: datetime) -> str:
        return self.for_code(customs_code).free_name(msg_type, customs_code, when)

    def transmit(self, name: str, data: bytes) -> object:
        return self.for_name(name).transmit(name, data)

    def transmit_many(self, files: Sequence[tuple[str, bytes]]) -> None:
        groups: dict[int, tuple[Transport, list[tuple[str, bytes]]]] = {}
        for name, data in files:
            transport = self.for_name(name)
            groups.setdefault(id(transport), (transport, []))[1].append((name, data))
        for transport, group in groups.values():
            transport.transmit_many(group)

    def stage(self, files: Sequence[Staged]) -> None:
        for transport, group in self._grouped(files):
            transport.stage(group)

    def hand_over(self, files: Sequence[Staged]) -> int:
        return sum(transport.hand_over(group) for transport, group in self._grouped(files))

    def discard(self, files: Sequence[Staged]) -> None:
        for transport, group in self._grouped(files):
            transport.discard(group)

    def staged(self) -> list[tuple[Staged, float]]:
        return [item for transport in self.transports for item in transport.staged()]

    def fetch(self) -> list[Received]:
        """Every transport's receipts; each is later settled on the transport it came from."""
        self._fetched_by.clear()  # a round settles all it fetched; what it did not comes again
        out: list[Received] = []
        for transport in self.transports:
            for received in transport.fetch():
                self._fetched_by[received.name] = transport
                out.append(received)
        return out

    def acknowledge(self, name: str) -> None:
        self._fetched_by.pop(name, self.default).acknowledge(name)

    def quarantine(self, name: str) -> None:
        self._fetched_by.pop(name, self.default).quarantine(name)

    def idle(self) -> float:
        return min(transport.idle() for transport in self.transports)
