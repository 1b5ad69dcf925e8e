/* check_voice.c — the voice allocator (runtime/engine/voice.c) on the hand-written
 * fixture patch: packing, release and silence, stealing, fades, limits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "voice.h"
#include "fixtures/fixture_poly.c"

#define SR 48000.0f
#define FADE_SAMPLES 144            /* 3 ms at 48 kHz */
#define SILENT_SAMPLES 480          /* 10 ms at 48 kHz */

/* The fixture's descriptor with voice_move recorded. */
static AmpPatchDesc desc;
static int moves, last_move_to, last_move_from;

static void recording_move(void *state, int to, int from)
{
    moves++;
    last_move_to = to;
    last_move_from = from;
    fx_voice_move(state, to, from);
}

static FixtureState *st;
static AmpVoiceTable *vt;
static float out_l[128], out_r[128];

static void setup(int max_voices, int steal)
{
    desc = amp_fixture_poly_desc;
    desc.voice_move = recording_move;
    moves = 0;
    last_move_to = last_move_from = -1;
    st = aligned_alloc(64, (sizeof *st + 63) / 64 * 64);
    ck_assert_ptr_nonnull(st);
    fx_init(st, SR);
    vt = fx_voices(st);
    voice_table_init(vt, max_voices, steal, SR);
}

static void teardown_state(void)
{
    free(st);
    st = NULL;
}

/* process() then voice_collect(), n <= 128. Returns the slots freed. */
static int run(int n)
{
    float *out[2] = { out_l, out_r };
    fx_process(st, n, NULL, out);
    return voice_collect(&desc, st, n);
}

static void run_samples(long n)
{
    while (n > 0) {
        int k = n > 128 ? 128 : (int)n;
        run(k);
        n -= k;
    }
}

static int count_fading(void)
{
    int n = 0;
    for (int i = 0; i < vt->live; i++)
        n += vt->gain_step[i] > 0.0f;
    return n;
}

static void assert_free_from_live(void)
{
    for (int i = vt->live; i < AMP_VOICE_SLOTS; i++) {
        ck_assert_float_eq(vt->gain[i], 0.0f);
        ck_assert_int_eq(vt->note_id[i], -1);
    }
}

/* ---- core ---------------------------------------------------------------- */

START_TEST(test_allocation_packs)
{
    setup(8, AMP_STEAL_OLDEST);
    int keys[5] = { 60, 64, 67, 69, 72 };
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(voice_note_on(&desc, st, 100 + i, keys[i], 0.5f), i);
    ck_assert_int_eq(vt->live, 5);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(vt->note_id[i], 100 + i);
        ck_assert_float_eq(vt->gate[i], 1.0f);
        ck_assert_float_eq(vt->gain[i], 1.0f);
        ck_assert_float_eq(vt->gain_step[i], 0.0f);
        ck_assert_float_eq(vt->vel[i], 0.5f);
        ck_assert_float_eq(vt->key[i], (float)keys[i]);
        ck_assert_uint_eq(vt->started[i], (uint64_t)i);
        ck_assert_float_eq(vt->freq[i], (float)(440.0 * pow(2.0, (keys[i] - 69) / 12.0)));
    }
    ck_assert_float_eq(vt->freq[3], 440.0f);
    ck_assert_float_eq_tol(vt->freq[0], 261.6256f, 1e-3f);
    assert_free_from_live();
    /* Velocity is clamped. */
    ck_assert_int_eq(voice_note_on(&desc, st, 200, 60, 3.0f), 5);
    ck_assert_float_eq(vt->vel[5], 1.0f);
    ck_assert_int_eq(voice_note_on(&desc, st, 201, 60, -1.0f), 6);
    ck_assert_float_eq(vt->vel[6], 0.0f);
    teardown_state();
}
END_TEST

