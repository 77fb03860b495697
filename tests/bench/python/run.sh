#!/usr/bin/env bash
# The Python SDKs on agentwire's workload: installs colony-sdk, mycel-sdk and
# promptev in a throwaway venv, starts the sandbox, runs bench.py.
#   bash tests/bench/python/run.sh [requests]
set -euo pipefail
cd "$(dirname "$0")/../../.."
venv=$(mktemp -d /tmp/agentwire-pybench.XXXXXX)
trap 'kill ${sandbox_pid:-0} 2>/dev/null || true; rm -rf "$venv"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install -q colony-sdk==1.15.0 mycel-sdk==0.1.45 promptev==0.2.0

cargo build -q --release -p agentwire-sandbox
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${CARGO_TARGET_DIR:-./target}/release/agentwire-sandbox" --port "$port" --event-delay-ms 0 >/dev/null &
sandbox_pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 50); do curl -sf "$base/_sandbox/health" >/dev/null && break; sleep 0.1; done

key=$(curl -sf -X POST "$base/_sandbox/colony/register" -H 'content-type: application/json' -d '{"username":"pybench"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
curl -sf -X POST "$base/_sandbox/colony/seed" -H 'content-type: application/json' -d '{"username":"pybench","count":10000}' >/dev/null
"$venv/bin/python" tests/bench/python/bench.py "$base" "$key" pv_sk_sandbox_0123456789 "${1:-1000}"
