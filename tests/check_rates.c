/* check_rates.c — the supported sample rates, 8000 to 192000 Hz
 * (AMP_MIN_SAMPLE_RATE, AMP_MAX_SAMPLE_RATE in runtime/abi/amp_patch.h),
 * and every way in refusing the others with the same words: engine_init,
 * `amp render --rate` (a patch, a project), a project whose sample_rate
 * is outside them, `amp import --rate`. Delay lines are sized for 192 kHz,
 * so a rate above it would cut every line short; below 8 kHz the library's
 * cutoffs (clamped to 0.49 SR) would all collapse.
 */
#include "testutil.h"

#include "amp_patch.h"
#include "engine.h"
#include "host.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char amp_bin[512], tmp_dir[512];

static int run_amp(const char *args, char *buf, size_t len)
{
    char cmd[2048], log[600];
    snprintf(log, sizeof log, "%s/stderr.txt", tmp_dir);
    snprintf(cmd, sizeof cmd, "%s %s >/dev/null 2>%s", amp_bin, args, log);
    int rc = system(cmd);
    FILE *f = fopen(log, "r");
    size_t n = f ? fread(buf, 1, len - 1, f) : 0;
    buf[n] = 0;
    if (f)
        fclose(f);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static const double refused[] = { 1000, 7999, 192001, 384000, 768000 };
static const double accepted[] = { 8000, 44100, 48000, 96000, 192000 };

START_TEST(engine_refuses_unsupported_rates)
{
    EngineConfig cfg;
    char err[256], want[256];
    engine_config_default(&cfg, (float)refused[_i]);
    cfg.max_tracks = 2;
    cfg.state_bytes = 1u << 20;
    cfg.sample_bytes = 1u << 20;
    ck_assert_ptr_null(engine_init(&cfg, err, sizeof err));
    snprintf(want, sizeof want, "sample rate %g Hz is not supported (8000 to 192000 Hz)", refused[_i]);
    ck_assert_str_eq(err, want);
    ck_assert_int_eq(host_check_rate(refused[_i], err, sizeof err), -1);
    ck_assert_str_eq(err, want);

    engine_config_default(&cfg, (float)accepted[_i]);
    cfg.max_tracks = 2;
    cfg.state_bytes = 1u << 20;
    cfg.sample_bytes = 1u << 20;
    Engine *e = engine_init(&cfg, err, sizeof err);
    ck_assert_msg(e != NULL, "%g Hz: %s", accepted[_i], err);
    engine_free(e);
    ck_assert_int_eq(host_check_rate(accepted[_i], err, sizeof err), 0);
}
END_TEST

START_TEST(amp_render_refuses_unsupported_rates)
{
    char args[1600], msg[4096], want[256];
    snprintf(want, sizeof want, "amp: sample rate %g Hz is not supported (8000 to 192000 Hz)\n", refused[_i]);
    /* a patch */
    snprintf(args, sizeof args, "render nodes/std/osc.amp --unit sine --seconds 0.01 --rate %g -o %s/refused%d.wav",
             refused[_i], tmp_dir, _i);
    ck_assert_int_eq(run_amp(args, msg, sizeof msg), 1);
    ck_assert_str_eq(msg, want);
    snprintf(args, sizeof args, "%s/refused%d.wav", tmp_dir, _i);
    ck_assert_int_ne(access(args, F_OK), 0);
    /* a project */
    snprintf(args, sizeof args, "render tests/projects/demo.json --seconds 0.01 --rate %g -o %s/p.wav", refused[_i],
             tmp_dir);
    ck_assert_int_eq(run_amp(args, msg, sizeof msg), 1);
    ck_assert_str_eq(msg, want);
    /* amp import */
    snprintf(args, sizeof args, "import %s/none.mid -o %s/p.json --rate %g", tmp_dir, tmp_dir, refused[_i]);
    ck_assert_int_eq(run_amp(args, msg, sizeof msg), 2);
    snprintf(want, sizeof want, "amp import: --rate: sample rate %g Hz is not supported (8000 to 192000 Hz)\n",
             refused[_i]);
    ck_assert_str_eq(msg, want);
    /* the ends of the range render */
    snprintf(args, sizeof args, "render nodes/std/osc.amp --unit sine --seconds 0.01 --rate %g -o %s/p.wav",
             accepted[_i], tmp_dir);
    ck_assert_int_eq(run_amp(args, msg, sizeof msg), 0);
}
END_TEST

/* A project whose own sample_rate is outside the range: the engine's words. */
START_TEST(project_rate_refused)
{
    char path[600], args[1600], msg[4096];
    FILE *in = fopen("tests/projects/demo.json", "r");
    ck_assert_ptr_nonnull(in);
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, in);
    fclose(in);
    text[n] = 0;
    char *at = strstr(text, "\"sample_rate\": 48000");
    ck_assert_ptr_nonnull(at);
    memcpy(at, "\"sample_rate\":  4000", 20);
    /* the project names its files relative to itself: keep it beside demo.json */
    snprintf(path, sizeof path, "tests/projects/.check_rates_%d.json", (int)getpid());
    FILE *out = fopen(path, "w");
    ck_assert_ptr_nonnull(out);
    fwrite(text, 1, n, out);
    fclose(out);
    snprintf(args, sizeof args, "render %s --seconds 0.01 -o %s/p.wav", path, tmp_dir);
    int rc = run_amp(args, msg, sizeof msg);
    remove(path);
    ck_assert_int_eq(rc, 1);
    /* Refused by the project reader itself (so ampd refuses to store it
     * too), in its words for a value out of range. */
    ck_assert_str_eq(msg, "amp: sample_rate: 4000 is out of range (8000 to 192000)\n");
}
END_TEST

static Suite *rates_suite(void)
{
    Suite *s = suite_create("rates");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, engine_refuses_unsupported_rates, 0, 5);
    tcase_add_loop_test(tc, amp_render_refuses_unsupported_rates, 0, 5);
    tcase_add_test(tc, project_rate_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    (void)argc;
    if (testutil_amp_setup(argv[0], "check_rates", amp_bin, sizeof amp_bin, tmp_dir, sizeof tmp_dir))
        return EXIT_FAILURE;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = testutil_run(rates_suite());
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("check_rates: %.1f s\n", (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
    testutil_remove_tree(tmp_dir);
    return rc;
}