START_TEST(test_same_key_twice)
{
    setup(8, AMP_STEAL_OLDEST);
    ck_assert_int_eq(voice_note_on(&desc, st, 10, 60, 0.8f), 0);
    ck_assert_int_eq(voice_note_on(&desc, st, 11, 60, 0.8f), 1);
    ck_assert_int_eq(voice_note_off(&desc, st, 10), 1);
    ck_assert_float_eq(vt->gate[0], 0.0f);
    ck_assert_float_eq(vt->gate[1], 1.0f);
    ck_assert_int_eq(voice_note_off(&desc, st, 10), 0);   /* already released */
    ck_assert_int_eq(voice_note_off(&desc, st, 99), 0);   /* never started */
    ck_assert_int_eq(voice_note_off(&desc, st, -1), 0);
    teardown_state();
}
END_TEST

/* A released voice whose output stays below -100 dB for 10 ms is freed,
 * and the last live voice moves into its slot. */
START_TEST(test_release_frees_after_10ms)
{
    setup(8, AMP_STEAL_OLDEST);
    fx_set_param(st, FX_RELEASE, 0.0f);          /* envelope to 0 in one sample */
    for (int i = 0; i < 4; i++)
        voice_note_on(&desc, st, i, 60 + i, 0.8f);
    run_samples(256);
    ck_assert_int_eq(vt->live, 4);
    voice_note_off(&desc, st, 1);
    int freed_after = -1;
    for (int t = 16; t <= 1024; t += 16) {
        if (run(16)) {
            freed_after = t;
            break;
        }
        ck_assert_int_eq(vt->live, 4);
        ck_assert_int_eq(moves, 0);
    }
    ck_assert_int_eq(freed_after, SILENT_SAMPLES);
    ck_assert_int_eq(vt->live, 3);
    ck_assert_int_eq(moves, 1);
    ck_assert_int_eq(last_move_to, 1);
    ck_assert_int_eq(last_move_from, 3);
    ck_assert_int_eq(vt->note_id[1], 3);
    ck_assert_float_eq(vt->key[1], 63.0f);
    ck_assert_uint_eq(vt->started[1], 3);
    assert_free_from_live();
    /* The moved voice goes on where it was: its lane is not silent. */
    run(16);
    ck_assert_float_gt(vt->level[1], 0.01f);
    teardown_state();
}
END_TEST

/* The silence counter counts samples, restarts on sound, and ignores held
 * notes. Levels set by hand. */
START_TEST(test_silence_counter)
{
    setup(8, AMP_STEAL_OLDEST);
    voice_note_on(&desc, st, 0, 60, 0.8f);
    voice_note_on(&desc, st, 1, 62, 0.8f);
    vt->level[0] = 0.0f;                          /* held and silent: stays */
    vt->level[1] = 0.0f;
    voice_note_off(&desc, st, 1);
    ck_assert_int_eq(voice_collect(&desc, st, SILENT_SAMPLES - 1), 0);
    vt->level[1] = 1e-4f;                         /* a sound: start again */
    ck_assert_int_eq(voice_collect(&desc, st, SILENT_SAMPLES - 1), 0);
    vt->level[1] = 0.0f;
    ck_assert_int_eq(voice_collect(&desc, st, SILENT_SAMPLES - 1), 0);
    ck_assert_int_eq(voice_collect(&desc, st, 1), 1);
    ck_assert_int_eq(vt->live, 1);
    ck_assert_int_eq(vt->note_id[0], 0);
    ck_assert_int_eq(moves, 0);                   /* the freed slot was the last */
    ck_assert_int_eq(voice_collect(&desc, st, 100000), 0);
    teardown_state();
}
END_TEST

