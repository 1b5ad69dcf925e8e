#!/bin/sh
# run_dumps.sh [--update] — golden dumps of the compiler's passes.
#
# For every lang/examples/*.amp and the node files listed below, the dump
# of every pass (`ampc --dump PASS`, each after a "== PASS" line) must equal
# tests/golden/dumps/<file>.txt byte for byte, and dumping twice must give
# identical bytes. `--update` rewrites the golden files (review the diff
# before committing).
set -u
B=${B:-build}
passes="ast sema schedule graph rates plan flush loops state"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p tests/golden/dumps
pass=0; fail=0
dump_all() {
    for p in $passes; do
        echo "== $p"
        "$B/ampc" "$1" -I nodes --dump "$p" 2>&1 || echo "(exit $?)"
    done
}
for f in lang/examples/*.amp nodes/reverb.amp nodes/stereo_delay.amp nodes/pad.amp; do
    name=$(echo "$f" | sed 's|/|_|g; s|\.amp$||')
    golden="tests/golden/dumps/$name.txt"
    dump_all "$f" > "$tmp/a"
    dump_all "$f" > "$tmp/b"
    if ! cmp -s "$tmp/a" "$tmp/b"; then
        fail=$((fail + 1)); echo "FAIL $f: two dumps differ"; continue
    fi
    if [ "${1:-}" = --update ]; then
        cp "$tmp/a" "$golden"
    elif ! cmp -s "$tmp/a" "$golden"; then
        fail=$((fail + 1)); echo "FAIL $f: its dumps differ from $golden"
        diff -u "$golden" "$tmp/a" | head -20
        continue
    fi
    pass=$((pass + 1))
done
echo "dumps: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
