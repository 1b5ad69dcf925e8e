/* check_host.c — the native host: sample-accurate events (host.c), no
 * allocation while rendering, click-free stealing, note lists (notes.c),
 * and building a patch's C into a cached shared object (build.c).
 *
 * The polyphonic patch is the hand-written fixture, compiled in; a tiny
 * effect patch below checks inputs. Allocations are counted by
 * tests/alloc_count.h (malloc & co. interposed, forwarded to glibc's
 * __libc_* functions; left out under a sanitizer, which owns malloc). */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc_count.h"
#include "build.h"
#include "host.h"
#include "notes.h"
#include "testutil.h"
#include "voice.h"
#include "fixtures/fixture_poly.c"

#define SR 48000.0f
#define LEN 16384

/* ---- a tiny effect: out = in * gain (gain read per process() call) ------- */

typedef struct GainState {
    float gain;
} GainState;

static const AmpParamDesc gain_params[1] = { { "gain", 2.0f, 0.0f, 8.0f, 0.0f, 0.0f, AMP_UNIT_NONE } };
static const char *const gain_ports[1] = { "x" };

static void gain_init(void *s, float sr) { ((GainState *)s)->gain = 2.0f; }
static void gain_reset(void *s) { }
static void gain_set(void *s, int i, float v) { ((GainState *)s)->gain = v; }
static float gain_get(const void *s, int i) { return ((const GainState *)s)->gain; }
static void gain_process(void *s, int n, const float *const *in, float *const *out)
{
    float g = ((GainState *)s)->gain;
    for (int i = 0; i < n; i++)
        out[0][i] = in[0][i] * g;
}

static const AmpPatchDesc gain_desc = {
    .abi_version = AMP_ABI_VERSION, .name = "gain", .state_size = sizeof(GainState),
    .n_inputs = 1, .n_outputs = 1, .input_names = gain_ports, .output_names = gain_ports,
    .n_params = 1, .params = gain_params, .max_voices = 0, .json = "{}",
    .init = gain_init, .reset = gain_reset, .set_param = gain_set, .get_param = gain_get,
    .process = gain_process,
};

/* ---- helpers ---------------------------------------------------------------- */

static float out_l[LEN], out_r[LEN];
static float *outs[2] = { out_l, out_r };

static void init_host(HostPatch *hp, const AmpPatchDesc *d)
{
    char err[200];
    ck_assert_msg(host_init(hp, d, SR, err, sizeof err) == 0, "%s", err);
}

static float max_step(const float *x, long from, long to)
{
    float m = 0.0f;
    for (long i = from + 1; i < to; i++)
        m = fmaxf(m, fabsf(x[i] - x[i - 1]));
    return m;
}

/* ---- sample accuracy -------------------------------------------------------- */

START_TEST(test_note_starts_at_its_sample)
{
    static const long ks[] = { 0, 1, 127, 128, 129, 1000, 4095 };
    for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
        HostPatch hp;
        init_host(&hp, &amp_fixture_poly_desc);
        Command ev[1] = { host_note_on(ks[j], 0, 60, 0.8f) };
        ck_assert_int_eq(host_render(&hp, ev, 1, NULL, outs, LEN), 1);
        ck_assert_int_eq(testutil_first_nonzero(out_l, 0, LEN), ks[j]);
        ck_assert_float_gt(out_l[ks[j]], 0.0f);
        ck_assert(memcmp(out_l, out_r, sizeof out_l) == 0);
        host_free(&hp);
    }
}
END_TEST

/* A param change at sample k: the output before k is the same as without
 * it, from k on it is scaled (volume 0.5 -> 0.25: exactly half). */
