#!/usr/bin/env python3
"""Fails when a publishable crate declares a rust-version older than what one
of its locked dependencies (normal and build, all targets) declares: such a
crate would not build on the toolchain it promises."""
import json
import subprocess
import sys


def version(text):
    if not text:
        return None
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    failures = []
    checked = 0
    for member in meta["workspace_members"]:
        crate = packages[member]
        if crate.get("publish") == []:
            continue
        declared = version(crate.get("rust_version"))
        if declared is None:
            failures.append(f"{crate['name']}: no rust-version declared")
            continue
        seen, stack = set(), [member]
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            for dep in nodes[current]["deps"]:
                if any(k["kind"] in (None, "build") for k in dep["dep_kinds"]):
                    stack.append(dep["pkg"])
        seen.discard(member)
        for dep_id in sorted(seen):
            dep = packages[dep_id]
            needed = version(dep.get("rust_version"))
            if needed and needed > declared:
                failures.append(
                    f"{crate['name']} declares rust-version {crate['rust_version']}, "
                    f"but {dep['name']} {dep['version']} needs {dep['rust_version']}"
                )
        checked += 1
        print(f"{crate['name']}: rust-version {crate['rust_version']} covers {len(seen)} dependencies")
    if failures:
        print("\n".join(failures), file=sys.stderr)
        sys.exit(1)
    if checked == 0:
        print("no publishable crate found", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
