/* check_swap.c — hot swap (runtime/engine/patch_swap.c, the engine's
 * swap_node, host.c's --swap-at path) measured on patches compiled from
 * text with ampc:
 *
 *   A  a sine at note.freq (state osc.phase);
 *   B  A with the frequency formula edited (note.freq * 1.5): the same
 *      state map, so everything carries;
 *   C  A with a second oscillator: o2.phase cannot carry, so the swap
 *      crossfades.
 *
 * Signals are the engine's left channel with the track panned hard left
 * (gain exactly 1 there), so they compare bit for bit with the host's
 * render of the patch (amp render's C).
 */
#include <jansson.h>
#include <math.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_count.h"
#include "ampc.h"
#include "build.h"
#include "diag.h"
#include "engine.h"
#include "host.h"
#include "patch_swap.h"
#include "testutil.h"

#define SR 48000.0f
#define LEN 48000
#define SWAP 12800                 /* a quantum boundary (100 * 128) */

static const char text_a[] =
    "import \"std/osc.amp\";\n"
    "patch hs {\n"
    "  voices 4 steal oldest;\n"
    "  param level = -6 db in [-60 db, 0 db];\n"
    "  voice {\n"
    "    osc = sine(freq: note.freq);\n"
    "    osc.y * note.gate * level -> out;\n"
    "  }\n"
    "}\n";
static const char text_b[] =
    "import \"std/osc.amp\";\n"
    "patch hs {\n"
    "  voices 4 steal oldest;\n"
    "  param level = -6 db in [-60 db, 0 db];\n"
    "  voice {\n"
    "    osc = sine(freq: note.freq * 1.5);\n"
    "    osc.y * note.gate * level -> out;\n"
    "  }\n"
    "}\n";
static const char text_c[] =
    "import \"std/osc.amp\";\n"
    "patch hs {\n"
    "  voices 4 steal oldest;\n"
    "  param level = -6 db in [-60 db, 0 db];\n"
    "  voice {\n"
    "    osc = sine(freq: note.freq);\n"
    "    o2 = sine(freq: note.freq * 2);\n"
    "    (osc.y + o2.y * 0.5) * note.gate * level -> out;\n"
    "  }\n"
    "}\n";

/* A filtered saw; the edit changes the cutoff's formula. */
#define FILTERED(cutoff) \
    "import \"std/osc.amp\";\n" \
    "import \"std/filter.amp\";\n" \
    "patch fs {\n" \
    "  voices 4 steal oldest;\n" \
    "  voice {\n" \
    "    osc = saw(freq: note.freq);\n" \
    "    flt = svf(cutoff: " cutoff ", x: osc.y);\n" \
    "    flt.lp * note.gate * 0.5 -> out;\n" \
    "  }\n" \
    "}\n"
static const char text_f1[] = FILTERED("note.freq * 4");
static const char text_f2[] = FILTERED("note.freq * 6");

/* An echo insert (a 4800-sample delay line); the edit halves its level. */
#define ECHO(level) \
    "node tap {\n" \
    "  in x;\n" \
    "  out y;\n" \
    "  delay line[1 s];\n" \
    "  process {\n" \
    "    let d = line.read(4800);\n" \
    "    line.write(x);\n" \
    "    y = x + d * " level ";\n" \
    "  }\n" \
    "}\n" \
    "patch fx {\n" \
    "  in left, right;\n" \
    "  out left, right;\n" \
    "  t = tap(x: left);\n" \
    "  t.y -> out;\n" \
    "}\n"
static const char text_e1[] = ECHO("0.5");
static const char text_e2[] = ECHO("0.25");

static char tmp_cache[64];
static float out_l[LEN], out_r[LEN], ref[LEN], ref_r[LEN];

static const AmpPatchDesc *build_text(const char *text)
{
    static const char *dirs[] = { "nodes" };
    AmpcOptions opt = { 0 };
    opt.include_dirs = dirs;
    opt.n_include_dirs = 1;
    Diag diag;
    diag_init(&diag, stderr);
    AmpcResult r;
    ck_assert_msg(ampc_compile_text("tests/swap.amp", text, strlen(text), &opt, &diag, &r) == 0,
                  "ampc failed (diagnostics on stderr)");
    static char err[16384];
    const AmpPatchDesc *d = build_shared_object(r.c_text, r.c_len, r.symbol, err, sizeof err, NULL);
    ck_assert_msg(d != NULL, "%s", err);
    ampc_result_free(&r);
    return d;
}

static int released;

static void drain(Engine *e)
{
    EngineEvent ev;
    while (engine_poll(e, &ev)) {
        if (ev.kind == ENGINE_EV_NODE_RELEASED)
            released++;
        engine_release(e, &ev);
    }
}

