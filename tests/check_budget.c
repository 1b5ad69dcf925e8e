/* check_budget.c — a patch's state known at compile time (compiler/budget.c)
 * and its budget; the emitted C's growth with the number of params.
 *
 * "measure": every unit in nodes/ and lang/examples/, in the vector and the
 * scalar build, compiled, built and loaded: the metadata's state.bytes is
 * the descriptor's state_size, the one block the runtime allocates for an
 * instance (the host's, the engine's state pool request) at 48 kHz and at
 * 192 kHz alike, and the struct's size in wasm32 (clang-14, as the page's
 * modules are built) too; the largest items are named as they are declared.
 * "budget": a patch at the budget compiles, one past it is an error naming
 * its largest items. "linear": 10, 100 and 1000 params make C whose size
 * grows by the same bytes per param (within the growth of the numbers'
 * digits), for params read in the patch section, smoothed, and read per
 * voice.
 */
#include <check.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ampc.h"
#include "build.h"
#include "host.h"
#include "testutil.h"

static const char *const INCLUDES[] = { "nodes" };

static int compile_file(const char *path, int scalar, AmpcResult *r)
{
    AmpcOptions opt = { .include_dirs = INCLUDES, .n_include_dirs = 1, .scalar = scalar };
    Diag d;
    diag_init(&d, stderr);
    return ampc_compile_file(path, &opt, &d, r);
}

/* Compile text; its diagnostics into *msgs (malloc'd). */
static int compile_text(const char *text, AmpcResult *r, char **msgs)
{
    size_t len = 0;
    FILE *out = open_memstream(msgs, &len);
    Diag d;
    diag_init(&d, out);
    AmpcOptions opt = { 0 };
    int rc = ampc_compile_text("tests/budget.amp", text, strlen(text), &opt, &d, r);
    fclose(out);
    return rc;
}

static json_t *state_of(const AmpcResult *r)
{
    json_error_t err;
    json_t *doc = json_loadb(r->json_text, r->json_len, 0, &err);
    ck_assert_msg(doc != NULL, "%s: the JSON does not parse: %s", r->name, err.text);
    json_t *state = json_object_get(doc, "state");
    ck_assert_msg(json_is_object(state), "%s: no \"state\" in the JSON", r->name);
    json_incref(state);
    json_decref(doc);
    return state;
}

static long long integer(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_integer(v), "no integer \"%s\"", key);
    return json_integer_value(v);
}

/* The metadata's bytes against the runtime's, for one file and build. */
static void check_file(const char *path, int scalar)
{
    AmpcResult r;
    ck_assert_msg(compile_file(path, scalar, &r) == 0, "%s does not compile", path);
    json_t *state = state_of(&r);
    char err[8192];
    const AmpPatchDesc *d = build_shared_object(r.c_text, r.c_len, r.symbol, err, sizeof err, NULL);
    ck_assert_msg(d != NULL, "%s: %s", path, err);
    long long bytes = integer(state, "bytes");
    ck_assert_msg(bytes == (long long)d->state_size, "%s%s: the JSON says %lld bytes of state, the C's struct is %zu",
                  path, scalar ? " (scalar)" : "", bytes, d->state_size);
    ck_assert_int_eq(integer(state, "sized_for_rate"), AMP_MAX_SAMPLE_RATE);
    ck_assert_int_le(bytes, integer(state, "budget"));
    /* one voice slot's share times the slots fits in the whole */
    ck_assert_int_le(integer(state, "per_voice") * integer(state, "voice_slots"), bytes);
    ck_assert_int_eq(integer(state, "voice_slots") > 0, d->max_voices > 0);
    /* the largest first, each no larger than the whole */
    json_t *items = json_object_get(state, "largest");
    ck_assert(json_array_size(items) >= 1);
    long long prev = bytes;
    for (size_t i = 0; i < json_array_size(items); i++) {
        long long b = integer(json_array_get(items, i), "bytes");
        ck_assert_msg(b <= prev, "%s: item %zu is larger than the one before", path, i);
        prev = b;
    }
    /* The runtime's block at both ends of the rates the JSON covers. */
    static const float rates[] = { 48000.0f, 192000.0f };
    for (int k = 0; k < 2; k++) {
        HostPatch hp;
        ck_assert_msg(host_init(&hp, d, rates[k], err, sizeof err) == 0, "%s at %g Hz: %s", path, rates[k], err);
        ck_assert_uint_eq(hp.desc->state_size, (size_t)bytes);
        host_free(&hp);
    }
    printf("budget: %-34s %s %9lld bytes of state\n", path, scalar ? "scalar" : "vector", bytes);
    json_decref(state);
    ampc_result_free(&r);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int check_folder(const char *dir)
{
    DIR *dp = opendir(dir);
    ck_assert_msg(dp != NULL, "cannot open %s", dir);
    char *names[256];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dp)) && n < 256) {
        size_t len = strlen(de->d_name);
        if (len > 4 && !strcmp(de->d_name + len - 4, ".amp"))
            names[n++] = strdup(de->d_name);
    }
    closedir(dp);
    qsort(names, (size_t)n, sizeof names[0], by_name);
    for (int i = 0; i < n; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        check_file(path, 0);
        check_file(path, 1);
        free(names[i]);
    }
    return n;
}

