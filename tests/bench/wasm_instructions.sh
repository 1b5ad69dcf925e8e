#!/bin/sh
# wasm_instructions.sh — `make bench-instructions-wasm`: instructions per
# sample of our WebAssembly build under node (V8's TurboFan code), counted
# by valgrind's callgrind between two marks around one render
# (tests/bench/wasm_instr.js), beside instructions.sh's native count of the
# same row. Usage: wasm_instructions.sh BENCH BENCH_WASM_JS [ROW...]; rows:
# synth1 synth64 biquads svf freeverb. Slow (node under valgrind: about a
# minute a row); independent of the machine's load.
set -eu
bench=$1; js=$2; shift 2
rows=${*:-"synth1 synth64 svf biquads freeverb"}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)

native() {  # row frames -> instructions per sample
    valgrind --tool=callgrind --collect-atstart=no --toggle-collect=instr_region \
        --callgrind-out-file="$tmp/n.out" "$bench" --instr "$1:ours" --instr-frames "$2" >/dev/null 2>&1
    sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$tmp/n.out" | awk -v f="$2" '{ printf "%.1f", $1 / f }'
}

wasm() {  # case voices frames -> instructions per sample
    rm -f "$tmp"/w.*
    valgrind --tool=callgrind --smc-check=all-non-file --dump-before='*MemoryUsage*' \
        --callgrind-out-file="$tmp/w.%p" node --no-liftoff --no-experimental-fetch \
        tests/bench/wasm_instr.js "$js" "$1" "$3" "$2" >/dev/null 2>&1
    # the last dump of any size is the marked render (the marks' own dumps are tiny)
    for f in "$tmp"/w.*.*; do echo "${f##*.} $(sed -n 's/^summary: *//p' "$f")"; done | sort -n |
        awk -v f="$3" '$2 > 100000 { last = $2 } END { printf "%.1f", last / f }'
}

printf '%-10s %10s %10s %10s\n' row native wasm native/wasm
for row in $rows; do
    case $row in
        synth1) c="0 1"; frames=16384 ;;
        synth64) c="0 64"; frames=4096 ;;
        biquads) c="2 0"; frames=32768 ;;
        svf) c="3 0"; frames=32768 ;;
        freeverb) c="4 0"; frames=16384 ;;
        *) echo "no row $row" >&2; exit 1 ;;
    esac
    n=$(native "$row" "$frames")
    w=$(wasm $c "$frames")
    echo "$row $n $w" | awk '{ printf "%-10s %10s %10s %9.2fx\n", $1, $2, $3, $2 / $3 }'
done
echo "bench-instructions-wasm: $(( $(date +%s) - start )) s"
