"""How a Kafka client of cbec authenticates: the ``kafka`` settings section as client keyword arguments.

Every client the product creates (kafka-python consumers, producers and admin clients; aiokafka
consumers and producers) gets its security options from :func:`client_options`, so one set of
``CBEC_KAFKA_*`` variables governs them all. See docs/security.md, "Identity on Kafka".
"""

from __future__ import annotations

import ssl
from typing import Any, Literal

from cbec.settings import KafkaSettings

Library = Literal["kafka-python", "aiokafka"]


class KafkaSecurityError(ValueError):
    """The security settings cannot make a client (the message names the variable)."""


def client_options(kafka: KafkaSettings, library: Library = "kafka-python") -> dict[str, Any]:
    """Keyword arguments for a client of ``library``: the bootstrap servers, the security protocol and,
    as the protocol asks, the SASL/SCRAM credentials and the TLS files (aiokafka takes TLS as an
    ``ssl_context``). PLAINTEXT gives the bootstrap servers and the protocol only."""
    options: dict[str, Any] = {
        "bootstrap_servers": kafka.bootstrap_servers,
        "security_protocol": kafka.security_protocol,
    }
    if kafka.uses_sasl:
        password = kafka.password.get_secret_value() if kafka.password is not None else ""
        if not kafka.username:
            raise KafkaSecurityError(f"CBEC_KAFKA_USERNAME is required with {kafka.security_protocol}")
        if not password:
            raise KafkaSecurityError(f"CBEC_KAFKA_PASSWORD is required with {kafka.security_protocol}")
        options.update(sasl_mechanism=kafka.sasl_mechanism, sasl_plain_username=kafka.username,
                       sasl_plain_password=password)
    if kafka.uses_tls:
        if library == "aiokafka":
            options["ssl_context"] = ssl_context(kafka)
        else:
            options.update({name: str(path) for name, path in (
                ("ssl_cafile", kafka.ssl_cafile), ("ssl_certfile", kafka.ssl_certfile),
                ("ssl_keyfile", kafka.ssl_keyfile)) if path is not None})
    return options


def ssl_context(kafka: KafkaSettings) -> ssl.SSLContext:
    """A verifying TLS context: the system's CAs or ``CBEC_KAFKA_SSL_CAFILE``, and the client
    certificate when ``CBEC_KAFKA_SSL_CERTFILE`` is set."""
    context = ssl.create_default_context(cafile=str(kafka.ssl_cafile) if kafka.ssl_cafile else None)
    if kafka.ssl_certfile is not None:
        context.load_cert_chain(str(kafka.ssl_certfile), str(kafka.ssl_keyfile) if kafka.ssl_keyfile else None)
    elif kafka.ssl_keyfile is not None:
        raise KafkaSecurityError("CBEC_KAFKA_SSL_KEYFILE is set without CBEC_KAFKA_SSL_CERTFILE")
    return context