static Engine *make_engine(void)
{
    EngineConfig cfg;
    engine_config_default(&cfg, SR);
    cfg.max_tracks = 2;
    cfg.max_nodes = 8;
    cfg.state_bytes = 4u << 20;
    cfg.queue_size = 256;
    cfg.max_block = 128;
    char err[300];
    Engine *e = engine_init(&cfg, err, sizeof err);
    ck_assert_msg(e != NULL, "%s", err);
    released = 0;
    return e;
}

static EngineNode *node(Engine *e, const AmpPatchDesc *d)
{
    char err[300];
    EngineNode *nd = engine_node_new(e, d, err, sizeof err);
    ck_assert_msg(nd != NULL, "%s", err);
    return nd;
}

static void add_instrument(Engine *e, const AmpPatchDesc *d)
{
    ck_assert_int_eq(engine_add_track(e, 0, 0, ENGINE_TRACK_INSTRUMENT), 0);
    ck_assert_int_eq(engine_set_instrument(e, 0, 0, node(e, d)), 0);
    ck_assert_int_eq(engine_set_pan(e, 0, 0, -1.0f), 0);
}

static void render(Engine *e, long to)
{
    for (long pos = engine_now(e); pos < to; pos += 128) {
        int n = to - pos < 128 ? (int)(to - pos) : 128;
        float *out[2] = { out_l + pos, out_r + pos };
        engine_render(e, out, n);
        drain(e);
    }
}

/* The host's render of `a` with the commands, swapping to `b` (if any)
 * at the host_swap record among them. */
