# SPDX-License-Identifier: GPL-3.0-or-later
# Shared settings for scripts/*: where the private services live and their ports.
# Sourced, not executed. Every value can be overridden from the environment.
OCRQ_ROOT=${OCRQ_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
# The servers run as the rabbitmq and postgres users, who must be able to reach the
# run directory. A checkout under a private directory (e.g. /root) is not reachable
# for them: then the run directory goes under /var/tmp, named after the checkout.
if [ -z "${OCRQ_RUN_DIR:-}" ]; then
    OCRQ_RUN_DIR=$OCRQ_ROOT/.run
    if [ "$(id -u)" -eq 0 ] && ! runuser -u nobody -- test -x "$OCRQ_ROOT" 2>/dev/null; then
        OCRQ_RUN_DIR=/var/tmp/ocrq-run-$(printf '%s' "$OCRQ_ROOT" | cksum | cut -d' ' -f1)
    fi
fi
OCRQ_BUILD_DIR=${OCRQ_BUILD_DIR:-$OCRQ_ROOT/build}
OCRQ_AMQP_PORT=${OCRQ_AMQP_PORT:-5682}     # not 5672: a system broker may be there
OCRQ_PG_PORT=${OCRQ_PG_PORT:-5442}         # not 5432: a system PostgreSQL may be there
OCRQ_EPMD_PORT=${OCRQ_EPMD_PORT:-$((OCRQ_AMQP_PORT + 10))}
OCRQ_RABBIT_NODE=${OCRQ_RABBIT_NODE:-ocrq$OCRQ_AMQP_PORT@localhost}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
RABBIT_BIN=${RABBIT_BIN:-/usr/lib/rabbitmq/bin}   # not /usr/sbin: its wrapper resets HOME (the cookie)
SYS_PYTHON=/usr/bin/python3

export OCRQ_AMQP_URL=${OCRQ_AMQP_URL:-amqp://guest:guest@127.0.0.1:$OCRQ_AMQP_PORT/}
export OCRQ_DATABASE_URL=${OCRQ_DATABASE_URL:-postgresql://ocrq@127.0.0.1:$OCRQ_PG_PORT/ocrq}

say() { printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
