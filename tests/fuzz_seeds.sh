#!/bin/sh
# fuzz_seeds.sh OUTDIR FILE... — build the fuzzer's seed corpus.
#
# Copies each .amp file into OUTDIR (emptied first) under a flat name that
# keeps where it came from (nodes/std/osc.amp -> nodes_std_osc.amp). The
# harness compiles every input as `fuzz.amp` in the top directory with the
# include directory `nodes`, so an import that climbs back to nodes/
# ("../../nodes/std/osc.amp" in lang/examples/) is rewritten to the path
# below nodes/ ("std/osc.amp"); the harness would break the `..` otherwise.
#
# Two more seeds are written here, for what the tree's files leave out and
# random mutation seldom builds: every built-in function at every rate, and
# a patch with inputs, three outputs, stealing off and connections to several
# targets. Both compile; keep them so.
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

cat > "$out/seed_builtins.amp" <<'EOF'
// every built-in function at each rate: constant, init (table), control, audio
node everything {
  in x;
  out y, z;
  param a = 0.5 in [0, 1] step 0.1 smooth 5 ms;
  param f = 1 khz in [10 hz, 20 khz];
  param g = -6 db in [-60 db, 0 db];
  state s = 0, t = 1;
  delay d[10 ms];
  table w[64] = sin(i) + cos(i) + tan(i) + asin(0.5) + acos(0.5) + atan(i) + sinh(1) + cosh(1) + tanh(i) + 1 / SR * 0 hz;
  let k1 = exp(1) + exp2(3) + log(2) + log2(8) + log10(100) + sqrt(2) + abs(-1) + floor(1.5) + ceil(1.5);
  let k2 = round(2.5) + trunc(-1.5) + fract(1.25) + db2lin(-6) + lin2db(0.5) + atan2(1, 2) + pow(2, 3);
  let k3 = min(1, 2) + max(1, 2) + clamp(3, 0, 1) + (1 < 2) + (1 <= 2) + (1 > 2) + (1 >= 2) + (1 == 2) + (1 != 2);
  let k4 = (1 && 0) + (1 || 0) + !1 + -1 % 4 + 7 / 2 + (1 ? 2 : 3) + pi;
  let c = tan(pi * f / SR) * a + g + log(a) + asin(a) + acos(a) + atan(a) + sinh(a) + cosh(a) + exp2(a);
  process {
    let v = sin(x) + cos(x) + tan(x) + asin(x) + acos(x) + atan(x) + sinh(x) + cosh(x) + tanh(x);
    let u = exp(x) + exp2(x) + log(x) + log2(x) + log10(x) + sqrt(x) + abs(x) + floor(x) + ceil(x);
    let r = round(x) + trunc(x) + fract(x) + db2lin(x) + lin2db(x) + atan2(x, s) + pow(x, 2) + min(x, s) + max(x, s);
    let q = clamp(x, -1, 1) + noise() + prev(x) + (x < s ? 1 : 0) + (x && s) + (x || s) + !x + x % 2;
    s = s + (v + u + r + q) * c * (k1 + k2 + k3 + k4) + w.at(x) + w.lerp(x * 64);
    t = d.read(1) + d.read(5 ms) + prev(t);
    d.write(s);
    y = s;
    z = t;
  }
}
EOF
cat > "$out/seed_graph.amp" <<'EOF'
// patches: inputs, named outputs, voices with each steal mode, lets,
// connections to several targets, feedback through prev, a node as a unit
node amp2 {
  in x, side;
  out y, w;
  param gain = 1 in [0, 2] smooth 10 ms;
  process {
    y = x * gain + side;
    w = prev(y);
  }
}

patch quiet {
  voices 256 steal quietest;
  voice {
    o = amp2(x: note.freq);
    o.y -> out;
  }
}

patch fan {
  in l, r;
  out a, b, c;
  param mix = 0.5 in [0, 1];
  param cut = 2 khz in [20 hz, 18 khz] smooth 20 ms;
  voices 3 steal none;
  voice {
    v1 = amp2(gain: note.vel, x: note.freq / 1000);
    v2 = amp2(gain: note.gate * cut / 1 khz, x: v1.y, side: prev(v2.w));
    let lvl = note.key / 127;
    v2.y * lvl -> out.a, out.b;
    v1.w -> out;
  }
  m = amp2(gain: mix, x: l + r);
  let wet = voices.a * mix + voices.b * (1 - mix) + voices.c;
  wet + m.y -> out.a;
  m.w * (mix > 0.5 ? 1 : -1) -> out.b, out.c;
}
EOF
n=$((n + 2))
echo "fuzz: $n seeds in $out"
