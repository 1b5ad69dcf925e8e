/* check_sampler.c — nodes/sampler.amp playing a WAV bound to its sample
 * slot through a project's "samples" (patch ABI 3, the engine's
 * bind_sample), rendered by `amp render PROJECT.json`: the WAV's first
 * frame sounds exactly at the note's sample (onset 0, nodes/std/sample.amp),
 * every frame after it in order at the root key, an octave above the root
 * plays at twice the pitch within 0.1 cent, and a slot the patch lacks is
 * an error naming the slots it has.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "ampc.h"
#include "build.h"
#include "diag.h"
#include "testutil.h"
#include "wav.h"

#define RATE 48000
#define NOTE_FRAME 24000       /* beat 1 at 120 bpm */
#define WAV_FRAMES 48000

static char amp_bin[512], tmp_dir[256], repo[512];

/* A test WAV in the temporary folder, 32-bit float at RATE. */
static void write_wav(const char *name, float (*f)(long))
{
    static float x[WAV_FRAMES];
    for (long i = 0; i < WAV_FRAMES; i++)
        x[i] = f(i);
    const float *ch[1] = { x };
    char path[700], err[200];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    ck_assert_msg(wav_write_file(path, ch, 1, WAV_FRAMES, RATE, WAV_F32, err, sizeof err) == 0, "%s", err);
}

/* A ramp that never repeats a value, starting away from 0. */
static float ramp(long i)
{
    return 0.25f + (float)i * (0.5f / WAV_FRAMES);
}

static float sine(long i)
{
    return 0.5f * sinf((float)(2.0 * M_PI * 440.0 * (double)i / RATE));
}

/* Render a project of one sampler track that plays `key` at beat 1 for
 * two beats (root 60, attack 0: the envelope is 1 from the first sample)
 * with `slot` bound to `wav`. Returns amp's exit status; the left channel
 * in *out (malloc'd), its frames in *n; amp's messages in msg. */
