#!/bin/sh
# run_golden.sh [--update] — golden emitted C and JSON.
#
# For every lang/examples/*.amp, the C and JSON that ampc writes must equal
# tests/golden/<unit>.c and .json byte for byte, and compiling twice (once
# from another working directory) must give identical bytes.
# `--update` rewrites the golden files (review the diff before committing).
set -u
B=${B:-build}
top=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
for f in lang/examples/*.amp; do
    name=$(basename "$f" .amp)
    mkdir -p "$tmp/a/$name" "$tmp/b/$name"
    "$B/ampc" "$f" -o "$tmp/a/$name" || { fail=$((fail + 1)); echo "FAIL $f: ampc"; continue; }
    (cd "$tmp" && "$top/$B/ampc" "$top/$f" -o "$tmp/b/$name") || { fail=$((fail + 1)); continue; }
    if ! diff -r "$tmp/a/$name" "$tmp/b/$name" >/dev/null; then
        fail=$((fail + 1)); echo "FAIL $f: two compilations differ"; continue
    fi
    for out in "$tmp/a/$name"/*.c "$tmp/a/$name"/*.json; do
        golden="tests/golden/$(basename "$out")"
        if [ "${1:-}" = --update ]; then
            cp "$out" "$golden"
        elif ! cmp -s "$out" "$golden"; then
            fail=$((fail + 1)); echo "FAIL $f: $(basename "$out") differs from $golden"
            diff -u "$golden" "$out" | head -20
            continue 2
        fi
    done
    pass=$((pass + 1))
done
echo "golden: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
