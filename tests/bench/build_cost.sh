#!/usr/bin/env bash
# Build cost of agentwire: clean debug build of the `agentwire` crate, an
# incremental rebuild after a facade edit, the size of each generated file,
# and `cargo xtask regen` once xtask is built.
#   bash tests/bench/build_cost.sh
#   AGENTWIRE_FEATURES=rustls,colony bash tests/bench/build_cost.sh   # one service
set -euo pipefail
cd "$(dirname "$0")/../.."
target=$(mktemp -d /tmp/agentwire-buildcost.XXXXXX)
edited=facade/agentwire/src/config.rs
cp "$edited" "$target.orig"
trap 'cp "$target.orig" "$edited"; rm -rf "$target" "$target.orig"' EXIT
export CARGO_TARGET_DIR="$target"
features=()
if [ -n "${AGENTWIRE_FEATURES:-}" ]; then
    features=(--no-default-features --features "$AGENTWIRE_FEATURES")
fi

cargo fetch -q
start=$(date +%s%N)
cargo build -q -p agentwire "${features[@]}"
clean=$(( ($(date +%s%N) - start) / 1000000 ))

echo "// touched by build_cost.sh" >> "$edited"
start=$(date +%s%N)
cargo build -q -p agentwire "${features[@]}"
incremental=$(( ($(date +%s%N) - start) / 1000000 ))
cp "$target.orig" "$edited"

cargo build -q -p xtask
start=$(date +%s%N)
"$target/debug/xtask" regen >/dev/null
regen=$(( ($(date +%s%N) - start) / 1000000 ))
git diff --quiet -- openapi generated || { echo "regen changed committed files" >&2; exit 1; }

printf 'clean debug build of agentwire (with deps, features: %s): %d ms\n' "${AGENTWIRE_FEATURES:-default}" "$clean"
printf 'incremental rebuild after a facade edit:    %d ms\n' "$incremental"
printf 'cargo xtask regen (all services):           %d ms\n' "$regen"
for f in generated/*/src/lib.rs; do
    printf 'generated %-28s %8d bytes %6d lines\n' "$f" "$(wc -c < "$f")" "$(wc -l < "$f")"
done
