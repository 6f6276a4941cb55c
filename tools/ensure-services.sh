#!/bin/sh
# The tests run real services that no PyPI package provides: RabbitMQ
# (Debian's rabbitmq-server) and MariaDB (Debian's mariadb-server, Heat's
# database) for the functional tests, and an SNMP agent (Debian's snmpd,
# edge router tests). Install what is missing, when we may.
set -e
missing=""
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || missing="$missing rabbitmq-server"
[ -x /usr/sbin/mariadbd ] || missing="$missing mariadb-server"
command -v snmpd >/dev/null 2>&1 || [ -x /usr/sbin/snmpd ] || missing="$missing snmpd"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages:$missing (run: sudo apt-get install -y$missing)" >&2
    exit 1
fi
echo "installing$missing with apt-get" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
# Debian starts nothing without systemd; the tests start their own.
