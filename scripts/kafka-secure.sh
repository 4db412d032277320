#!/usr/bin/env bash
# The SASL/SCRAM + ACL test broker: scripts/kafka.sh with CBEC_KAFKA_SECURE=1 (see there).
#   scripts/kafka-secure.sh start|stop|status
set -euo pipefail
CBEC_KAFKA_SECURE=1 exec bash "$(dirname "${BASH_SOURCE[0]}")/kafka.sh" "$@"
