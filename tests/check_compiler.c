/* check_compiler.c — the compiler as a whole: rate inference as `--dump
 * rates` shows it, deterministic output, the scalar build against the
 * four-voices-per-vector build, and every bad input in tests/diag answered
 * with an error (in-process, so that a crash would fail the suite).
 *
 * Runs from the repository root (make test does).
 */
#include <dirent.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ampc.h"
#include "build.h"
#include "host.h"
#include "testutil.h"

/* Compile text with opt; return the dump (or the C text) in a malloc'd string. */
static char *compile_dump(const char *text, AmpcDump dump)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    AmpcOptions opt = { .dump = dump, .dump_out = f };
    Diag d;
    diag_init(&d, stderr);
    AmpcResult r;
    int rc = ampc_compile_text("tests/rates.amp", text, strlen(text), &opt, &d, &r);
    fclose(f);
    ck_assert_int_eq(rc, 0);
    ampc_result_free(&r);
    return buf;
}

/* The section of a rates dump that holds `needle`: "control" or "audio". */
static const char *rate_of(const char *dump, const char *needle)
{
    const char *at = strstr(dump, needle);
    ck_assert_msg(at != NULL, "'%s' is not in the dump:\n%s", needle, dump);
    const char *best = NULL;
    for (const char *p = dump; (p = strstr(p, " rate:\n")) && p < at; p++)
        best = p;
    ck_assert_ptr_nonnull(best);
    while (best > dump && best[-1] != ' ')
        best--;
    if (!strncmp(best, "control", 7)) return "control";
    if (!strncmp(best, "audio", 5)) return "audio";
    if (!strncmp(best, "init", 4)) return "init";
    return "?";
}

static const char *FILTER =
    "import \"../nodes/std/env.amp\";\n"
    "node lp { in x; out y; param cutoff = 1 khz; state z = 0;\n"
    "  let g = tan(pi * cutoff / SR);\n"
    "  process { z = z + g / (1 + g) * (x - z); y = z; } }\n";

START_TEST(rates_control_when_bound_to_a_param)
{
    char text[2048];
    snprintf(text, sizeof text, "%s patch p { param c = 500 hz; f = lp(cutoff: c * 2, x: noise()); f.y -> out; }\n", FILTER);
    char *dump = compile_dump(text, AMPC_DUMP_RATES);
    ck_assert_str_eq(rate_of(dump, "tan("), "control");
    ck_assert_str_eq(rate_of(dump, "noise"), "audio");
    ck_assert_str_eq(rate_of(dump, "= SR"), "init");
    free(dump);
}
END_TEST

START_TEST(rates_audio_when_bound_to_an_envelope)
{
    char text[2048];
    snprintf(text, sizeof text,
             "%s patch p { voices 2; voice { e = adsr(gate: note.gate);\n"
             "  f = lp(cutoff: note.freq * (1 + e.y), x: noise()); f.y -> out; } }\n", FILTER);
    char *dump = compile_dump(text, AMPC_DUMP_RATES);
    ck_assert_str_eq(rate_of(dump, "tan("), "audio");
    free(dump);
}
END_TEST

START_TEST(rates_constant_folded)
{
    char text[2048];
    snprintf(text, sizeof text, "%s patch p { f = lp(cutoff: 1 khz, x: noise()); f.y -> out; }\n", FILTER);
    char *dump = compile_dump(text, AMPC_DUMP_RATES);
    /* tan(pi * 1000 / SR) depends on SR only: computed once, at init */
    ck_assert_str_eq(rate_of(dump, "tan("), "init");
    free(dump);
}
END_TEST

/* The passes' dumps say what each pass decided. */
START_TEST(dump_schedule_orders_by_reads)
{
    char text[2048];
    snprintf(text, sizeof text, "%s patch p { b = lp(cutoff: 1 khz, x: a.y); a = lp(cutoff: 2 khz, x: noise()); b.y -> out; }\n",
             FILTER);
    char *dump = compile_dump(text, AMPC_DUMP_SCHEDULE);
    ck_assert_str_eq(dump, "patch:\n  1. a = lp\n  2. b = lp  <- a\n");
    free(dump);
}
END_TEST

