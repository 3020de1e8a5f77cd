#!/bin/bash
# Instructions per operation, counted by callgrind: not disturbed by other
# work on a shared machine, so two builds can be compared exactly.
#
#   tools/instructions.sh <kaiser binary> [port] [extra kaiser flags…]
#
# Runs kaiser under `valgrind --tool=callgrind` in a temp dir (loopback only)
# and prints user-space instructions per create (`kubectl create -f` of
# 1,000 ConfigMaps of 1 KiB), per LIST of those 1,000 (curl, a TLS handshake
# included) and per create seen by 50 watchers. Needs valgrind, kubectl, curl.
set -euo pipefail
BIN=$(realpath "$1")
PORT=${2:-17001}
shift $(($# < 2 ? $# : 2))
D=$(mktemp -d /tmp/kaiser-instructions.XXXX)
trap 'pkill -f "127.0.0.1:$PORT/api/v1/namespaces/w/" || true; kill $VP 2>/dev/null || true; wait 2>/dev/null; [ -n "${KEEP:-}" ] && echo "kept $D" || rm -rf "$D"' EXIT
cd "$D"

python3 - <<'EOF'
import json
def cms(n, prefix, ns=None):
    items = []
    for i in range(n):
        meta = {"name": f"{prefix}{i}"}
        if ns:
            meta["namespace"] = ns
        items.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
                      "data": {"payload": "x" * 1024}})
    return {"apiVersion": "v1", "kind": "List", "items": items}
json.dump(cms(1000, "cm-"), open("creates.json", "w"))
json.dump(cms(50, "w-", "w"), open("watched.json", "w"))
EOF

valgrind --tool=callgrind --callgrind-out-file="$D/cg.%p.out" "$BIN" --secure-port="$PORT" "$@" > kaiser.log 2>&1 &
VP=$!
while [ ! -f kaiser-data/admin.kubeconfig ]; do sleep 0.2; done
export KUBECONFIG=$D/kaiser-data/admin.kubeconfig
PKI=$D/kaiser-data/pki
CURL=(curl -A kubectl -s --http1.1 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key")
until "${CURL[@]}" -o /dev/null "https://127.0.0.1:$PORT/readyz"; do sleep 0.5; done
kubectl create ns w > /dev/null
# The OpenAPI documents are built on first use and kubectl create asks for
# them: build them before counting.
kubectl create -f creates.json --dry-run=server -o name > /dev/null
sleep 3

# phase <label> <operations> <command…>: instructions between zero and dump.
phase() {
  local label=$1 count=$2
  shift 2
  callgrind_control -z $VP > /dev/null
  "$@" > /dev/null
  sleep 3 # watch deliveries finish after the command returns
  callgrind_control -d $VP > /dev/null
  sleep 1
  local f ir
  f=$(ls -t "$D"/cg.*.out.* | head -1)
  ir=$(grep -m1 "^summary:\|^totals:" "$f" | awk '{print $2}')
  echo "$label: $((ir / count)) instructions each"
}

phase "create (1 KiB ConfigMap, kubectl create -f)" 1000 kubectl create -f creates.json -o name
phase "LIST of 1,000 (curl)" 5 bash -c "for i in 1 2 3 4 5; do ${CURL[*]} -o /dev/null https://127.0.0.1:$PORT/api/v1/namespaces/default/configmaps; done"
for _ in $(seq 1 50); do
  "${CURL[@]}" -N -o /dev/null "https://127.0.0.1:$PORT/api/v1/namespaces/w/configmaps?watch=1" &
done
sleep 8
phase "create seen by 50 watchers" 50 kubectl create -f watched.json -o name
