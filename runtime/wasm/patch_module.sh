#!/bin/sh
# patch_module.sh — compile one patch of an .amp file into a loadable patch
# module: a small WebAssembly module that a running engine.wasm takes
# without a restart (runtime/wasm/wasm_modules.c, web/src/engine/modules.ts).
#
#   sh runtime/wasm/patch_module.sh AMPC FILE.amp OUTDIR [--unit NAME] [-I DIR]... [--abi N] [--confine]
#
# Writes OUTDIR/NAME.module.wasm and OUTDIR/NAME.module.json (ampc's JSON
# metadata of the patch, as is). NAME is the unit compiled (--unit, or
# ampc's default: the file's last patch). The steps, each a plain command
# a confined worker can run (no emcc, no C library):
#   1. AMPC FILE.amp [--unit NAME] [-I DIR]... -o TMP      NAME.c/.h/.json
#   2. TMP/module.c: #include "NAME.c" and the two exports,
#      amp_module_desc() (the descriptor's address) and
#      amp_module_abi_version()
#   3. $CLANG --target=wasm32-unknown-emscripten -fPIC ... -c module.c
#      (the engine's arithmetic flags: -O3 -msimd128 -ffp-contract=off
#      -fno-fast-math -fno-slp-vectorize; freestanding: the only header
#      beyond runtime/abi and the compiler's own is runtime/wasm/module/
#      string.h, whose memset/memcpy become memory.fill/memory.copy)
#   4. $WASM_LD --experimental-pic -shared --import-memory --shared-memory
#      --import-table: a position-independent module that imports the
#      engine's memory and function table and places its data and table
#      entries at the __memory_base and __table_base it is given
#   5. the custom section "amp_module" appended: {"abi": N, "patch": "NAME"},
#      read by the loader before it instantiates anything
# --confine is passed to ampc (imports only by relative paths without
# '..': ampd's compile service, server/api_compile.c).
# --abi N claims ABI version N instead of amp_patch.h's AMP_ABI_VERSION
# (tests: a module the engine must refuse).
# CLANG and WASM_LD default to clang-14 and wasm-ld-14 (the LLVM of
# emscripten 3.1.6). Output depends only on the inputs.
set -eu

usage() { echo "usage: patch_module.sh AMPC FILE.amp OUTDIR [--unit NAME] [-I DIR]... [--abi N] [--confine]" >&2; exit 2; }
[ $# -ge 3 ] || usage
ampc=$1 file=$2 out=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
abi_dir=$here/../abi
CLANG=${CLANG:-clang-14}
WASM_LD=${WASM_LD:-wasm-ld-14}
unit_args="" inc_args="" abi="" confine=""
while [ $# -gt 0 ]; do
    case "$1" in
    --unit) [ $# -ge 2 ] || usage; unit_args="--unit $2"; shift 2 ;;
    -I) [ $# -ge 2 ] || usage; inc_args="$inc_args -I $2"; shift 2 ;;
    --abi) [ $# -ge 2 ] || usage; abi=$2; shift 2 ;;
    --confine) confine=--confine; shift ;;
    *) usage ;;
    esac
done
case "$abi" in
''|*[!0-9]*) [ -z "$abi" ] || usage ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
# shellcheck disable=SC2086
"$ampc" "$file" $confine $unit_args $inc_args -o "$tmp"
set -- "$tmp"/*.c
[ $# -eq 1 ] && [ -f "$1" ] || { echo "patch_module.sh: ampc wrote no single C file for $file" >&2; exit 1; }
name=$(basename "$1" .c)
[ -n "$abi" ] || abi=$(awk '$1 == "#define" && $2 == "AMP_ABI_VERSION" { print $3 }' "$abi_dir/amp_patch.h")

cat > "$tmp/module.c" <<EOC
/* The patch module of $name (runtime/wasm/patch_module.sh). */
#include "$name.c"

__attribute__((export_name("amp_module_desc"))) const AmpPatchDesc *amp_module_desc(void);
__attribute__((export_name("amp_module_abi_version"))) int amp_module_abi_version(void);

const AmpPatchDesc *amp_module_desc(void) { return &amp_${name}_desc; }
int amp_module_abi_version(void) { return $abi; }
EOC

"$CLANG" --target=wasm32-unknown-emscripten -std=c11 -O3 -msimd128 -ffp-contract=off -fno-fast-math \
    -fno-slp-vectorize -matomics -mbulk-memory -fPIC -fvisibility=hidden -ffreestanding -nostdlib \
    -I"$here/module" -I"$abi_dir" -I"$tmp" -c "$tmp/module.c" -o "$tmp/module.o"
"$WASM_LD" --experimental-pic -shared --import-memory --shared-memory --max-memory=2147483648 \
    --import-table -o "$tmp/module.wasm" "$tmp/module.o"

# The custom section: id 0, size, name length, name, payload (each length
# as an unsigned LEB128; these stay below 2^14, two bytes at most).
leb() {
    if [ "$1" -lt 128 ]; then printf "\\$(printf %03o "$1")"
    else printf "\\$(printf %03o $(( ($1 & 127) | 128 )))\\$(printf %03o $(( $1 >> 7 )))"; fi
}
section=amp_module
payload="{\"abi\": $abi, \"patch\": \"$name\"}"
nlen=${#section} plen=${#payload}
size=$(( $(leb $nlen | wc -c) + nlen + plen ))
{ printf '\000'; leb $size; leb $nlen; printf '%s' "$section" "$payload"; } >> "$tmp/module.wasm"

mkdir -p "$out"
cp "$tmp/module.wasm" "$out/$name.module.wasm.tmp"
mv "$out/$name.module.wasm.tmp" "$out/$name.module.wasm"
cp "$tmp/$name.json" "$out/$name.module.json.tmp"
mv "$out/$name.module.json.tmp" "$out/$name.module.json"
