#!/bin/sh
# The functional tests run a real RabbitMQ (Debian's rabbitmq-server), which
# no PyPI package provides. Install it when it is missing and we may.
set -e
command -v rabbitmq-server >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "rabbitmq-server is missing: run 'sudo apt-get install -y rabbitmq-server'" >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
# Debian starts nothing without systemd; the tests start their own node.
