#!/usr/bin/env bash
# Client work per request of the overhead bench's three clients, counted by
# cachegrind instead of timed: instructions, simulated cache misses and
# branch mispredictions, and the cycles they estimate. CPU time on a shared
# 2-vCPU machine moves by several percent from run to run; these counts move
# by a few tenths of a percent, so they can tell a 1 % change.
#
#   bash tests/bench/cycles.sh [short-run] [long-run]     (default 200 1200)
#
# Each client runs alone (`AGENTWIRE_BENCH_ONLY`, one worker) twice, for the
# short and the long number of requests, under
# `valgrind --tool=cachegrind --cache-sim=yes --branch-sim=yes`; the sandbox
# child is not traced. The difference of the two runs divided by the
# difference of their lengths is the cost of one request, without start-up
# and warm-up. Estimated cycles use the weights of iai-callgrind: an L1 hit
# costs 1, an LL hit 5, a miss to memory 35; mispredictions are shown apart.
# Valgrind runs the client's threads one at a time, so what this cannot see
# is the scheduling between them: the kernel's share and the wake-ups.
set -euo pipefail
cd "$(dirname "$0")/../.."
short=${1:-200}
long=${2:-1200}
command -v valgrind >/dev/null || { echo "cycles.sh needs valgrind (apt-get install valgrind)" >&2; exit 1; }
cargo build --release -q -p agentwire-bench --bin overhead
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for kind in facade transport reqwest; do
    for n in "$short" "$long"; do
        AGENTWIRE_BENCH_ONLY=$kind valgrind --tool=cachegrind --cache-sim=yes --branch-sim=yes \
            --trace-children=no --cachegrind-out-file="$out/$kind.$n" \
            target/release/overhead "$n" >"$out/$kind.$n.log" 2>&1
    done
done
python3 - "$out" "$short" "$long" <<'EOF'
import sys
out, short, long_ = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
events = "Ir I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw Bc Bcm Bi Bim".split()

def summary(kind, n):
    for line in open(f"{out}/{kind}.{n}"):
        if line.startswith("summary:"):
            return dict(zip(events, map(int, line.split()[1:])))
    raise SystemExit(f"no summary in {kind}.{n}")

def per_request(kind):
    a, b = summary(kind, short), summary(kind, long_)
    return {e: (b[e] - a[e]) / (long_ - short) for e in events}

def derived(p):
    accesses = p["Ir"] + p["Dr"] + p["Dw"]
    l1_miss = p["I1mr"] + p["D1mr"] + p["D1mw"]
    ll_miss = max(p["ILmr"] + p["DLmr"] + p["DLmw"], 0)
    cycles = (accesses - l1_miss) + 5 * (l1_miss - ll_miss) + 35 * ll_miss
    return {
        "instructions": p["Ir"],
        "data reads+writes": p["Dr"] + p["Dw"],
        "L1i misses": p["I1mr"],
        "L1d misses": p["D1mr"] + p["D1mw"],
        "branch mispredicts": p["Bcm"] + p["Bim"],
        "estimated cycles": cycles,
    }

kinds = ["facade", "transport", "reqwest"]
rows = {k: derived(per_request(k)) for k in kinds}
print(f"get_posts (limit 20), one client alone, per request: runs of {long_} minus {short} requests, cachegrind")
print(f"{'':<20}" + "".join(f"{k:>12}" for k in kinds) + f"{'facade/rq':>11}{'transp/rq':>11}")
for name in rows["facade"]:
    f, t, r = (rows[k][name] for k in kinds)
    print(f"{name:<20}{f:>12.0f}{t:>12.0f}{r:>12.0f}{f / r:>10.3f}x{t / r:>10.3f}x")
EOF