START_TEST(dump_flush_one_per_loop)
{
    char text[2048];
    snprintf(text, sizeof text, "%s patch p { a = lp(cutoff: 1 khz, x: noise()); b = lp(cutoff: 2 khz, x: a.y); b.y -> out; }\n",
             FILTER);
    char *dump = compile_dump(text, AMPC_DUMP_FLUSH);
    /* two filters, two states, each on its own feedback loop */
    ck_assert_msg(strstr(dump, "\n2 flush points\n") != NULL, "%s", dump);
    free(dump);
    dump = compile_dump(text, AMPC_DUMP_LOOPS);
    ck_assert_str_eq(dump, "patch sample loop: one\n");
    free(dump);
}
END_TEST

START_TEST(dump_plan_stores_init_values_read_later)
{
    char text[2048];
    snprintf(text, sizeof text, "%s patch p { f = lp(cutoff: 1 khz, x: noise()); f.y -> out; }\n", FILTER);
    char *dump = compile_dump(text, AMPC_DUMP_PLAN);
    /* tan(pi * 1000 / SR) is read only at init; g / (1 + g), read every
     * sample, is stored in s->init[] */
    const char *tan = strstr(dump, "tan(");
    ck_assert_msg(tan != NULL && !strncmp(strchr(tan, ';'), "; read in init\n", 15), "%s", dump);
    ck_assert_msg(strstr(dump, "; read in patch-audio init[0]\n") != NULL, "%s", dump);
    free(dump);
}
END_TEST

static AmpcResult compile_file(const char *path, int scalar)
{
    AmpcOptions opt = { .scalar = scalar };
    Diag d;
    diag_init(&d, stderr);
    AmpcResult r;
    ck_assert_int_eq(ampc_compile_file(path, &opt, &d, &r), 0);
    return r;
}

START_TEST(deterministic_bytes)
{
    const char *files[] = { "nodes/pad.amp", "nodes/drums.amp", "nodes/reverb.amp", "lang/examples/wavetable.amp" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        AmpcResult a = compile_file(files[i], 0), b = compile_file(files[i], 0);
        ck_assert_uint_eq(a.c_len, b.c_len);
        ck_assert_msg(memcmp(a.c_text, b.c_text, a.c_len) == 0, "%s: two compilations differ", files[i]);
        ck_assert_msg(a.json_len == b.json_len && memcmp(a.json_text, b.json_text, a.json_len) == 0,
                      "%s: JSON differs", files[i]);
        ck_assert_msg(!strstr(a.c_text, "/tmp") && !strstr(a.c_text, "/home"), "%s: a path in the output", files[i]);
        ampc_result_free(&a);
        ampc_result_free(&b);
    }
}
END_TEST

static float *render_pad(int scalar, long n)
{
    AmpcResult r = compile_file("nodes/pad.amp", scalar);
    ck_assert_msg(strstr(r.c_text, scalar ? "one voice at a time" : "four voices per vector") != NULL,
                  "the emitted C does not say which build it is");
    char err[8192];
    const AmpPatchDesc *d = build_shared_object(r.c_text, r.c_len, r.symbol, err, sizeof err, NULL);
    ck_assert_msg(d != NULL, "%s", err);
    ampc_result_free(&r);
    HostPatch hp;
    ck_assert_int_eq(host_init(&hp, d, 48000.0f, err, sizeof err), 0);
    float *out = calloc((size_t)(2 * n), sizeof(float));
    float *ch[2] = { out, out + n };
    Command ev[12];
    int k = 0;
    for (int i = 0; i < 6; i++) {
        ev[k++] = host_note_on(3000L * i + 17, i, 48 + 5 * i, 0.9f);
        ev[k++] = host_note_off(3000L * i + 30000, i);
    }
    /* events must be in time order */
    for (int i = 0; i < k; i++)
        for (int j = i + 1; j < k; j++)
            if (ev[j].header.time < ev[i].header.time) {
                Command t = ev[i];
                ev[i] = ev[j];
                ev[j] = t;
            }
    ck_assert_int_eq(host_render(&hp, ev, k, NULL, ch, n), k);
    host_free(&hp);
    return out;
}

/* Same patch, same notes: the scalar build and the vector build differ only
 * in the order voices are summed, so they agree to float rounding. */
