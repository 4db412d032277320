# The common cbec image: the hashed lock and the code (the official CEB XSDs are package data of
# cbec.ceb); every service image (services/<name>/Dockerfile) starts FROM it and only names its command.
# Build from the repo root:
#   docker build -t cbec/base:local .
# The Debian release is named in the tag (not only the Python version), so a rebuild never moves the
# system packages below to another release silently.
FROM python:3.11-slim-trixie

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CBEC_READY_FILE=/tmp/cbec-ready \
    CBEC_DXP_OUTBOX=/var/lib/cbec/dxp/outbox \
    CBEC_DXP_INBOX=/var/lib/cbec/dxp/inbox

# SoftHSM2 lets the signer's pkcs11 backend run without a hardware HSM (tests, demos); production mounts
# the vendor's PKCS#11 module instead and points CBEC_PKCS11_MODULE at it.
ARG WITH_SOFTHSM=0
# DL3008 (pin apt versions): softhsm2 is a development and test package only (WITH_SOFTHSM=1), taken from
# the Debian release the base image's tag names; a pinned version would break with each point release.
# hadolint ignore=DL3008
RUN if [ "$WITH_SOFTHSM" = 1 ]; then \
        apt-get update && apt-get install -y --no-install-recommends softhsm2 && rm -rf /var/lib/apt/lists/*; \
    fi

WORKDIR /app
# Dependencies first (exact versions, every file checked against its hash), so code edits reuse this layer.
COPY requirements.lock ./
RUN pip install --no-deps --require-hashes -r requirements.lock

COPY pyproject.toml ./
COPY shared ./shared
COPY cli ./cli
COPY services ./services
# The test kit (customs simulator, fake gateway, samples, demo tenants, embedded demo) is not product:
# it is dropped before the install unless WITH_TESTKIT=1 (the local compose stack, whose simulator and
# demo tenants need it). Without the folder, setuptools' discovery (pyproject `where`) finds no
# cbec_testkit package, so `pip install .` leaves it out of the image.
ARG WITH_TESTKIT=0
COPY testkit ./testkit
RUN if [ "$WITH_TESTKIT" != 1 ]; then rm -rf testkit; fi
RUN pip install --no-deps . \
    && groupadd --system --gid 10001 cbec \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/cbec cbec \
    && mkdir -p /var/lib/cbec/dxp/outbox /var/lib/cbec/dxp/inbox /var/lib/cbec/softhsm \
    && chown -R 10001:10001 /var/lib/cbec

USER 10001:10001
# Ready once the service has created $CBEC_READY_FILE (consumers joined, HTTP listening).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 CMD ["/bin/sh", "-c", "test -f \"$CBEC_READY_FILE\""]
CMD ["cbec", "--help"]
