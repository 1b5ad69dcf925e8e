#!/bin/sh
# run_nodes.sh — every unit of every file in nodes/ and lang/examples/:
#   1. compiles with ampc,
#   2. builds warning-free with gcc and clang (-Wall -Wextra -Werror),
#   3. renders with `amp render` (instruments play notes, effects process a
#      saw, generators run) to a 32-bit float WAV whose samples are all
#      finite (amp render fails on a non-finite sample, checked first on
#      tests/fixtures/nan_mix.amp) and not all silent, as counted by
#      build/tests/wav_check. A unit with sample slots has each bound to
#      tests/projects/hats.wav (--sample).
set -u
B=${B:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export AMP_CACHE="$tmp/cache"
pass=0; fail=0
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
"$B/amp" render nodes/std/osc.amp --unit saw --seconds 1 -o "$tmp/in.wav" 2>/dev/null ||
    { echo "cannot render the test input"; exit 1; }
# The guard itself: a render with NaN among finite samples fails, naming
# the patch and the first NaN, and writes no file.
if "$B/amp" render tests/fixtures/nan_mix.amp --format f32 --seconds 1 -o "$tmp/nan.wav" 2>"$tmp/nan.log"; then
    echo "FAIL amp render exited 0 on a patch that writes NaN"; exit 1
fi
grep -q "^amp: patch 'nan_mix' wrote NaN on output 0 at sample [0-9]* (.* s); nothing written$" "$tmp/nan.log" ||
    { echo "FAIL amp render did not name the NaN:"; cat "$tmp/nan.log"; exit 1; }
[ ! -e "$tmp/nan.wav" ] || { echo "FAIL amp render wrote a file with NaN in it"; exit 1; }
for f in nodes/*.amp nodes/std/*.amp lang/examples/*.amp; do
    for unit in $("$B/ampc" --list "$f" | awk '{print $2}'); do
        out="$tmp/$unit"
        mkdir -p "$out"
        if ! "$B/ampc" "$f" --unit "$unit" -o "$out" 2>"$out/log"; then
            bad "$f $unit: ampc"; cat "$out/log"; continue
        fi
        for cc in gcc clang; do
            if ! $cc -std=c11 -O2 -ffp-contract=off -Wall -Wextra -Werror -Iruntime/abi \
                 -c "$out/$unit.c" -o "$out/$unit.o" 2>"$out/log"; then
                bad "$f $unit: $cc warnings"; head -20 "$out/log"
            fi
        done
        kind=$(sed -n 's/.*"kind": "\([a-z]*\)".*/\1/p' "$out/$unit.json")
        args="--format f32 --seconds 1"
        [ "$kind" = instrument ] && args="--notes 48@0:0.4,60@0.1:0.6,67@0.2:0.8 --seconds 1.2"
        [ "$kind" = effect ] && args="--input $tmp/in.wav"
        grep -q '"name": "gate"' "$out/$unit.json" && args="$args --param gate=1"
        # sample slots (a sampler): each bound to the hats of tests/projects
        for slot in $(sed -n '/"samples": \[/,/\]/s/^ *"\([^"]*\)",*$/\1/p' "$out/$unit.json"); do
            args="$args --sample $slot=tests/projects/hats.wav"
        done
        if ! "$B/amp" render "$f" --unit "$unit" $args -o "$out/$unit.wav" 2>"$out/log"; then
            bad "$f $unit: render"; cat "$out/log"; continue
        fi
        if ! measured=$("$B/tests/wav_check" "$out/$unit.wav"); then
            bad "$f $unit: non-finite or silent output: $measured"; continue
        fi
        pass=$((pass + 1))
    done
done
echo "nodes: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