START_TEST(nodes_state_is_the_runtime_state)
{
    ck_assert_int_ge(check_folder("nodes"), 7);
}
END_TEST

START_TEST(examples_state_is_the_runtime_state)
{
    ck_assert_int_ge(check_folder("lang/examples"), 8);
}
END_TEST

static json_t *item(json_t *state, size_t i)
{
    json_t *it = json_array_get(json_object_get(state, "largest"), i);
    ck_assert_ptr_nonnull(it);
    return it;
}

static const char *string(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_string(v), "no string \"%s\"", key);
    return json_string_value(v);
}

/* The largest items by name: stereo_delay's two 2 s lines (2^19 floats and
 * the length at the rate), hall's Faust reverb, pad's per-voice states. */
START_TEST(largest_items_named)
{
    AmpcResult r;
    ck_assert_int_eq(compile_file("nodes/stereo_delay.amp", 0, &r), 0);
    json_t *s = state_of(&r);
    ck_assert_str_eq(string(item(s, 0), "name"), "dl.line");
    ck_assert_str_eq(string(item(s, 0), "type"), "delay");
    ck_assert_int_eq(integer(item(s, 0), "bytes"), (1 << 19) * 4 + 4);
    ck_assert_int_eq(integer(item(s, 0), "samples"), 1 << 19);
    ck_assert(json_real_value(json_object_get(item(s, 0), "seconds")) == 2.0);
    ck_assert_str_eq(string(item(s, 1), "name"), "dr.line");
    ck_assert_int_eq(integer(s, "voice_slots"), 0);
    json_decref(s);
    ampc_result_free(&r);

    ck_assert_int_eq(compile_file("nodes/hall.amp", 0, &r), 0);
    s = state_of(&r);
    ck_assert_str_eq(string(item(s, 0), "name"), "rev");
    ck_assert_str_eq(string(item(s, 0), "type"), "faust");
    ck_assert_str_eq(string(item(s, 0), "program"), "zita");
    ck_assert_int_gt(integer(item(s, 0), "bytes"), integer(s, "bytes") * 99 / 100);
    json_decref(s);
    ampc_result_free(&r);

    /* pad: 16 voices + 4 fade slots; a voice state is one float per slot:
     * three oscillator phases, two envelopes' level, attacking and held,
     * the wobble's phase, and the svf's two memories plus the four
     * coefficients it re-bases them by (nodes/std/filter.amp) */
    ck_assert_int_eq(compile_file("nodes/pad.amp", 0, &r), 0);
    s = state_of(&r);
    ck_assert_int_eq(integer(s, "voice_slots"), 20);
    ck_assert_int_eq(integer(s, "per_voice"), 16 * 4);
    json_decref(s);
    ampc_result_free(&r);
}
END_TEST

