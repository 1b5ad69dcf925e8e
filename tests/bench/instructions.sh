#!/bin/sh
# instructions.sh — `make bench-instructions`: instructions per sample of
# every benchmark row's sides, counted by valgrind (callgrind) inside
# bench's instr_region alone (bench --instr ROW:SIDE, tests/bench/bench.c):
# a measure that, unlike time, does not depend on what else the machine
# runs. Usage: instructions.sh BENCH [ROW...]; prints a table, one line per
# row: instructions per sample for ours, Faust scalar, Faust -vec, and the
# ratio of Faust's fewer to ours (> 1: ours runs fewer instructions).
set -eu
bench=$1; shift
rows=${*:-"synth1 synth8 synth64 svf biquads freeverb"}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)

count() {  # row side frames -> instructions per sample
    valgrind --tool=callgrind --collect-atstart=no --toggle-collect=instr_region \
        --callgrind-out-file="$tmp/out" "$bench" --instr "$1:$2" --instr-frames "$3" \
        >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
    ir=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$tmp/out")
    [ -n "$ir" ] || ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$tmp/out")
    echo "$ir $3" | awk '{ printf "%.1f", $1 / $2 }'
}

printf '%-10s %10s %10s %10s %10s\n' row ours faust_s faust_v best/ours
for row in $rows; do
    case $row in
        synth64|synth256) frames=8192 ;;
        synth8) frames=16384 ;;
        *) frames=49152 ;;
    esac
    o=$(count "$row" ours $frames)
    s=$(count "$row" faust_s $frames)
    v=$(count "$row" faust_v $frames)
    echo "$row $o $s $v" | awk '{ b = $3 < $4 ? $3 : $4; printf "%-10s %10s %10s %10s %9.2fx\n", $1, $2, $3, $4, b / $2 }'
done
echo "bench-instructions: $(( $(date +%s) - start )) s"