START_TEST(test_steal_oldest)
{
    setup(4, AMP_STEAL_OLDEST);
    for (int i = 0; i < 4; i++)
        voice_note_on(&desc, st, i, 60 + i, 0.8f);
    /* Free note 0 so that slot order and age differ: note 3 moves to slot 0. */
    voice_note_off(&desc, st, 0);
    vt->level[0] = 0.0f;
    ck_assert_int_eq(voice_collect(&desc, st, SILENT_SAMPLES), 1);
    ck_assert_int_eq(vt->note_id[0], 3);
    ck_assert_int_eq(voice_note_on(&desc, st, 4, 70, 0.8f), 3);
    /* Slots hold notes 3, 1, 2, 4: the oldest is note 1 in slot 1. */
    float levels[4] = { 0.1f, 0.9f, 0.5f, 0.2f };
    memcpy(vt->level, levels, sizeof levels);
    ck_assert_int_eq(voice_note_on(&desc, st, 5, 72, 0.8f), 4);
    ck_assert_int_eq(vt->live, 5);
    ck_assert_int_eq(vt->note_id[1], -1);
    ck_assert_float_eq(vt->gate[1], 0.0f);
    ck_assert_float_eq(vt->gain[1], 1.0f);
    ck_assert_float_eq(vt->gain_step[1], (float)(1.0 / (0.003 * SR)));
    ck_assert_int_eq(vt->note_id[4], 5);
    ck_assert_float_eq(vt->gate[4], 1.0f);
    ck_assert_int_eq(count_fading(), 1);
    teardown_state();
}
END_TEST

START_TEST(test_steal_quietest)
{
    setup(4, AMP_STEAL_QUIETEST);
    for (int i = 0; i < 4; i++)
        voice_note_on(&desc, st, i, 60 + i, 0.8f);
    float levels[4] = { 0.5f, 0.3f, 0.05f, 0.2f };
    memcpy(vt->level, levels, sizeof levels);
    ck_assert_int_eq(voice_note_on(&desc, st, 4, 70, 0.8f), 4);
    ck_assert_int_eq(vt->note_id[2], -1);
    ck_assert_float_gt(vt->gain_step[2], 0.0f);
    for (int i = 0; i < 4; i++)
        if (i != 2)
            ck_assert_int_eq(vt->note_id[i], i);
    /* A tie between slots 1 and 3 goes to the older (slot 1); the fading
     * slot 2 and the new note (not heard yet: counted as full scale) are
     * not candidates. */
    float levels2[5] = { 0.5f, 0.1f, 0.0f, 0.1f, 0.0f };
    memcpy(vt->level, levels2, sizeof levels2);
    vt->level[4] = 1.0f;
    ck_assert_int_eq(voice_note_on(&desc, st, 5, 71, 0.8f), 5);
    ck_assert_int_eq(vt->note_id[1], -1);
    ck_assert_int_eq(vt->note_id[3], 3);
    ck_assert_int_eq(count_fading(), 2);
    teardown_state();
}
END_TEST

/* A stolen voice fades out over 3 ms (gain 1 -> 0 in 144 samples at
 * 48 kHz, +-1) while the new note sounds from its first sample. */
START_TEST(test_stolen_voice_fades_3ms)
{
    setup(1, AMP_STEAL_OLDEST);
    voice_note_on(&desc, st, 0, 60, 0.8f);
    run_samples(480);
    ck_assert_int_eq(voice_note_on(&desc, st, 1, 67, 0.8f), 1);
    ck_assert_int_eq(vt->live, 2);
    float *out[2] = { out_l, out_r };
    int reached = -1;
    for (int t = 1; t <= 400; t++) {
        fx_process(st, 1, NULL, out);
        if (t == 1)
            ck_assert_float_gt(vt->level[1], 0.0f);    /* new note sounds at once */
        if (reached < 0 && vt->gain[0] <= 0.0f)
            reached = t;
        else if (reached < 0)
            ck_assert_float_gt(vt->gain[0], 0.0f);
        voice_collect(&desc, st, 1);
        if (reached >= 0)
            break;
    }
    ck_assert_int_ge(reached, FADE_SAMPLES - 1);
    ck_assert_int_le(reached, FADE_SAMPLES + 1);
    /* Freed at once, the new note packed into slot 0. */
    ck_assert_int_eq(vt->live, 1);
    ck_assert_int_eq(vt->note_id[0], 1);
    ck_assert_int_eq(last_move_to, 0);
    ck_assert_int_eq(last_move_from, 1);
    assert_free_from_live();
    teardown_state();
}
END_TEST