static const char *ECHO_NODE =
    "node long_echo {\n"
    "  in x;\n"
    "  out y;\n"
    "  delay buf[10 s];\n"
    "  process {\n"
    "    buf.write(x);\n"
    "    y = buf.read(5 s);\n"
    "  }\n"
    "}\n";

/* One 10 s line (2^21 floats at 192 kHz: 8 MiB) is inside the budget;
 * two of them and the rest of the state are past it, and the error names
 * both lines, the largest first, at the line's declaration. */
START_TEST(budget_refuses_past_it)
{
    char text[1024], *msgs = NULL;
    AmpcResult r;
    snprintf(text, sizeof text, "%spatch one {\n  in x;\n  out y;\n  a = long_echo(x: x);\n  a.y -> out;\n}\n",
             ECHO_NODE);
    ck_assert_int_eq(compile_text(text, &r, &msgs), 0);
    json_t *s = state_of(&r);
    ck_assert_int_gt(integer(s, "bytes"), 8 << 20);
    ck_assert_int_le(integer(s, "bytes"), integer(s, "budget"));
    ck_assert_int_eq(integer(s, "budget"), 16 << 20);
    json_decref(s);
    ampc_result_free(&r);
    free(msgs);

    snprintf(text, sizeof text,
             "%spatch two {\n  in x;\n  out y;\n  a = long_echo(x: x);\n  b = long_echo(x: a.y);\n  b.y -> out;\n}\n",
             ECHO_NODE);
    ck_assert_int_eq(compile_text(text, &r, &msgs), 1);
    ck_assert_msg(strstr(msgs, "tests/budget.amp:4:9: error: patch 'two' needs 16.0 MiB (16777") != NULL, "%s", msgs);
    ck_assert_msg(strstr(msgs, "of state at 192 kHz; the budget is 16 MiB (16777216 bytes): "
                               "delay 'a.buf' (10 s) 8.0 MiB, delay 'b.buf' (10 s) 8.0 MiB, params ") != NULL,
                  "%s", msgs);
    ck_assert_msg(strstr(msgs, "tests/budget.amp:13:3: note: 'a.buf' is in instance 'a' of node 'long_echo'") != NULL,
                  "%s", msgs);
    free(msgs);
}
END_TEST

/* ---- linear growth with the number of params ---------------------------- */

typedef enum { SHAPE_PLAIN, SHAPE_SMOOTH, SHAPE_VOICE } Shape;
static const char *const SHAPE_NAMES[] = { "patch section", "smoothed", "per voice" };

/* A patch of n params, each read once: a chain of lets summing x * p_i. */
static char *many_params(int n, Shape shape)
{
    size_t cap = (size_t)n * 96 + 256, len = 0;
    char *t = malloc(cap);
    ck_assert_ptr_nonnull(t);
    const char *src = shape == SHAPE_VOICE ? "note.vel" : "x";
    len += (size_t)snprintf(t + len, cap - len, "patch many {\n  in x;\n  out y;\n%s",
                            shape == SHAPE_VOICE ? "  voices 8;\n" : "");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(t + len, cap - len, "  param p%d = 0.5 in [0, 1]%s;\n", i,
                                shape == SHAPE_SMOOTH ? " smooth 10 ms" : "");
    if (shape == SHAPE_VOICE)
        len += (size_t)snprintf(t + len, cap - len, "  voice {\n");
    len += (size_t)snprintf(t + len, cap - len, "  let s0 = %s * p0;\n", src);
    for (int i = 1; i < n; i++)
        len += (size_t)snprintf(t + len, cap - len, "  let s%d = s%d + %s * p%d;\n", i, i - 1, src, i);
    len += (size_t)snprintf(t + len, cap - len, "  s%d -> out;\n%s}\n", n - 1, shape == SHAPE_VOICE ? "  }\n" : "");
    return t;
}

/* Bytes per param from 10 to 100 params and from 100 to 1000: equal but
 * for the numbers' extra digits (names p999, x2998: about 3% more per
 * param); a C that grew with the square of the params would take ten
 * times more per param in the second step. */