static int render(const char *slot, const char *wav, int key, float **out, long *n, char *msg, size_t msglen)
{
    char json[2048], path[700], wav_out[700], cmd[4096], log[700];
    snprintf(json, sizeof json,
             "{\"version\": 1, \"sample_rate\": %d, \"tempo\": 120, \"time_signature\": [4, 4],\n"
             " \"length_beats\": 4, \"tail_seconds\": 0,\n"
             " \"tracks\": [{\"id\": 1, \"name\": \"S\", \"kind\": \"instrument\",\n"
             "   \"patch\": {\"file\": \"%s/nodes/sampler.amp\"}, \"params\": {\"attack\": 0, \"root\": 60},\n"
             "   \"samples\": {\"%s\": {\"file\": \"%s\"}},\n"
             "   \"clips\": [{\"start_beat\": 0, \"length_beats\": 4, \"notes\": [\n"
             "     {\"key\": %d, \"start_beat\": 1, \"length_beats\": 2, \"velocity\": 1}]}]}]}\n",
             RATE, repo, slot, wav, key);
    snprintf(path, sizeof path, "%s/p.json", tmp_dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(json, f);
    fclose(f);
    snprintf(wav_out, sizeof wav_out, "%s/out.wav", tmp_dir);
    snprintf(log, sizeof log, "%s/amp.log", tmp_dir);
    snprintf(cmd, sizeof cmd, "'%s' render '%s' -o '%s' --format f32 >'%s' 2>&1", amp_bin, path, wav_out, log);
    int rc = system(cmd);
    msg[0] = 0;
    if ((f = fopen(log, "r"))) {
        size_t got = fread(msg, 1, msglen - 1, f);
        msg[got] = 0;
        fclose(f);
    }
    if (rc != 0)
        return rc;
    WavData w;
    char err[200];
    ck_assert_msg(wav_read_file(wav_out, &w, err, sizeof err) == 0, "%s", err);
    *n = w.frames;
    *out = malloc(sizeof(float) * (size_t)w.frames);
    memcpy(*out, w.data[0], sizeof(float) * (size_t)w.frames);
    wav_free(&w);
    return 0;
}

START_TEST(test_first_frame_exact)
{
    write_wav("ramp.wav", ramp);
    float *x;
    long n;
    char msg[2048];
    ck_assert_msg(render("p.wav", "ramp.wav", 60, &x, &n, msg, sizeof msg) == 0, "%s", msg);
    ck_assert_int_ge(n, NOTE_FRAME + 2 * RATE / 2);
    long first = testutil_first_nonzero(x, 0, n);
    ck_assert_msg(first == NOTE_FRAME, "the WAV's first frame sounds at %ld, the note is at %d", first, NOTE_FRAME);
    /* at the root key, frame k at NOTE_FRAME + k, times one gain (the pan law) */
    double g = x[NOTE_FRAME] / ramp(0);
    for (long k = 0; k < RATE / 2; k++) {
        double want = g * ramp(k);
        ck_assert_msg(fabs(x[NOTE_FRAME + k] - want) <= 1e-6 * fabs(want), "frame %ld: %.9g, expected %.9g", k,
                      x[NOTE_FRAME + k], want);
    }
    free(x);
}
END_TEST

/* Frequency of x[from, to) by its rising zero crossings, each placed by
 * linear interpolation. */
static double measure_hz(const float *x, long from, long to)
{
    double first = -1, last = -1;
    long count = 0;
    for (long i = from + 1; i < to; i++)
        if (x[i - 1] < 0 && x[i] >= 0) {
            double t = (double)(i - 1) + x[i - 1] / (x[i - 1] - x[i]);
            if (first < 0)
                first = t;
            else
                count++;
            last = t;
        }
    return count > 0 ? count * (double)RATE / (last - first) : 0;
}

START_TEST(test_octave_pitch)
{
    write_wav("sine.wav", sine);
    float *x;
    long n;
    char msg[2048];
    ck_assert_msg(render("p.wav", "sine.wav", 72, &x, &n, msg, sizeof msg) == 0, "%s", msg);
    double hz = measure_hz(x, NOTE_FRAME + 100, NOTE_FRAME + RATE / 2 - 100);
    double cents = 1200.0 * log2(hz / 880.0);
    printf("sampler: key 72 over root 60 on a 440 Hz sine: %.6f Hz (%+.5f cent)\n", hz, cents);
    ck_assert_msg(fabs(cents) < 0.1, "%.6f Hz is %.4f cent from 880 Hz", hz, cents);
    free(x);
}
END_TEST

START_TEST(test_unknown_slot)
{
    write_wav("ramp.wav", ramp);
    float *x;
    long n;
    char msg[2048];
    ck_assert_int_ne(render("p.wave", "ramp.wav", 60, &x, &n, msg, sizeof msg), 0);
    ck_assert_msg(strstr(msg, "tracks[0].samples.p.wave: the patch has no sample slot 'p.wave' (its slots: 'p.wav')"),
                  "%s", msg);
    ck_assert_int_ne(render("p.wav", "none.wav", 60, &x, &n, msg, sizeof msg), 0);
    ck_assert_msg(strstr(msg, "tracks[0].samples.p.wav.file: "), "%s", msg);
}
END_TEST

/* A slot bound while the patch runs (the page binds a sample to a playing
 * instrument, or the sample arrives after the bind): what the patch reads
 * from it at control rate (.frames(), .rate()) follows the new binding
 * from the next process() call, though no param moved. */
START_TEST(test_bound_while_running)
{
    static const char text[] =
        "node frames_out {\n"
        "  out y;\n"
        "  param g = 1 in [0, 2];\n"
        "  sample wav;\n"
        "  process { y = g * wav.frames() + wav.rate() * 1 ms; }\n"
        "}\n";
    AmpcOptions opt = { 0 };
    Diag diag;
    diag_init(&diag, stderr);
    AmpcResult r;
    ck_assert_msg(ampc_compile_text("bound.amp", text, strlen(text), &opt, &diag, &r) == 0, "ampc failed");
    static char err[16384];
    const AmpPatchDesc *d = build_shared_object(r.c_text, r.c_len, r.symbol, err, sizeof err, NULL);
    ck_assert_msg(d != NULL, "%s", err);
    ampc_result_free(&r);
    ck_assert_int_eq(d->n_samples, 1);
    void *st = aligned_alloc(64, (d->state_size + 63) / 64 * 64);
    d->init(st, RATE);
    float y[64];
    float *outs[1] = { y };
    d->process(st, 64, NULL, outs);
    ck_assert_msg(y[63] == 0.0f, "unbound: %g, expected 0", y[63]);
    static float data[1000];
    AmpSample *slot = d->sample(st, 0);
    *slot = (AmpSample){ .data = { { .p = data }, { .p = data } }, .frames = 1000, .rate = RATE };
    d->process(st, 64, NULL, outs);
    ck_assert_msg(y[0] == 1000.0f + RATE * 0.001f && y[63] == y[0],
                  "bound to 1000 frames at %d Hz: %g at the first sample, %g at the last", RATE, y[0], y[63]);
    *d->sample(st, 0) = (AmpSample){ .frames = 0 };
    d->process(st, 64, NULL, outs);
    ck_assert_msg(y[0] == 0.0f, "unbound again: %g, expected 0", y[0]);
    free(st);
}
END_TEST

static Suite *sampler_suite(void)
{
    Suite *s = suite_create("sampler");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_first_frame_exact);
    tcase_add_test(tc, test_octave_pitch);
    tcase_add_test(tc, test_unknown_slot);
    tcase_add_test(tc, test_bound_while_running);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    (void)argc;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (!getcwd(repo, sizeof repo) ||
        testutil_amp_setup(argv[0], "check_sampler", amp_bin, sizeof amp_bin, tmp_dir, sizeof tmp_dir))
        return EXIT_FAILURE;
    int rc = testutil_run(sampler_suite());
    testutil_remove_tree(tmp_dir);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("check_sampler: %.2f s\n", (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
    return rc;
}