START_TEST(scalar_matches_vector)
{
    long n = 48000;
    float *v = render_pad(0, n), *s = render_pad(1, n);
    double peak = 0, diff = 0;
    for (long i = 0; i < 2 * n; i++) {
        peak = fmax(peak, fabs(v[i]));
        diff = fmax(diff, fabs((double)v[i] - s[i]));
    }
    printf("scalar vs vector build of pad: peak %.4f, max difference %.3g\n", peak, diff);
    ck_assert(peak > 0.01);
    ck_assert_msg(diff <= 1e-5 * peak, "max difference %g at peak %g", diff, peak);
    free(v);
    free(s);
}
END_TEST

/* A delay line inside a voice read at a constant delay: the read belongs to
 * the voice section even though its argument is a constant (it used to be
 * emitted in the patch section and the C did not compile). */
START_TEST(voice_delay_with_constant_read)
{
    const char *text =
        "node n { out y; delay d[10]; process { d.write(1); y = d.read(2); } }\n"
        "patch p { voices 4; voice { o = n(); o.y * 0.25 -> out; } }\n";
    AmpcOptions opt = { 0 };
    Diag d;
    diag_init(&d, stderr);
    AmpcResult r;
    ck_assert_int_eq(ampc_compile_text("tests/voice_delay.amp", text, strlen(text), &opt, &d, &r), 0);
    char err[8192];
    const AmpPatchDesc *desc = build_shared_object(r.c_text, r.c_len, r.symbol, err, sizeof err, NULL);
    ck_assert_msg(desc != NULL, "%s", err);
    ampc_result_free(&r);
    HostPatch hp;
    ck_assert_int_eq(host_init(&hp, desc, 48000.0f, err, sizeof err), 0);
    float l[64] = { 0 }, rr[64] = { 0 };
    float *ch[2] = { l, rr };
    Command ev = host_note_on(10, 1, 60, 1.0f);
    ck_assert_int_eq(host_render(&hp, &ev, 1, NULL, ch, 64), 1);
    host_free(&hp);
    /* the voice starts at 10 with an empty line: 1 is read two samples later */
    ck_assert_float_eq(l[10], 0.0f);
    ck_assert_float_eq(l[11], 0.0f);
    ck_assert_float_eq(l[12], 0.25f);
    ck_assert_float_eq(rr[40], 0.25f);
}
END_TEST

/* Every bad input gets an error, in-process: no crash, no success. */
START_TEST(every_bad_input_is_an_error)
{
    DIR *dir = opendir("tests/diag");
    ck_assert_ptr_nonnull(dir);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dir))) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".amp"))
            continue;
        char path[512];
        snprintf(path, sizeof path, "tests/diag/%s", de->d_name);
        Diag d;
        diag_init(&d, NULL);
        AmpcResult r;
        int rc = ampc_compile_file(path, NULL, &d, &r);
        ck_assert_msg(rc == 1 && d.errors > 0, "%s compiled without an error", path);
        n++;
    }
    closedir(dir);
    ck_assert_int_ge(n, 40);
}
END_TEST

/* Patch names are found through a hash table: 50000 chained patch lets
 * (each read twice by the next) compile in well under a second, where a
 * linear search per name took minutes (20000 lets: 5.3 s). The default
 * 4 s timeout of this case is the guard. */
START_TEST(many_patch_lets)
{
    enum { N = 50000 };
    size_t cap = (size_t)N * 48 + 256, len = 0;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    len += (size_t)snprintf(text + len, cap - len, "patch chain {\n  in a;\n  out o;\n  let v0 = a;\n");
    for (int i = 1; i < N; i++)
        len += (size_t)snprintf(text + len, cap - len, "  let v%d = v%d * 0.5 + v%d * 0.25;\n", i, i - 1, i - 1);
    len += (size_t)snprintf(text + len, cap - len, "  v%d -> out.o;\n}\n", N - 1);
    AmpcOptions opt = { 0 };
    Diag d;
    diag_init(&d, stderr);
    AmpcResult r;
    ck_assert_int_eq(ampc_compile_text("tests/chain.amp", text, len, &opt, &d, &r), 0);
    ck_assert_ptr_nonnull(strstr(r.c_text, "p_process"));
    printf("compiler: a patch of %d chained lets compiles (%zu bytes of C)\n", N, r.c_len);
    ampc_result_free(&r);

    /* Written backwards, each let reads the next one down: the walks nest,
     * and past AST_MAX_DEPTH that is a clear error, never a crash. */
    len = (size_t)snprintf(text, cap, "patch chain {\n  in a;\n  out o;\n");
    for (int i = N - 1; i > 0; i--)
        len += (size_t)snprintf(text + len, cap - len, "  let v%d = v%d * 0.5;\n", i, i - 1);
    len += (size_t)snprintf(text + len, cap - len, "  let v0 = a;\n  v%d -> out.o;\n}\n", N - 1);
    char *msgs = NULL;
    size_t msgs_len = 0;
    FILE *out = open_memstream(&msgs, &msgs_len);
    diag_init(&d, out);
    ck_assert_int_eq(ampc_compile_text("tests/chain.amp", text, len, &opt, &d, &r), 1);
    fclose(out);
    ck_assert_msg(strstr(msgs, "is read through a chain of more than 1000 lets") != NULL, "%s", msgs);
    printf("compiler: the same chain written backwards: %.*s\n", (int)strcspn(msgs, "\n"), msgs);
    free(msgs);
    free(text);
}
END_TEST

