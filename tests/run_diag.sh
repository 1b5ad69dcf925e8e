#!/bin/sh
# run_diag.sh AMPC — golden diagnostics.
#
# Each tests/diag/*.amp is a bad input whose first lines say, as
#   //! LINE:COL: error: MESSAGE
# exactly which diagnostics ampc must print (errors and notes, in order).
# The file's own path is removed from ampc's output before comparing.
# ampc must exit with status 1 (an error, not a crash).
ampc=${1:-build/ampc}
pass=0; fail=0
for f in tests/diag/*.amp; do
    expected=$(sed -n 's|^//! ||p' "$f")
    actual=$("$ampc" --check "$f" 2>&1 >/dev/null)
    rc=$?
    got=$(printf '%s\n' "$actual" | grep -E '^[^ ]+:[0-9]+:[0-9]+: (error|note): |^error: ' |
          sed "s|^$f:||; s|$f|FILE|g")
    if [ "$rc" -ne 1 ] || [ "$got" != "$expected" ]; then
        fail=$((fail + 1))
        echo "FAIL $f (exit $rc)"
        echo "  expected:"; printf '%s\n' "$expected" | sed 's/^/    /'
        echo "  got:"; printf '%s\n' "$got" | sed 's/^/    /'
    else
        pass=$((pass + 1))
    fi
done
echo "diagnostics: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