/* With every fade slot taken, the fade closest to silence is cut and its
 * slot reused. */
START_TEST(test_fade_slots_exhausted)
{
    setup(2, AMP_STEAL_OLDEST);
    voice_note_on(&desc, st, 0, 60, 0.8f);
    voice_note_on(&desc, st, 1, 62, 0.8f);
    run_samples(10);
    for (int id = 2; id <= 5; id++) {           /* four steals: four fades */
        int slot = voice_note_on(&desc, st, id, 60 + id, 0.8f);
        ck_assert_int_eq(slot, id);
        run_samples(10);
    }
    ck_assert_int_eq(vt->live, 2 + AMP_FADE_SLOTS);
    ck_assert_int_eq(count_fading(), AMP_FADE_SLOTS);
    /* Slot 0 (note 0) has faded longest: the lowest gain. */
    for (int i = 1; i < 4; i++)
        ck_assert_float_lt(vt->gain[0], vt->gain[i]);
    int slot = voice_note_on(&desc, st, 6, 80, 0.8f);
    ck_assert_int_eq(slot, 0);
    ck_assert_int_eq(vt->live, 2 + AMP_FADE_SLOTS);
    ck_assert_int_eq(vt->note_id[0], 6);
    ck_assert_float_eq(vt->gain[0], 1.0f);
    ck_assert_float_eq(vt->gain_step[0], 0.0f);
    ck_assert_float_eq(vt->gate[0], 1.0f);
    ck_assert_int_eq(count_fading(), AMP_FADE_SLOTS);
    /* Note 4 (the oldest playing) was the one stolen. */
    ck_assert_int_eq(vt->note_id[4], -1);
    ck_assert_int_eq(vt->note_id[5], 5);
    /* All the fades end; two voices stay, packed. */
    run_samples(400);
    ck_assert_int_eq(vt->live, 2);
    ck_assert_int_eq(count_fading(), 0);
    int ids = (vt->note_id[0] == 5 && vt->note_id[1] == 6) || (vt->note_id[0] == 6 && vt->note_id[1] == 5);
    ck_assert(ids);
    assert_free_from_live();
    teardown_state();
}
END_TEST

START_TEST(test_none_refuses)
{
    setup(2, AMP_STEAL_NONE);
    voice_note_on(&desc, st, 0, 60, 0.8f);
    voice_note_on(&desc, st, 1, 62, 0.8f);
    AmpVoiceTable before;
    memcpy(&before, vt, sizeof before);
    ck_assert_int_eq(voice_note_on(&desc, st, 2, 64, 0.8f), -1);
    ck_assert(memcmp(&before, vt, sizeof before) == 0);
    /* Once a voice ends there is room again. */
    voice_note_off(&desc, st, 0);
    vt->level[0] = 0.0f;
    voice_collect(&desc, st, SILENT_SAMPLES);
    ck_assert_int_eq(voice_note_on(&desc, st, 3, 64, 0.8f), 1);
    teardown_state();
}
END_TEST

START_TEST(test_all_off_and_panic)
{
    setup(8, AMP_STEAL_OLDEST);
    for (int i = 0; i < 6; i++)
        voice_note_on(&desc, st, i, 60 + i, 0.8f);
    voice_all_off(&desc, st);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(vt->gate[i], 0.0f);
    ck_assert_int_eq(vt->live, 6);
    voice_panic(&desc, st);
    ck_assert_int_eq(vt->live, 0);
    assert_free_from_live();
    ck_assert_int_eq(voice_note_on(&desc, st, 9, 60, 0.8f), 0);
    teardown_state();
}
END_TEST