/* The patch loop is split by feedback loop, but the values that cross
 * between loops live in chunk arrays on the audio thread's stack: a patch
 * of many independent filters splits while those stay few, and stays one
 * loop when they would be many. */
static int loops_in(int n_filters)
{
    size_t cap = (size_t)n_filters * 96 + 512, len = 0;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    len += (size_t)snprintf(text + len, cap - len,
                            "node lag { in x; out y; state z = 0; process { z = z + (x - z) * 0.01; y = z; } }\n"
                            "patch bank {\n  in a;\n  out o;\n");
    for (int i = 0; i < n_filters; i++)
        len += (size_t)snprintf(text + len, cap - len, "  f%d = lag(x: a * %d);\n", i, i + 1);
    len += (size_t)snprintf(text + len, cap - len, "  let s0 = f0.y;\n");
    for (int i = 1; i < n_filters; i++)
        len += (size_t)snprintf(text + len, cap - len, "  let s%d = s%d + f%d.y;\n", i, i - 1, i);
    len += (size_t)snprintf(text + len, cap - len, "  s%d -> out.o;\n}\n", n_filters - 1);
    AmpcOptions opt = { .unit = "bank" };
    Diag d;
    diag_init(&d, stderr);
    AmpcResult r;
    ck_assert_int_eq(ampc_compile_text("tests/bank.amp", text, len, &opt, &d, &r), 0);
    int loops = 0;
    for (const char *q = r.c_text; (q = strstr(q, "/* loop ")); q++)
        loops++;
    ampc_result_free(&r);
    free(text);
    return loops ? loops : 1;
}

START_TEST(split_loops_bounded)
{
    int few = loops_in(40), many = loops_in(600);
    printf("compiler: 40 filters run as %d loops over the chunk, 600 filters as %d\n", few, many);
    ck_assert_int_gt(few, 1);
    ck_assert_int_eq(many, 1);
}
END_TEST


/* The steady body (compiler/plan_steady.c): after the first sample of a
 * chunk, the std filters' settled states (gp = g, kp = k) fold their
 * re-basing away. The same C with the full body run for every sample
 * (`first = len`) must give the same bits, whatever the params do: jumps
 * inside blocks, glides (16-sample chunks), a block of one sample. */
static const char *STEADY =
    "import \"../nodes/std/filter.amp\";\n"
    "patch steady {\n"
    "  in x;\n  out y, z;\n"
    "  param cutoff = 1200 hz in [20 hz, 20 khz];\n"
    "  param res = 0.5 in [0, 0.98];\n"
    "  param q = 0.7 in [0.1, 30] smooth 5 ms;\n"
    "  param gain = 6 db in [-24 db, 24 db];\n"
    "  f = svf(cutoff: cutoff, res: res, x: x);\n"
    "  b = peak(cutoff: cutoff * 2, q: q, gain: gain, x: f.lp);\n"
    "  h = highpass(cutoff: 300 hz, q: q, x: x);\n"
    "  b.y -> out.y;\n  f.hp + h.y -> out.z;\n}\n";

