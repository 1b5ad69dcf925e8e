#!/bin/sh
# check_type_names.sh — no type name means two different things.
#
# Lists every type the project's C and TypeScript sources define (a struct, union or enum
# with a body, a typedef), file-local types included, and fails when one
# name is defined in more than one file: `Command` in two modules, or a
# file-local `Ctx` beside another, makes a newcomer guess which is meant.
# A forward declaration (`typedef struct Engine Engine;`) defines nothing;
# macro bodies are skipped (an X-macro's `} c_type;` names a parameter).
# Emitted patch C (tests/golden/, tests/fixtures/*.c) is compiler output
# and names its types after the unit, so it is not ours to check here.
set -u
cd "$(dirname "$0")/.."
start=$(date +%s)
files=$(git ls-files '*.c' '*.h' '*.re' '*.y' '*.def' | grep -v -e '^tests/golden/' -e '^tests/fixtures/.*\.c$')
# shellcheck disable=SC2086
defs=$(awk '
    FNR == 1 { depth = 0; typedef_open = 0; incomment = 0; in_macro = 0 }
    # a preprocessor line and its continuations (X-macro bodies name
    # parameters, not types)
    in_macro || /^[ \t]*#/ { in_macro = ($0 ~ /\\$/); next }
    {
        line = $0
        # drop comments (block comments across lines too) and strings
        out = ""
        while (length(line)) {
            if (incomment) {
                i = index(line, "*/")
                if (!i) { line = ""; break }
                line = substr(line, i + 2); incomment = 0; continue
            }
            i = index(line, "/*"); j = index(line, "//")
            if (j && (!i || j < i)) { out = out substr(line, 1, j - 1); line = ""; break }
            if (i) { out = out substr(line, 1, i - 1); line = substr(line, i + 2); incomment = 1; continue }
            out = out line; line = ""
        }
        gsub(/"([^"\\]|\\.)*"/, "\"\"", out)
        s = out
        if (depth == 0 && match(s, /(struct|union|enum)[ \t]+[A-Za-z_][A-Za-z0-9_]*[ \t]*\{/)) {
            t = substr(s, RSTART, RLENGTH); sub(/^(struct|union|enum)[ \t]+/, "", t); sub(/[ \t]*\{$/, "", t)
            print t "\t" FILENAME
        }
        if (depth == 0 && s ~ /(^|[^A-Za-z0-9_])typedef[ \t]/ && s ~ /\{/)
            typedef_open = 1
        else if (depth == 0 && s ~ /(^|[^A-Za-z0-9_])typedef[ \t]/ && s ~ /;/) {
            t = s
            if (match(t, /\([ \t]*\*[ \t]*[A-Za-z_][A-Za-z0-9_]*[ \t]*\)/)) {
                t = substr(t, RSTART, RLENGTH); gsub(/[()* \t]/, "", t)
            } else {
                sub(/[ \t]*(\[[^]]*\])*[ \t]*;.*$/, "", t); sub(/^.*[^A-Za-z0-9_]/, "", t)
            }
            # `typedef struct X X;` declares X; it defines nothing new
            if (s !~ /typedef[ \t]+(struct|union|enum)[ \t]+[A-Za-z_][A-Za-z0-9_]*[ \t]+[A-Za-z_][A-Za-z0-9_]*[ \t]*;/)
                print t "\t" FILENAME
        }
        n = split(s, ch, "")
        for (k = 1; k <= n; k++) {
            if (ch[k] == "{") depth++
            else if (ch[k] == "}") {
                depth--
                if (depth == 0 && typedef_open) {
                    rest = substr(s, k + 1)
                    if (match(rest, /^[ \t]*[A-Za-z_][A-Za-z0-9_]*/)) {
                        t = substr(rest, RSTART, RLENGTH); gsub(/[ \t]/, "", t)
                        print t "\t" FILENAME
                    }
                    typedef_open = 0
                }
            }
        }
    }' $files | sort -u)
# TypeScript: interfaces, type aliases, classes and enums (the generated
# modules are build outputs, not listed here).
ts_files=$(git ls-files '*.ts' '*.tsx' '*.mjs')
if [ -n "$ts_files" ]; then
    # shellcheck disable=SC2086
    # a declaration, not `import { type X, ... }`: the name is followed by
    # = { < or extends / implements
    ts_defs=$(grep -HoE '^[[:space:]]*(export[[:space:]]+)?(declare[[:space:]]+)?(abstract[[:space:]]+)?(interface|type|class|enum)[[:space:]]+[A-Za-z_][A-Za-z0-9_]*([[:space:]]*[={<]|[[:space:]]+(extends|implements)[[:space:]])' $ts_files |
        sed -E 's/^([^:]*):.*(interface|type|class|enum)[[:space:]]+([A-Za-z_][A-Za-z0-9_]*).*$/\3\t\1/' | sort -u)
    defs=$(printf '%s\n%s\n' "$defs" "$ts_defs" | awk 'NF' | sort -u)
fi
dups=$(printf '%s\n' "$defs" | awk -F '\t' 'NF == 2 { n[$1]++; where[$1] = where[$1] " " $2 } END { for (t in n) if (n[t] > 1) print t ":" where[t] }' | sort)
count=$(printf '%s\n' "$defs" | awk -F '\t' 'NF == 2' | cut -f1 | sort -u | wc -l)
if [ -n "$dups" ]; then
    echo "type names defined in more than one file:"
    printf '%s\n' "$dups" | sed 's/^/  /'
    echo "type names: FAILED ($count names, $(( $(date +%s) - start )) s)"
    exit 1
fi
echo "type names: $count names, each defined once ($(( $(date +%s) - start )) s)"