/* ---- limits -------------------------------------------------------------- */

START_TEST(test_max_one_voice)
{
    setup(1, AMP_STEAL_OLDEST);
    ck_assert_int_eq(voice_note_on(&desc, st, 0, 60, 0.8f), 0);
    ck_assert_int_eq(voice_note_on(&desc, st, 1, 62, 0.8f), 1);
    ck_assert_int_eq(voice_note_on(&desc, st, 2, 64, 0.8f), 2);
    ck_assert_int_eq(count_fading(), 2);
    run_samples(FADE_SAMPLES + 2);
    ck_assert_int_eq(vt->live, 1);
    ck_assert_int_eq(vt->note_id[0], 2);
    assert_free_from_live();
    teardown_state();
}
END_TEST

START_TEST(test_max_256_voices)
{
    setup(AMP_MAX_VOICES, AMP_STEAL_OLDEST);
    for (int i = 0; i < AMP_MAX_VOICES; i++)
        ck_assert_int_eq(voice_note_on(&desc, st, i, i % 128, 0.5f), i);
    ck_assert_int_eq(vt->live, AMP_MAX_VOICES);
    run_samples(64);
    for (int i = 0; i < AMP_MAX_VOICES; i++)
        ck_assert_float_gt(vt->level[i], 0.0f);
    ck_assert_int_eq(voice_note_on(&desc, st, 1000, 60, 0.5f), AMP_MAX_VOICES);
    ck_assert_int_eq(vt->note_id[0], -1);             /* the oldest */
    ck_assert_int_eq(vt->live, AMP_MAX_VOICES + 1);
    for (int id = 1001; id < 1001 + AMP_FADE_SLOTS + 2; id++)
        ck_assert_int_le(voice_note_on(&desc, st, id, 60, 0.5f), AMP_VOICE_SLOTS - 1);
    ck_assert_int_eq(vt->live, AMP_VOICE_SLOTS);
    ck_assert_int_eq(count_fading(), AMP_FADE_SLOTS);
    run_samples(FADE_SAMPLES + 2);
    ck_assert_int_eq(vt->live, AMP_MAX_VOICES);
    for (int i = 0; i < 128; i++)
        ck_assert(isfinite(out_l[i]));
    teardown_state();
}
END_TEST

START_TEST(test_table_init_clamps)
{
    setup(1, AMP_STEAL_OLDEST);
    voice_table_init(vt, 0, 99, 0.0f);
    ck_assert_int_eq(vt->max_voices, 1);
    ck_assert_int_eq(vt->steal, AMP_STEAL_OLDEST);
    ck_assert_float_gt(vt->sample_rate, 0.0f);
    voice_table_init(vt, 100000, AMP_STEAL_NONE, SR);
    ck_assert_int_eq(vt->max_voices, AMP_MAX_VOICES);
    ck_assert_int_eq(vt->live, 0);
    assert_free_from_live();
    teardown_state();
}
END_TEST

static Suite *voice_suite(void)
{
    Suite *s = suite_create("voice");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_allocation_packs);
    tcase_add_test(core, test_same_key_twice);
    tcase_add_test(core, test_release_frees_after_10ms);
    tcase_add_test(core, test_silence_counter);
    tcase_add_test(core, test_steal_oldest);
    tcase_add_test(core, test_steal_quietest);
    tcase_add_test(core, test_stolen_voice_fades_3ms);
    tcase_add_test(core, test_fade_slots_exhausted);
    tcase_add_test(core, test_none_refuses);
    tcase_add_test(core, test_all_off_and_panic);
    suite_add_tcase(s, core);
    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, test_max_one_voice);
    tcase_add_test(limits, test_max_256_voices);
    tcase_add_test(limits, test_table_init_clamps);
    suite_add_tcase(s, limits);
    return s;
}

int main(void)
{
    return testutil_run(voice_suite());
}