static float *render_steady(const char *c_text, size_t c_len, const char *symbol, long n)
{
    char err[8192];
    const AmpPatchDesc *d = build_shared_object(c_text, c_len, symbol, err, sizeof err, NULL);
    ck_assert_msg(d != NULL, "%s", err);
    HostPatch hp;
    ck_assert_int_eq(host_init(&hp, d, 48000.0f, err, sizeof err), 0);
    float *in = malloc(sizeof(float) * (size_t)n), *out = calloc((size_t)(2 * n), sizeof(float));
    ck_assert(in && out);
    uint32_t seed = 7;
    for (long i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        in[i] = (float)((int32_t)seed) * (1.0f / 2147483648.0f);
    }
    const float *ins[1] = { in };
    float *ch[2] = { out, out + n };
    Command ev[] = {
        host_param(1000, 0, 5000.0f), host_param(1001, 1, 0.9f), host_param(3333, 2, 12.0f),
        host_param(5000, 3, -12.0f), host_param(7777, 0, 80.0f), host_param(7778, 0, 19000.0f),
        host_param(9000, 1, 0.0f), host_param(12001, 2, 0.2f), host_param(15000, 0, 440.0f),
    };
    int k = (int)(sizeof ev / sizeof ev[0]);
    ck_assert_int_eq(host_render(&hp, ev, k, ins, ch, n / 2), k);
    for (long i = n / 2; i < n; i++) {      /* blocks of one sample */
        const float *in1[1] = { in + i };
        float *ch1[2] = { out + i, out + n + i };
        host_render(&hp, NULL, 0, in1, ch1, 1);
    }
    host_free(&hp);
    free(in);
    return out;
}

/* One filter: a steady body short enough to run four samples at a time. */
static const char *STEADY_SHORT =
    "import \"../nodes/std/filter.amp\";\n"
    "patch steady {\n"
    "  in x;\n  out y, z;\n"
    "  param cutoff = 1200 hz in [20 hz, 20 khz];\n"
    "  param res = 0.5 in [0, 0.98];\n"
    "  param q = 0.7 in [0.1, 30] smooth 5 ms;\n"
    "  param gain = 6 db in [-24 db, 24 db];\n"
    "  f = svf(cutoff: cutoff, res: res, x: x);\n"
    "  f.lp -> out.y;\n  f.hp * q * gain -> out.z;\n}\n";

START_TEST(steady_body_matches_full_body)
{
    const char *text = _i ? STEADY_SHORT : STEADY;
    AmpcOptions opt = { 0 };
    Diag d;
    diag_init(&d, stderr);
    AmpcResult r;
    ck_assert_int_eq(ampc_compile_text("tests/steady.amp", text, strlen(text), &opt, &d, &r), 0);
    ck_assert_msg(strstr(r.c_text, "/* steady */") != NULL, "no steady body in the emitted C");
    ck_assert_msg((strstr(r.c_text, "u += 4") != NULL) == (_i == 1), "four samples at a time: %s", _i ? "no" : "yes");
    /* the reference: the full body for every sample */
    const char *at = strstr(r.c_text, "const int first = ");
    ck_assert_ptr_nonnull(at);
    const char *end = strchr(at, ';');
    size_t head = (size_t)(at - r.c_text);
    char *full = malloc(r.c_len + 64);
    ck_assert_ptr_nonnull(full);
    int len = snprintf(full, r.c_len + 64, "%.*sconst int first = len%s", (int)head, r.c_text, end);
    long n = 40000;
    float *a = render_steady(r.c_text, r.c_len, r.symbol, n);
    float *b = render_steady(full, (size_t)len, r.symbol, n);
    double peak = 0;
    long diff = 0;
    for (long i = 0; i < 2 * n; i++) {
        peak = fmax(peak, fabs(a[i]));
        diff += memcmp(&a[i], &b[i], sizeof(float)) != 0;
    }
    printf("compiler: steady body%s against the full body: %ld of %ld samples differ (peak %.3f)\n",
           _i ? " (four samples at a time)" : "", diff, 2 * n, peak);
    ck_assert(peak > 0.01);
    ck_assert_int_eq(diff, 0);
    free(a);
    free(b);
    free(full);
    ampc_result_free(&r);
}
END_TEST