START_TEST(test_param_at_its_sample)
{
    static float ref[LEN];
    HostPatch hp;
    init_host(&hp, &amp_fixture_poly_desc);
    Command ev0[1] = { host_note_on(0, 0, 69, 1.0f) };
    host_render(&hp, ev0, 1, NULL, outs, LEN);
    memcpy(ref, out_l, sizeof ref);
    host_free(&hp);

    static const long ks[] = { 1, 127, 128, 129, 300, 2000 };
    for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
        long k = ks[j];
        init_host(&hp, &amp_fixture_poly_desc);
        Command ev[2] = { host_note_on(0, 0, 69, 1.0f), host_param(k, FX_VOLUME, 0.25f) };
        ck_assert_int_eq(host_render(&hp, ev, 2, NULL, outs, LEN), 2);
        for (long i = 0; i < LEN; i++) {
            float want = i < k ? ref[i] : ref[i] * 0.5f;
            ck_assert_msg(out_l[i] == want, "k=%ld i=%ld: %g != %g", k, i, out_l[i], want);
        }
        ck_assert_float_eq(amp_fixture_poly_desc.get_param(hp.state, FX_VOLUME), 0.25f);
        host_free(&hp);
    }
}
END_TEST

/* Inputs and outputs are offset together when blocks are split, and a
 * missing input is silence. */
START_TEST(test_effect_inputs)
{
    static float in0[LEN];
    for (int i = 0; i < LEN; i++)
        in0[i] = (float)i;
    const float *ins[1] = { in0 };
    float *out1[1] = { out_l };
    HostPatch hp;
    init_host(&hp, &gain_desc);
    Command ev[3] = { host_param(5, 0, 3.0f), host_param(200, 0, 4.0f), host_note_on(300, 0, 60, 1.0f) };
    ck_assert_int_eq(host_render(&hp, ev, 3, ins, out1, LEN), 3);
    for (int i = 0; i < LEN; i++)
        ck_assert_float_eq(out_l[i], (float)i * (i < 5 ? 2.0f : i < 200 ? 3.0f : 4.0f));
    ck_assert_int_eq(hp.notes_refused, 1);            /* not polyphonic: ignored */
    host_render(&hp, NULL, 0, NULL, out1, LEN);
    ck_assert_int_eq(testutil_first_nonzero(out_l, 0, LEN), -1);
    host_free(&hp);
}
END_TEST

/* Events at or past the end are left for the next call; events before 0
 * apply at once. */
START_TEST(test_events_outside_the_span)
{
    HostPatch hp;
    init_host(&hp, &amp_fixture_poly_desc);
    Command ev[3] = { host_note_on(-5, 0, 60, 1.0f), host_note_on(100, 1, 64, 1.0f), host_note_on(100, 2, 67, 1.0f) };
    ck_assert_int_eq(host_render(&hp, ev, 3, NULL, outs, 100), 1);
    ck_assert_float_gt(out_l[0], 0.0f);
    ck_assert_int_eq(amp_fixture_poly_desc.voices(hp.state)->live, 1);
    ck_assert_int_eq(host_render(&hp, ev, 3, NULL, outs, 0), 0);
    Command rest[2] = { ev[1], ev[2] };
    rest[0].header.time = rest[1].header.time = 0;
    ck_assert_int_eq(host_render(&hp, rest, 2, NULL, outs, 10), 2);
    ck_assert_int_eq(amp_fixture_poly_desc.voices(hp.state)->live, 3);
    host_free(&hp);
}
END_TEST

START_TEST(test_voices_end_and_reset)
{
    HostPatch hp;
    init_host(&hp, &amp_fixture_poly_desc);
    Command ev[4] = { host_note_on(0, 0, 60, 1.0f), host_note_on(10, 1, 64, 1.0f), host_note_off(500, 0), host_note_off(600, 1) };
    host_render(&hp, ev, 4, NULL, outs, LEN);
    /* release 50 ms (2400 samples) + 10 ms silent: both end by ~3600 */
    ck_assert_int_eq(amp_fixture_poly_desc.voices(hp.state)->live, 0);
    ck_assert_float_eq(out_l[LEN - 1], 0.0f);
    Command again[1] = { host_note_on(0, 2, 60, 1.0f) };
    host_render(&hp, again, 1, NULL, outs, 16);
    ck_assert_int_eq(amp_fixture_poly_desc.voices(hp.state)->live, 1);
    host_reset(&hp);
    ck_assert_int_eq(amp_fixture_poly_desc.voices(hp.state)->live, 0);
    host_free(&hp);
}
END_TEST