static void host_reference(const AmpPatchDesc *a, const AmpPatchDesc *b, const Command *cmd, int n, long frames)
{
    HostPatch hp;
    char err[300];
    ck_assert_msg(host_init(&hp, a, SR, err, sizeof err) == 0, "%s", err);
    if (b)
        ck_assert_msg(host_prepare_swap(&hp, b, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(a->n_outputs, 2);
    float *out[2] = { ref, ref_r };
    ck_assert_int_eq(host_render(&hp, cmd, n, NULL, out, frames), n);
    host_free(&hp);
}

/* The largest |x[i+1] - x[i]| for i in [from, to). */
static float max_step(const float *x, long from, long to)
{
    float m = 0.0f;
    for (long i = from; i < to; i++)
        m = fmaxf(m, fabsf(x[i + 1] - x[i]));
    return m;
}

static long first_difference(const float *x, const float *y, long n)
{
    for (long i = 0; i < n; i++)
        if (memcmp(&x[i], &y[i], sizeof(float)))
            return i;
    return -1;
}

/* ---- carry ------------------------------------------------------------------------------- */

START_TEST(test_state_map_emitted)
{
    const AmpPatchDesc *a = build_text(text_a), *c = build_text(text_c);
    ck_assert_int_eq(a->abi_version, 3);
    ck_assert_int_ge(a->n_state, 1);
    ck_assert_str_eq(a->state_map[0].name, "osc.phase");
    ck_assert_int_eq(a->state_map[0].kind, AMP_STATE_VALUE);
    ck_assert_int_eq(a->state_map[0].lanes, 4);
    ck_assert_int_eq(a->state_map[0].slots, 8);   /* 4 voices + AMP_FADE_SLOTS */
    ck_assert_int_eq(a->state_map[0].size, 8 * sizeof(float));
    int o2 = 0;
    for (int i = 0; i < c->n_state; i++)
        o2 |= !strcmp(c->state_map[i].name, "o2.phase");
    ck_assert_msg(o2, "C's state map has no o2.phase");
}
END_TEST

/* The JSON's state map (offsets by state_map.c's layout rules) agrees with
 * the descriptor's (the C compiler's offsetof), entry by entry, for patches
 * with voices, delay lines, noise, tables, and a scalar build. */
START_TEST(test_state_map_json_matches_c)
{
    static const char *const files[] = { "lang/examples/pad.amp", "lang/examples/echo.amp",
                                         "lang/examples/wavetable.amp", "lang/examples/stereo_voices.amp",
                                         "lang/examples/feedback.amp", "nodes/drums.amp", "nodes/stereo_delay.amp",
                                         "nodes/epiano.amp", "lang/examples/oversample.amp", "nodes/drive.amp" };
    static const char *dirs[] = { "nodes" };
    int checked = 0;
    for (int f = 0; f < (int)(sizeof files / sizeof files[0]) * 2; f++) {
        const char *file = files[f % (int)(sizeof files / sizeof files[0])];
        AmpcOptions opt = { 0 };
        opt.include_dirs = dirs;
        opt.n_include_dirs = 1;
        opt.scalar = f >= (int)(sizeof files / sizeof files[0]);
        Diag diag;
        diag_init(&diag, stderr);
        AmpcResult r;
        ck_assert_msg(ampc_compile_file(file, &opt, &diag, &r) == 0, "ampc failed on %s", file);
        static char err[16384];
        const AmpPatchDesc *d = build_shared_object(r.c_text, r.c_len, r.symbol, err, sizeof err, NULL);
        ck_assert_msg(d != NULL, "%s", err);
        json_error_t je;
        json_t *doc = json_loads(d->json, 0, &je);
        ck_assert_msg(doc != NULL, "%s: %s", file, je.text);
        json_t *map = json_object_get(doc, "state_map");
        ck_assert_msg(json_is_array(map), "%s: no state_map in the JSON", file);
        ck_assert_int_eq((int)json_array_size(map), d->n_state);
        for (int i = 0; i < d->n_state; i++) {
            json_t *e = json_array_get(map, (size_t)i);
            const AmpStateEntry *c = &d->state_map[i];
            ck_assert_str_eq(json_string_value(json_object_get(e, "name")), c->name);
            json_t *off = json_object_get(e, "offset");
            if (json_is_null(off))
                continue;
            ck_assert_msg(json_integer_value(off) == c->offset && json_integer_value(json_object_get(e, "size")) == c->size,
                          "%s%s %s: JSON offset %lld size %lld, C %u %u", file, opt.scalar ? " (scalar)" : "", c->name,
                          json_integer_value(off), json_integer_value(json_object_get(e, "size")), c->offset, c->size);
            checked++;
        }
        json_decref(doc);
        ampc_result_free(&r);
    }
    printf("state map: %d entries of %d builds, the JSON's offsets equal the C compiler's\n", checked,
           2 * (int)(sizeof files / sizeof files[0]));
    ck_assert_int_gt(checked, 20);
}
END_TEST

/* A held sine's frequency formula edited at SWAP: the phase goes on (no
 * step larger than the signal's own), and the engine's output equals the
 * host's --swap-at render bit for bit. */
START_TEST(test_swap_keeps_phase)
{
    const AmpPatchDesc *a = build_text(text_a), *b = build_text(text_b);
    Engine *e = make_engine();
    add_instrument(e, a);
    ck_assert_int_eq(engine_note_on(e, 0, 0, 1, 69, 1.0f), 0);
    ck_assert_int_eq(engine_swap_node(e, SWAP, 0, 0, node(e, b)), 0);
    render(e, 24000);
    float before = max_step(out_l, SWAP - 512, SWAP - 1);
    float after = max_step(out_l, SWAP + 1, SWAP + 512);
    float at = fabsf(out_l[SWAP] - out_l[SWAP - 1]);
    printf("swap A -> B at %d: step at the swap %.6f, largest step before %.6f, after %.6f\n", SWAP, at, before,
           after);
    ck_assert_msg(before > 0.01f, "the note is silent before the swap");
    ck_assert_msg(at <= fmaxf(before, after), "a step of %g at the swap (signal's own: %g, %g)", at, before, after);
    ck_assert_int_eq(released, 1);   /* everything carried: the old node went back at once */

    Command cmd[2] = { host_note_on(0, 1, 69, 1.0f), host_swap(SWAP) };
    host_reference(a, b, cmd, 2, 24000);
    long d = first_difference(out_l, ref, 24000);
    ck_assert_msg(d < 0, "the engine differs from the host's --swap-at render at sample %ld: %.9g vs %.9g", d,
                  d < 0 ? 0.0 : (double)out_l[d], d < 0 ? 0.0 : (double)ref[d]);
    engine_free(e);
}
END_TEST

/* A note started after the swap sounds exactly as the new text rendered on
 * its own. */
START_TEST(test_note_after_swap_is_new_text)
{
    const AmpPatchDesc *a = build_text(text_a), *b = build_text(text_b);
    Engine *e = make_engine();
    add_instrument(e, a);
    long on = SWAP + 1000, off = SWAP + 9000;
    ck_assert_int_eq(engine_swap_node(e, SWAP, 0, 0, node(e, b)), 0);
    ck_assert_int_eq(engine_note_on(e, on, 0, 7, 60, 0.8f), 0);
    ck_assert_int_eq(engine_note_off(e, off, 0, 7), 0);
    render(e, 36000);
    Command cmd[2] = { host_note_on(on, 7, 60, 0.8f), host_note_off(off, 7) };
    host_reference(b, NULL, cmd, 2, 36000);
    long d = first_difference(out_l, ref, 36000);
    ck_assert_msg(d < 0, "differs from a render of B at sample %ld", d);
    ck_assert_msg(testutil_first_nonzero(out_l, 0, 36000) >= on && testutil_last_nonzero(out_l, 0, 36000) > off - 100,
                  "the note after the swap does not sound from %ld to %ld", on, off);
    engine_free(e);
}
END_TEST

/* What cannot carry (o2.phase) crossfades: 10 ms, as the host's render,
 * and the old node goes back after it. */
START_TEST(test_swap_crossfades_new_state)
{
    const AmpPatchDesc *a = build_text(text_a), *c = build_text(text_c);
    Engine *e = make_engine();
    add_instrument(e, a);
    ck_assert_int_eq(engine_note_on(e, 0, 0, 1, 69, 1.0f), 0);
    ck_assert_int_eq(engine_swap_node(e, SWAP, 0, 0, node(e, c)), 0);
    int fade = patch_swap_fade_frames(SR);
    ck_assert_int_eq(fade, 480);
    render(e, SWAP + 128);
    ck_assert_int_eq(released, 0);        /* the old node fades out */
    render(e, 24000);
    ck_assert_int_eq(released, 1);
    Command cmd[2] = { host_note_on(0, 1, 69, 1.0f), host_swap(SWAP) };
    host_reference(a, c, cmd, 2, 24000);
    long d = first_difference(out_l, ref, 24000);
    ck_assert_msg(d < 0, "the engine differs from the host's --swap-at render at sample %ld", d);
    float at = max_step(out_l, SWAP - 1, SWAP + fade);
    float own = fmaxf(max_step(out_l, SWAP - 512, SWAP - 1), max_step(out_l, SWAP + fade, SWAP + fade + 512));
    printf("swap A -> C (crossfade of %d): largest step in it %.6f, the signal's own %.6f\n", fade, at, own);
    ck_assert_msg(at <= own, "a step of %g in the crossfade (signal's own %g)", at, own);
    engine_free(e);
}
END_TEST

/* 20 swaps in a row, A and B in turn, a note held: the phase goes on
 * through each, every old node goes back, nothing allocated. */
START_TEST(test_twenty_swaps_no_allocation)
{
    const AmpPatchDesc *a = build_text(text_a), *b = build_text(text_b);
    Engine *e = make_engine();
    add_instrument(e, a);
    ck_assert_int_eq(engine_note_on(e, 0, 0, 1, 69, 1.0f), 0);
    render(e, 2048);
    if (ALLOC_COUNTING)
        ck_assert_int_eq(alloc_count_probe(), 2);   /* the counter works */
    long every = 1280;
    float worst = 0.0f;
    for (int k = 0; k < 20; k++) {
        long at = 2048 + k * every;
        ck_assert_int_eq(engine_swap_node(e, at, 0, 0, node(e, k % 2 ? a : b)), 0);
        alloc_counting = 1;
        render(e, at + every);
        alloc_counting = 0;
        float step = fabsf(out_l[at] - out_l[at - 1]);
        float own = fmaxf(max_step(out_l, at - 256, at - 1), max_step(out_l, at + 1, at + 256));
        ck_assert_msg(step <= own, "swap %d at %ld: a step of %g (signal's own %g)", k + 1, at, step, own);
        worst = fmaxf(worst, step / own);
    }
    printf("20 swaps: the largest step at a swap is %.3f of the signal's own around it; %d nodes handed back, "
           "%ld allocations while rendering\n", worst, released, (long)alloc_calls);
    ck_assert_int_eq(released, 20);
    if (ALLOC_COUNTING)
        ck_assert_int_eq(alloc_calls, 0);
    engine_free(e);
}
END_TEST

/* A held, filtered saw whose cutoff formula is edited: the filter's
 * memories (flt.ic1, flt.ic2) and the phase carry, no crossfade, the
 * output equals the host's --swap-at render and has no step beyond its
 * own. */
START_TEST(test_cutoff_formula_edit)
{
    const AmpPatchDesc *f1 = build_text(text_f1), *f2 = build_text(text_f2);
    Engine *e = make_engine();
    add_instrument(e, f1);
    ck_assert_int_eq(engine_note_on(e, 0, 0, 1, 57, 1.0f), 0);
    ck_assert_int_eq(engine_swap_node(e, SWAP, 0, 0, node(e, f2)), 0);
    render(e, SWAP + 128);
    ck_assert_int_eq(released, 1);        /* everything carried: handed back at once */
    render(e, 24000);
    Command cmd[2] = { host_note_on(0, 1, 57, 1.0f), host_swap(SWAP) };
    host_reference(f1, f2, cmd, 2, 24000);
    long d = first_difference(out_l, ref, 24000);
    ck_assert_msg(d < 0, "the engine differs from the host's --swap-at render at sample %ld", d);
    float at = fabsf(out_l[SWAP] - out_l[SWAP - 1]);
    float own = fmaxf(max_step(out_l, SWAP - 512, SWAP - 1), max_step(out_l, SWAP + 1, SWAP + 512));
    printf("cutoff formula edit at %d: step at the swap %.6f, the signal's own %.6f\n", SWAP, at, own);
    ck_assert_msg(own > 0.001f && at <= own, "a step of %g at the swap (signal's own %g)", at, own);
    engine_free(e);
}
END_TEST

/* An insert swapped while its delay line holds an echo: the line and its
 * write position carry, so the echo after the swap is exactly the new
 * level times what the old patch would have played. */
START_TEST(test_insert_swap_keeps_delay_line)
{
    const AmpPatchDesc *a = build_text(text_a), *e1 = build_text(text_e1), *e2 = build_text(text_e2);
    static float without[LEN];
    long swap_at = 50 * 128;              /* after the note, inside its echo */
    for (int pass = 0; pass < 2; pass++) {
        Engine *e = make_engine();
        add_instrument(e, a);
        ck_assert_int_eq(engine_insert_add(e, 0, 0, 0, node(e, e1)), 0);
        ck_assert_int_eq(engine_note_on(e, 0, 0, 1, 69, 1.0f), 0);
        ck_assert_int_eq(engine_note_off(e, 2400, 0, 1), 0);
        if (pass == 1)
            ck_assert_int_eq(engine_swap_node(e, swap_at, 0, 1, node(e, e2)), 0);
        render(e, 9600);
        if (pass == 0) {
            memcpy(without, out_l, sizeof without);
        } else {
            ck_assert_int_eq(released, 1);
        }
        engine_free(e);
    }
    float peak = 0.0f;
    for (long i = 0; i < swap_at; i++)
        ck_assert_msg(memcmp(&out_l[i], &without[i], sizeof(float)) == 0, "differs before the swap at %ld", i);
    for (long i = swap_at; i < 9600; i++) {
        ck_assert_msg(out_l[i] == without[i] * 0.5f, "sample %ld: %.9g, want half of %.9g", i, (double)out_l[i],
                      (double)without[i]);
        peak = fmaxf(peak, fabsf(out_l[i]));
    }
    printf("insert swap at %ld: the echo after it is exactly half the old level's (peak %.4f)\n", swap_at, peak);
    ck_assert_msg(peak > 0.05f, "no echo after the swap: the delay line did not carry");
}
END_TEST

/* A swap that names an empty slot is refused and the node handed back. */
START_TEST(test_swap_into_empty_slot_refused)
{
    const AmpPatchDesc *a = build_text(text_a);
    Engine *e = make_engine();
    ck_assert_int_eq(engine_add_track(e, 0, 0, ENGINE_TRACK_INSTRUMENT), 0);
    ck_assert_int_eq(engine_swap_node(e, 0, 0, 0, node(e, a)), 0);
    render(e, 256);
    ck_assert_int_eq(released, 1);
    engine_free(e);
}
END_TEST

static Suite *swap_suite(void)
{
    Suite *s = suite_create("swap");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_state_map_emitted);
    tcase_add_test(core, test_state_map_json_matches_c);
    tcase_add_test(core, test_swap_keeps_phase);
    tcase_add_test(core, test_note_after_swap_is_new_text);
    tcase_add_test(core, test_swap_crossfades_new_state);
    tcase_add_test(core, test_twenty_swaps_no_allocation);
    tcase_add_test(core, test_cutoff_formula_edit);
    tcase_add_test(core, test_insert_swap_keeps_delay_line);
    tcase_add_test(core, test_swap_into_empty_slot_refused);
    tcase_set_timeout(core, 120);
    suite_add_tcase(s, core);
    return s;
}

int main(void)
{
    int own_cache = getenv("AMP_CACHE") == NULL;
    if (own_cache) {
        snprintf(tmp_cache, sizeof tmp_cache, "/tmp/check_swap_cache_XXXXXX");
        if (!mkdtemp(tmp_cache)) {
            perror("mkdtemp");
            return EXIT_FAILURE;
        }
        setenv("AMP_CACHE", tmp_cache, 1);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = testutil_run(swap_suite());
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("check_swap: %.2f s\n", (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
    if (own_cache)
        testutil_remove_tree(tmp_cache);
    return rc;
}