/* Rings read at a fixed tap and written in runs (compiler/emit_c.c,
 * emit_sample_loop): the same bits as the per-sample masked reads of
 * the same node whose taps are made audio rate (`+ x * 0`: the same delay,
 * read by amp_delay_readif / amp_delay_readf). Whole and interpolated taps,
 * delays shorter than a block (3 samples, 0 clamped to 1), a split loop
 * (two instances), taps moved inside blocks; 128-sample blocks. */
static char *runs_patch(const char *k)
{
    char *text = malloc(4096);
    ck_assert_ptr_nonnull(text);
    snprintf(text, 4096,
             "node combs {\n  in x;\n  out y;\n  param t = 7 ms in [0 ms, 30 ms];\n"
             "  delay d1[40 ms]; delay d2[40 ms]; delay d3[40 ms]; delay d4[40 ms];\n"
             "  state f1 = 0, f2 = 0, f3 = 0, f4 = 0;\n  process {\n"
             "    let o1 = d1.read(floor(t * SR%s)); f1 = o1 * 0.6 + f1 * 0.3; d1.write(x + f1 * 0.7);\n"
             "    let o2 = d2.read(floor(t * SR * 1.3 + 1%s)); f2 = o2 * 0.5 + f2 * 0.4; d2.write(x + f2 * 0.6);\n"
             "    let o3 = d3.read(t * SR * 0.7 + 0.25%s); f3 = o3 * 0.7 + f3 * 0.2; d3.write(x - f3 * 0.5);\n"
             "    let o4 = d4.read(3%s); f4 = o4 * 0.4 + f4 * 0.5; d4.write(x + f4 * 0.5);\n"
             "    y = o1 + o2 + o3 + o4;\n  }\n}\n"
             "patch runs {\n  in l, r;\n  out l, r;\n  param t = 7 ms in [0 ms, 30 ms];\n"
             "  a = combs(t: t, x: l);\n  b = combs(t: t * 1.1, x: r);\n"
             "  a.y + b.y * 0.5 -> out.l;\n  b.y - a.y * 0.25 -> out.r;\n}\n", k, k, k, k);
    return text;
}

static float *render_runs(const char *text, int expect_runs, long n)
{
    AmpcOptions opt = { 0 };
    Diag d;
    diag_init(&d, stderr);
    AmpcResult r;
    ck_assert_int_eq(ampc_compile_text("tests/runs.amp", text, strlen(text), &opt, &d, &r), 0);
    ck_assert_msg((strstr(r.c_text, "amp_ring_at(p0 - dk") != NULL) == expect_runs, "taps in runs %s in the emitted C",
                  expect_runs ? "missing" : "found");
    char err[8192];
    const AmpPatchDesc *desc = build_shared_object(r.c_text, r.c_len, r.symbol, err, sizeof err, NULL);
    ck_assert_msg(desc != NULL, "%s", err);
    ampc_result_free(&r);
    HostPatch hp;
    ck_assert_int_eq(host_init(&hp, desc, 48000.0f, err, sizeof err), 0);
    float *in = malloc(sizeof(float) * 2 * (size_t)n), *out = calloc((size_t)(2 * n), sizeof(float));
    ck_assert(in && out);
    uint32_t seed = 11;
    for (long i = 0; i < 2 * n; i++) {
        seed = seed * 1664525u + 1013904223u;
        in[i] = (float)((int32_t)seed) * (1.0f / 2147483648.0f);
    }
    const float *ins[2] = { in, in + n };
    float *ch[2] = { out, out + n };
    Command ev[] = {
        host_param(3000, 0, 0.0f), host_param(6100, 0, 0.00005f), host_param(9001, 0, 0.03f),
        host_param(20000, 0, 0.0021f), host_param(30007, 0, 0.011f),
    };
    int k = (int)(sizeof ev / sizeof ev[0]);
    ck_assert_int_eq(host_render(&hp, ev, k, ins, ch, n), k);
    host_free(&hp);
    free(in);
    return out;
}

START_TEST(ring_runs_match_masked_reads)
{
    char *fixed = runs_patch(""), *audio = runs_patch(" + x * 0");
    long n = 48000;
    float *a = render_runs(fixed, 1, n), *b = render_runs(audio, 0, n);
    double peak = 0;
    long diff = 0;
    for (long i = 0; i < 2 * n; i++) {
        peak = fmax(peak, fabs(a[i]));
        diff += memcmp(&a[i], &b[i], sizeof(float)) != 0;
    }
    printf("compiler: ring runs against masked reads: %ld of %ld samples differ (peak %.3f)\n", diff, 2 * n, peak);
    ck_assert(peak > 0.01);
    ck_assert_int_eq(diff, 0);
    free(a);
    free(b);
    free(fixed);
    free(audio);
}
END_TEST