START_TEST(test_init_rejects_bad_descriptors)
{
    HostPatch hp;
    char err[200];
    AmpPatchDesc d = amp_fixture_poly_desc;
    d.abi_version = 99;
    ck_assert_int_eq(host_init(&hp, &d, SR, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "ABI"));
    d = amp_fixture_poly_desc;
    d.voice_move = NULL;
    ck_assert_int_eq(host_init(&hp, &d, SR, err, sizeof err), -1);
    d = amp_fixture_poly_desc;
    d.n_outputs = HOST_MAX_CHANNELS + 1;
    ck_assert_int_eq(host_init(&hp, &d, SR, err, sizeof err), -1);
    ck_assert_int_eq(host_init(&hp, NULL, SR, err, sizeof err), -1);
    ck_assert_int_eq(host_init(&hp, &amp_fixture_poly_desc, 0.0f, err, sizeof err), -1);
    ck_assert_int_eq(host_init(&hp, &amp_fixture_poly_desc, NAN, err, sizeof err), -1);
}
END_TEST

/* ---- real-time rules -------------------------------------------------------- */

START_TEST(test_no_allocation_while_rendering)
{
    if (!ALLOC_COUNTING)
        return;   /* a sanitizer owns malloc in this build */
    /* The counter works. */
    ck_assert_int_eq(alloc_count_probe(), 2);

    /* It sees the library's calls too: host_init allocates. */
    HostPatch hp;
    alloc_counting = 1;
    init_host(&hp, &amp_fixture_poly_desc);
    alloc_counting = 0;
    ck_assert_int_ge(alloc_calls, 2);
    alloc_calls = 0;
    Command ev[64];
    int n = 0;
    for (int i = 0; i < 24; i++) {                    /* 24 notes on 8 voices: steals */
        ev[n++] = host_note_on(i * 37, i, 48 + i, 0.7f);
        if (i % 3 == 0)
            ev[n++] = host_note_off(i * 37 + 20, i);
    }
    ev[n++] = host_param(1500, FX_VOLUME, 0.3f);
    ev[n++] = host_all_off(2000);
    ev[n++] = host_note_on(2500, 100, 60, 1.0f);
    ev[n++] = host_panic(3000);
    alloc_counting = 1;
    int applied = host_render(&hp, ev, n, NULL, outs, LEN);
    host_reset(&hp);
    alloc_counting = 0;
    ck_assert_int_eq(applied, n);
    ck_assert_int_eq(alloc_calls, 0);
    host_free(&hp);
}
END_TEST

/* A stolen voice fades over 3 ms: the largest sample-to-sample step around
 * the steal stays within twice the largest step of the steady tones, while
 * cutting the old voice instead (the control) jumps far beyond. */
START_TEST(test_steal_does_not_click)
{
    AmpPatchDesc mono = amp_fixture_poly_desc;
    mono.max_voices = 1;
    const long T = 4800;   /* A4 is at its peak here: a cut would jump most */
    HostPatch hp;
    init_host(&hp, &mono);
    Command ev[2] = { host_note_on(0, 0, 69, 1.0f), host_note_on(T, 1, 76, 1.0f) };
    host_render(&hp, ev, 2, NULL, outs, 2 * T);
    ck_assert_int_eq(mono.voices(hp.state)->live, 1);
    float normal = fmaxf(max_step(out_l, T / 2, T), max_step(out_l, T + 1000, 2 * T));
    float around = max_step(out_l, T - 16, T + 400);
    ck_assert_float_gt(normal, 0.01f);
    ck_assert_msg(around < 2.0f * normal, "step around the steal %g vs normal %g", around, normal);
    host_free(&hp);

    /* Control: the same, but the stolen voice cut at once. */
    init_host(&hp, &mono);
    host_render(&hp, ev, 1, NULL, outs, T);
    ck_assert_int_eq(voice_note_on(&mono, hp.state, 1, 76, 1.0f), 1);
    mono.voices(hp.state)->gain[0] = 0.0f;
    float *rest[2] = { out_l + T, out_r + T };
    host_render(&hp, NULL, 0, NULL, rest, T);
    float cut = max_step(out_l, T - 16, T + 400);
    ck_assert_msg(cut > 5.0f * normal, "control: a cut steps %g vs normal %g", cut, normal);
    host_free(&hp);
}
END_TEST

