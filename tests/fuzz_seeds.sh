#!/bin/sh
# fuzz_seeds.sh OUTDIR FILE... — build the fuzzer's seed corpus.
#
# Copies each .amp file into OUTDIR (emptied first) under a flat name that
# keeps where it came from (nodes/std/osc.amp -> nodes_std_osc.amp). The
# harness compiles every input as `fuzz.amp` in the top directory with the
# include directory `nodes`, so an import that climbs back to nodes/
# ("../../nodes/std/osc.amp" in lang/examples/) is rewritten to the path
# below nodes/ ("std/osc.amp"); the harness would break the `..` otherwise.
set -e
out=$1
shift
rm -rf "$out"
mkdir -p "$out"
n=0
for f in "$@"; do
    [ -f "$f" ] || continue
    name=$(printf '%s' "$f" | tr '/' '_')
    sed 's#"\(\.\./\)*nodes/#"#g' "$f" > "$out/$name"
    n=$((n + 1))
done
echo "fuzz: $n seeds in $out"