/* A chunk longer than a ring (a block of 128 through a ring of 8): the
 * chunk's end flushes the ring once, and nothing past it (flush_ring ran
 * past the ring into whatever followed it). process() is called directly
 * on a state with guard words after it, set to a denormal's bits. */
START_TEST(short_ring_flush_stays_inside)
{
    const char *text = "node tiny { in x; out y; delay d[4]; state f = 0;\n"
                       "  process { let o = d.read(3); f = o * 0.5 + f * 0.3; d.write(x + f * 0.6); y = o; } }\n"
                       "patch tinyp { in x; out y; c = tiny(x: x); c.y -> out.y; }\n";
    AmpcOptions opt = { 0 };
    Diag d;
    diag_init(&d, stderr);
    AmpcResult r;
    ck_assert_int_eq(ampc_compile_text("tests/tiny.amp", text, strlen(text), &opt, &d, &r), 0);
    char err[8192];
    const AmpPatchDesc *desc = build_shared_object(r.c_text, r.c_len, r.symbol, err, sizeof err, NULL);
    ck_assert_msg(desc != NULL, "%s", err);
    ampc_result_free(&r);
    enum { GUARD = 256 };
    size_t size = (desc->state_size + 15) / 16 * 16;
    uint32_t *mem = aligned_alloc(16, size + GUARD * sizeof(uint32_t));
    ck_assert_ptr_nonnull(mem);
    uint32_t *guard = (uint32_t *)((char *)mem + size);
    for (int i = 0; i < GUARD; i++)
        guard[i] = 1u;                      /* the smallest denormal */
    desc->init(mem, 48000.0f);
    float in[512], out[512];
    for (int i = 0; i < 512; i++)
        in[i] = i % 7 == 0 ? 0.5f : 0.0f;
    const float *ins[1] = { in };
    float *outs[1] = { out };
    for (int b = 0; b < 4; b++) {
        const float *bi[1] = { in + 128 * b };
        float *bo[1] = { out + 128 * b };
        desc->process(mem, 128, bi, bo);
    }
    (void)ins;
    (void)outs;
    int touched = 0;
    for (int i = 0; i < GUARD; i++)
        touched += guard[i] != 1u;
    printf("compiler: a ring of 8 flushed after blocks of 128: %d guard words changed\n", touched);
    ck_assert_int_eq(touched, 0);
    ck_assert(out[500] != 0.0f || out[501] != 0.0f || out[502] != 0.0f);
    free(mem);
}
END_TEST

static Suite *compiler_suite(void)
{
    Suite *s = suite_create("compiler");
    TCase *rates = tcase_create("rates");
    tcase_add_test(rates, rates_control_when_bound_to_a_param);
    tcase_add_test(rates, rates_audio_when_bound_to_an_envelope);
    tcase_add_test(rates, rates_constant_folded);
    suite_add_tcase(s, rates);
    TCase *dumps = tcase_create("dumps");
    tcase_add_test(dumps, dump_schedule_orders_by_reads);
    tcase_add_test(dumps, dump_flush_one_per_loop);
    tcase_add_test(dumps, dump_plan_stores_init_values_read_later);
    suite_add_tcase(s, dumps);
    TCase *size = tcase_create("size");
    tcase_add_test(size, many_patch_lets);
    tcase_add_test(size, split_loops_bounded);
    suite_add_tcase(s, size);
    TCase *out = tcase_create("output");
    tcase_set_timeout(out, 60);
    tcase_add_test(out, deterministic_bytes);
    tcase_add_test(out, scalar_matches_vector);
    tcase_add_test(out, voice_delay_with_constant_read);
    tcase_add_test(out, every_bad_input_is_an_error);
    tcase_add_loop_test(out, steady_body_matches_full_body, 0, 2);
    tcase_add_test(out, ring_runs_match_masked_reads);
    tcase_add_test(out, short_ring_flush_stays_inside);
    suite_add_tcase(s, out);
    return s;
}

int main(void)
{
    return testutil_run(compiler_suite());
}