/* ---- note lists ------------------------------------------------------------- */

START_TEST(test_notes_parse)
{
    NoteList l;
    char err[300];
    ck_assert_int_eq(notes_parse("60@0:1 64@0.5:1.5/0.25,C4@2:3 A#3@0:1 F#5@0:1 Bb2@0:1 c-1@0:1 G9@0:1 a4@1e-1:.2",
                                 &l, err, sizeof err), 0);
    ck_assert_int_eq(l.n, 9);
    int keys[9] = { 60, 64, 60, 58, 78, 46, 0, 127, 69 };
    for (int i = 0; i < 9; i++)
        ck_assert_int_eq(l.notes[i].key, keys[i]);
    ck_assert_float_eq(l.notes[0].vel, NOTES_DEFAULT_VELOCITY);
    ck_assert_float_eq(l.notes[1].vel, 0.25f);
    ck_assert(l.notes[1].start == 0.5 && l.notes[1].end == 1.5);
    ck_assert(l.notes[8].start == 0.1 && l.notes[8].end == 0.2);
    ck_assert(notes_end(&l) == 3.0);
    notes_free(&l);
    ck_assert_int_eq(notes_parse("  ", &l, err, sizeof err), 0);
    ck_assert_int_eq(l.n, 0);
    ck_assert_int_eq(notes_parse(NULL, &l, err, sizeof err), 0);
}
END_TEST

