#!/usr/bin/env bash
# Where the client's CPU time goes, per client, on real hardware: samples the
# overhead bench's alternating run (`AGENTWIRE_BENCH_ALTERNATE=1`, one
# thread, concurrency 1) with `perf record -e cpu-clock` and DWARF call
# graphs, then gives each sample of the client process to the client whose
# block it fell in, and sums them by kind of code (decoding, allocator,
# kernel, runtime, ...).
#
#   bash tests/bench/attribute.sh [requests] [perf.data]   (default 8000)
#
# cachegrind (cycles.sh) counts instructions, cache misses and
# mispredictions exactly, but prices them with a model; this measures time,
# with sampling noise (about the square root of a count). The two disagree:
# on 2026-12-02 cachegrind put the transport within 1 % of plain reqwest by
# every count while it took 5 % more CPU time. The ratios of sample counts
# run higher than the bench's own (1.130 and 1.068 against 1.074 and 1.054
# in the same run): use the table for where the difference lies, the bench
# for how large it is.
#
# How a sample finds its client: a stack through the facade's own frames is
# the facade's; one through the runtime or the generated builder without
# them is the transport's; one through plain reqwest's calls in the bench is
# reqwest's. The clients take turns in blocks of 16 requests, so every other
# sample of the client process (the connection task, the I/O driver, the
# kernel) goes to the client of the samples around it when both sides agree,
# and is left out otherwise. The first quarter of each block, the bench's
# uncounted warm-up, is reported apart.
set -euo pipefail
cd "$(dirname "$0")/../.."
requests=${1:-8000}
data=${2:-}
command -v perf >/dev/null || { echo "attribute.sh needs perf (apt-get install linux-perf)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if [ -z "$data" ]; then
    cargo build --release -q -p agentwire-bench --bin overhead
    data="$out/perf.data"
    AGENTWIRE_BENCH_ALTERNATE=1 perf record -q -e cpu-clock -F 4000 --call-graph=dwarf,16384 \
        -o "$data" target/release/overhead "$requests"
fi
perf script -i "$data" -F pid,tid,time,ip,sym,dso 2>/dev/null >"$out/script"
python3 - "$out/script" <<'EOF'
import collections, re, sys

samples, cur = [], None
for line in open(sys.argv[1], errors="replace"):
    if not line.strip():
        if cur:
            samples.append(cur)
        cur = None
    elif line[0] not in "\t ":
        m = re.match(r"\s*(\d+)/(\d+)\s+([\d.]+):", line)
        cur = (int(m.group(1)), float(m.group(3)), []) if m else None
    elif cur is not None:
        m = re.match(r"\s*[0-9a-f]+\s+(.*?)(?:\s+\((.*)\))?\s*$", line)
        if m:
            cur[2].append((m.group(1), (m.group(2) or "").rsplit("/", 1)[-1]))
if cur:
    samples.append(cur)
# The client is the parent: the lower of the two busiest processes.
busiest = collections.Counter(s[0] for s in samples).most_common(2)
client = min(p for p, _ in busiest)
S = sorted((s for s in samples if s[0] == client and s[2]), key=lambda s: s[1])

def decisive(stack):
    names = [f for f, _ in stack]
    joined = " ".join(names)
    if "agentwire::colony::" in joined:
        return "facade"
    if "overhead::one" not in joined:
        return None
    if "agentwire_runtime" in joined or "agentwire_colony_transport::builder" in joined:
        return "transport?"
    i = next(n for n, f in enumerate(names) if "overhead::one" in f)
    below = names[i - 1] if i else ""
    if "plain_get_posts" in joined or "reqwest::async_impl" in below or "from_slice" in below:
        return "reqwest"
    return None

d = [decisive(s[2]) for s in S]
n = len(S)
prev, nxt, last = [None] * n, [None] * n, None
for i in range(n):
    last = (d[i], S[i][1]) if d[i] else last
    prev[i] = last
last = None
for i in range(n - 1, -1, -1):
    last = (d[i], S[i][1]) if d[i] else last
    nxt[i] = last
plain = lambda k: "transport" if k == "transport?" else k
label = []
for i in range(n):
    p, q = prev[i], nxt[i]
    if d[i] in ("facade", "reqwest"):
        label.append(d[i])
    elif d[i] == "transport?":
        # A facade call runs the runtime too: inside a facade block it is the facade's.
        near = lambda x: x and x[0] == "facade" and abs(S[i][1] - x[1]) < 0.002
        label.append("facade" if near(p) and near(q) else ("?" if near(p) or near(q) else "transport"))
    elif p and q and plain(p[0]) == plain(q[0]):
        label.append(plain(p[0]))
    else:
        label.append("?")
# Blocks: runs of one label; their first quarter is the warm-up.
counted = list(label)
idx = [i for i, l in enumerate(label) if l != "?"]
start = idx[0] if idx else 0
for a, b in zip(idx, idx[1:] + [None]):
    if b is None or label[b] != label[a]:
        cut = S[start][1] + (S[a][1] - S[start][1]) * 0.25
        for i in range(start, a + 1):
            if label[i] != "?" and S[i][1] < cut:
                counted[i] = "warm-up"
        start = b if b is not None else start

def kind(f, dso):
    if dso.startswith("[kernel") or dso == "kernel.kallsyms":
        return "kernel"
    if re.search(r"malloc|_int_free|libc_free|^free|cfree|unlink_chunk|consolidate|realloc|alloc_perturb|__rust_alloc|__rust_dealloc|__rdl_|tcache", f):
        return "allocator"
    if re.search(r"memcpy|memmove|memset|memcmp", f):
        return "mem*"
    if "agentwire_runtime" in f:
        return "runtime"
    if re.search(r"serde|chrono|uuid|types::|Content|visit|from_utf8|Deserial|parse_str|skip_to_escape", f):
        return "decoding"
    if "agentwire_colony_transport::builder" in f:
        return "builder"
    if "agentwire::" in f:
        return "facade"
    if "Pin<P>" in f:
        return "boxed futures"
    for key, name in (("tokio", "tokio"), ("mio", "tokio"), ("hyper", "hyper"), ("reqwest", "reqwest")):
        if key in f:
            return name
    if re.search(r"http::|url::|idna|percent_enc|form_urlenc|httparse", f):
        return "http/url"
    return "other"

clients = ["facade", "transport", "reqwest"]
table = {c: collections.Counter() for c in clients}
for s, l in zip(S, counted):
    if l in table:
        table[l][kind(*s[2][0])] += 1
unassigned = sum(1 for l in counted if l == "?")
warm = sum(1 for l in counted if l == "warm-up")
print(f"client samples: {n}; warm-up quarter of each block {warm}, unassigned {unassigned}")
print(f"{'':<14}" + "".join(f"{c:>11}" for c in clients) + f"{'f - rq':>9}{'t - rq':>9}")
kinds = sorted({k for c in clients for k in table[c]}, key=lambda k: -table["facade"][k])
for k in kinds + ["all"]:
    v = [sum(table[c].values()) if k == "all" else table[c][k] for c in clients]
    print(f"{k:<14}" + "".join(f"{x:>11}" for x in v) + f"{v[0] - v[2]:>+9}{v[1] - v[2]:>+9}")
tot = [sum(table[c].values()) for c in clients]
if tot[2]:
    print(f"facade / reqwest {tot[0] / tot[2]:.3f}, transport / reqwest {tot[1] / tot[2]:.3f} (samples, warm-up left out)")
EOF