START_TEST(c_grows_linearly_with_params)
{
    static const int counts[] = { 10, 100, 1000 };
    for (Shape shape = SHAPE_PLAIN; shape <= SHAPE_VOICE; shape++) {
        size_t c[3], js[3];
        for (int k = 0; k < 3; k++) {
            char *text = many_params(counts[k], shape), *msgs = NULL;
            AmpcResult r;
            ck_assert_msg(compile_text(text, &r, &msgs) == 0, "%s", msgs);
            c[k] = r.c_len;
            js[k] = r.json_len;
            ampc_result_free(&r);
            free(msgs);
            free(text);
        }
        double first = (double)(c[1] - c[0]) / 90.0, second = (double)(c[2] - c[1]) / 900.0;
        double jfirst = (double)(js[1] - js[0]) / 90.0, jsecond = (double)(js[2] - js[1]) / 900.0;
        printf("budget: params read %s: C %zu, %zu, %zu bytes for 10, 100, 1000 (%.0f then %.0f bytes per param); "
               "JSON %.0f then %.0f\n", SHAPE_NAMES[shape], c[0], c[1], c[2], first, second, jfirst, jsecond);
        ck_assert_msg(second >= first * 0.9 && second <= first * 1.15,
                      "C bytes per param: %.1f from 10 to 100 params, %.1f from 100 to 1000", first, second);
        ck_assert_msg(jsecond >= jfirst * 0.9 && jsecond <= jfirst * 1.15,
                      "JSON bytes per param: %.1f from 10 to 100 params, %.1f from 100 to 1000", jfirst, jsecond);
    }
}
END_TEST

/* The same struct in WebAssembly: each node's C, compiled by the clang the
 * page's modules are built with (runtime/wasm/patch_module.sh) for wasm32,
 * asserts at compile time that sizeof its state is the JSON's bytes. */
START_TEST(wasm_state_is_the_json_state)
{
    const char *clang = getenv("CLANG") ? getenv("CLANG") : "clang-14";
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s --version >/dev/null 2>&1", clang);
    if (system(cmd) != 0) {
        printf("budget: no %s, the wasm32 sizes are not checked\n", clang);
        return;
    }
    char dir[] = "/tmp/amp_budget_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    static const char *const files[] = { "nodes/hall.amp", "nodes/pad.amp", "nodes/ladder_bass.amp",
                                         "nodes/stereo_delay.amp", "nodes/drums.amp", "nodes/epiano.amp" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        AmpcResult r;
        ck_assert_int_eq(compile_file(files[i], 0, &r), 0);
        json_t *state = state_of(&r);
        char path[512];
        snprintf(path, sizeof path, "%s/t.c", dir);
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fwrite(r.c_text, 1, r.c_len, f);
        fprintf(f, "\n_Static_assert(sizeof(%s_state) == %lld, \"state size\");\n", r.name, integer(state, "bytes"));
        fclose(f);
        snprintf(cmd, sizeof cmd,
                 "%s --target=wasm32-unknown-emscripten -std=c11 -O0 -msimd128 -ffreestanding -nostdlib "
                 "-Iruntime/wasm/module -Iruntime/abi -c %s -o %s/t.o", clang, path, dir);
        ck_assert_msg(system(cmd) == 0, "%s: sizeof its state in wasm32 is not the JSON's %lld bytes", files[i],
                      integer(state, "bytes"));
        json_decref(state);
        ampc_result_free(&r);
    }
    testutil_remove_tree(dir);
}
END_TEST

static Suite *budget_suite(void)
{
    Suite *s = suite_create("budget");
    TCase *tc = tcase_create("measure");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, nodes_state_is_the_runtime_state);
    tcase_add_test(tc, examples_state_is_the_runtime_state);
    tcase_add_test(tc, largest_items_named);
    suite_add_tcase(s, tc);
    tc = tcase_create("wasm");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, wasm_state_is_the_json_state);
    suite_add_tcase(s, tc);
    tc = tcase_create("budget");
    tcase_add_test(tc, budget_refuses_past_it);
    suite_add_tcase(s, tc);
    tc = tcase_create("linear");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, c_grows_linearly_with_params);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = testutil_run(budget_suite());
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("check_budget: %.2f s\n", (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
    return rc;
}