START_TEST(test_notes_errors_name_the_token)
{
    static const char *const bad[][2] = {
        { "60@0:1 H4@0:1", "'H4@0:1'" },
        { "128@0:1", "'128@0:1'" },
        { "G#9@0:1", "'G#9@0:1'" },
        { "60@1:0.5", "must end after it starts" },
        { "60@0:1/1.5", "velocity" },
        { "60@-1:1", "starts before 0" },
        { "60@0", "'60@0'" },
        { "60@0:1x", "unexpected 'x'" },
        { "60:0@1", "'60:0@1'" },
        { "60@0:1e400", "bad end time" },
        { "60@0:1e9", "ends after" },
        { "C@0:1", "'C@0:1'" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        NoteList l;
        char err[300] = "";
        ck_assert_int_eq(notes_parse(bad[i][0], &l, err, sizeof err), -1);
        ck_assert_msg(strstr(err, bad[i][1]) != NULL, "'%s': error '%s' lacks '%s'", bad[i][0], err, bad[i][1]);
        ck_assert_int_eq(l.n, 0);
        ck_assert_ptr_null(l.notes);
    }
}
END_TEST

START_TEST(test_notes_to_commands)
{
    NoteList l;
    char err[200];
    /* Note 1 starts where note 0 ends: the off comes first. A note shorter
     * than a sample still lasts one. */
    ck_assert_int_eq(notes_parse("60@0.5:1 62@0:0.5 64@0.25:0.2500001 60@0.5:1", &l, err, sizeof err), 0);
    int n;
    Command *ev = notes_to_commands(&l, 48000.0, &n);
    ck_assert_int_eq(n, 8);
    long frames[8] = { 0, 12000, 12001, 24000, 24000, 24000, 48000, 48000 };
    uint32_t kinds[8] = { CMD_NOTE_ON, CMD_NOTE_ON, CMD_NOTE_OFF, CMD_NOTE_OFF,
                          CMD_NOTE_ON, CMD_NOTE_ON, CMD_NOTE_OFF, CMD_NOTE_OFF };
    int ids[8] = { 1, 2, 2, 1, 0, 3, 0, 3 };
    for (int i = 0; i < 8; i++) {
        ck_assert_int_eq(ev[i].header.time, frames[i]);
        ck_assert_uint_eq(ev[i].header.type, kinds[i]);
        ck_assert_int_eq(kinds[i] == CMD_NOTE_ON ? ev[i].note_on.note_id : ev[i].note_off.note_id, ids[i]);
    }
    ck_assert_int_eq(ev[0].note_on.key, 62);
    free(ev);
    notes_free(&l);
}
END_TEST

START_TEST(test_render_notes)
{
    NoteList l;
    char err[200];
    static float first_only[LEN];
    HostPatch hp;
    ck_assert_int_eq(notes_parse("69@0:0.01", &l, err, sizeof err), 0);
    init_host(&hp, &amp_fixture_poly_desc);
    ck_assert_int_eq(host_render_notes(&hp, &l, NULL, outs, LEN), 0);
    memcpy(first_only, out_l, sizeof first_only);
    host_free(&hp);
    notes_free(&l);

    /* The second note starts at 0.005 s = sample 240. */
    ck_assert_int_eq(notes_parse("69@0:0.01 C4@0.005:0.02/0.5", &l, err, sizeof err), 0);
    init_host(&hp, &amp_fixture_poly_desc);
    ck_assert_int_eq(host_render_notes(&hp, &l, NULL, outs, LEN), 0);
    ck_assert_float_gt(out_l[0], 0.0f);
    ck_assert(memcmp(out_l, first_only, 240 * sizeof(float)) == 0);
    ck_assert_float_ne(out_l[240], first_only[240]);
    ck_assert_int_eq(amp_fixture_poly_desc.voices(hp.state)->live, 0);   /* both ended */
    host_free(&hp);
    notes_free(&l);
}
END_TEST

/* ---- build cache --------------------------------------------------------- */

static char cache_dir[64];

static void make_cache(void)
{
    snprintf(cache_dir, sizeof cache_dir, "/tmp/check_host_cache_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(cache_dir));
    setenv("AMP_CACHE", cache_dir, 1);
}

static void remove_cache(void)
{
    testutil_remove_tree(cache_dir);
}

static char *read_text(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "%s: %s (tests run from the repository root)", path, strerror(errno));
    static char buf[1 << 20];
    *len = fread(buf, 1, sizeof buf - 1, fp);
    buf[*len] = '\0';
    fclose(fp);
    return buf;
}

START_TEST(test_build_matches_linked_fixture)
{
    make_cache();
    size_t len;
    char *text = read_text("tests/fixtures/fixture_poly.c", &len);
    char err[8192];
    int from_cache = -1;
    const AmpPatchDesc *d = build_shared_object(text, len, "amp_fixture_poly_desc", err, sizeof err, &from_cache);
    ck_assert_msg(d != NULL, "%s", err);
    ck_assert_int_eq(from_cache, 0);
    ck_assert_ptr_ne(d, &amp_fixture_poly_desc);
    ck_assert_str_eq(d->name, "fixture_poly");

    static float built[2][LEN];
    Command ev[6] = { host_note_on(0, 0, 60, 0.9f), host_note_on(77, 1, 67, 0.5f), host_param(300, FX_VOLUME, 0.7f),
                        host_note_off(1000, 0), host_note_on(1500, 2, 72, 1.0f), host_note_off(3000, 1) };
    HostPatch hp;
    init_host(&hp, d);
    float *bout[2] = { built[0], built[1] };
    host_render(&hp, ev, 6, NULL, bout, LEN);
    host_free(&hp);
    init_host(&hp, &amp_fixture_poly_desc);
    host_render(&hp, ev, 6, NULL, outs, LEN);
    host_free(&hp);
    ck_assert(testutil_first_nonzero(out_l, 0, LEN) == 0);
    ck_assert(memcmp(built[0], out_l, sizeof out_l) == 0);
    ck_assert(memcmp(built[1], out_r, sizeof out_r) == 0);

    /* The second build is a cache hit: the same loaded object. */
    const AmpPatchDesc *again = build_shared_object(text, len, "amp_fixture_poly_desc", err, sizeof err, &from_cache);
    ck_assert_ptr_eq(again, d);
    ck_assert_int_eq(from_cache, 1);
    remove_cache();
}
END_TEST

START_TEST(test_build_errors)
{
    make_cache();
    char err[8192];
    int from_cache = -1;
    static const char broken[] = "#include \"amp_patch.h\"\nint broken( {\n";
    ck_assert_ptr_null(build_shared_object(broken, sizeof broken - 1, "amp_x_desc", err, sizeof err, &from_cache));
    ck_assert_msg(strstr(err, "patch.c:2:") != NULL, "no compiler diagnostic in: %s", err);
    ck_assert_msg(strstr(err, "error") != NULL, "%s", err);
    ck_assert_int_eq(from_cache, 0);

    static const char no_symbol[] = "#include \"amp_patch.h\"\nint amp_other;\n";
    ck_assert_ptr_null(build_shared_object(no_symbol, sizeof no_symbol - 1, "amp_x_desc", err, sizeof err, NULL));
    ck_assert_msg(strstr(err, "does not define 'amp_x_desc'") != NULL, "%s", err);

    static const char wrong_abi[] = "#include \"amp_patch.h\"\nconst AmpPatchDesc amp_x_desc = { .abi_version = 999 };\n";
    ck_assert_ptr_null(build_shared_object(wrong_abi, sizeof wrong_abi - 1, "amp_x_desc", err, sizeof err, NULL));
    ck_assert_msg(strstr(err, "ABI version 999") != NULL, "%s", err);

    setenv("CC", "/nonexistent/cc", 1);
    ck_assert_ptr_null(build_shared_object(broken, sizeof broken - 1, "amp_x_desc", err, sizeof err, NULL));
    ck_assert_msg(strstr(err, "/nonexistent/cc") != NULL, "%s", err);
    unsetenv("CC");
    remove_cache();
}
END_TEST

/* The embedded headers are the tree's headers, byte for byte, and include
 * the ABI header. */
START_TEST(test_embedded_headers)
{
    int found = 0;
    for (int i = 0; i < build_n_headers; i++) {
        char path[256];
        snprintf(path, sizeof path, "runtime/abi/%s", build_headers[i].name);
        size_t len;
        char *text = read_text(path, &len);
        ck_assert_uint_eq(build_headers[i].len, len);
        ck_assert_msg(memcmp(build_headers[i].text, text, len) == 0, "%s differs", path);
        ck_assert_int_eq(build_headers[i].text[len], '\0');
        found += !strcmp(build_headers[i].name, "amp_patch.h");
    }
    ck_assert_int_eq(found, 1);
}
END_TEST

START_TEST(test_cache_dir_choice)
{
    char buf[256];
    setenv("AMP_CACHE", "/a/b", 1);
    ck_assert_int_eq(build_cache_dir(buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "/a/b");
    unsetenv("AMP_CACHE");
    setenv("XDG_CACHE_HOME", "/x", 1);
    ck_assert_int_eq(build_cache_dir(buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "/x/amplitude");
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "/h", 1);
    ck_assert_int_eq(build_cache_dir(buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "/h/.cache/amplitude");
    unsetenv("HOME");
    ck_assert_int_eq(build_cache_dir(buf, sizeof buf), -1);
}
END_TEST

static Suite *host_suite(void)
{
    Suite *s = suite_create("host");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_note_starts_at_its_sample);
    tcase_add_test(core, test_param_at_its_sample);
    tcase_add_test(core, test_effect_inputs);
    tcase_add_test(core, test_events_outside_the_span);
    tcase_add_test(core, test_voices_end_and_reset);
    tcase_add_test(core, test_init_rejects_bad_descriptors);
    suite_add_tcase(s, core);
    TCase *rt = tcase_create("realtime");
    tcase_add_test(rt, test_no_allocation_while_rendering);
    tcase_add_test(rt, test_steal_does_not_click);
    suite_add_tcase(s, rt);
    TCase *notes = tcase_create("notes");
    tcase_add_test(notes, test_notes_parse);
    tcase_add_test(notes, test_notes_errors_name_the_token);
    tcase_add_test(notes, test_notes_to_commands);
    tcase_add_test(notes, test_render_notes);
    suite_add_tcase(s, notes);
    TCase *build = tcase_create("build");
    tcase_add_test(build, test_build_matches_linked_fixture);
    tcase_add_test(build, test_build_errors);
    tcase_add_test(build, test_embedded_headers);
    tcase_add_test(build, test_cache_dir_choice);
    tcase_set_timeout(build, 120);
    suite_add_tcase(s, build);
    return s;
}

int main(void)
{
    return testutil_run(host_suite());
}
