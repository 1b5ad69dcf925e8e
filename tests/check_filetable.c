/* check_filetable.c — tables read from WAV files (`table w =
 * file("NAME.wav")`, lang/SPEC.md §9): the data in the module reads back
 * exactly, channels are picked and checked, and the path is found and
 * confined as an import's is, on the file system and through the resolver
 * (AmpcResolver, the browser's ampc.wasm).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "ampc.h"
#include "build.h"
#include "diag.h"
#include "testutil.h"
#include "wav.h"

#define FRAMES 1000

static char tmp_dir[64];

/* Test data: floats of every size a WAV can carry (small, huge, ones no
 * short decimal spells; not below 1e-30 nor -0, which a patch's output
 * flushes to 0), channel c of frame i. */
static float sample_at(int c, int i)
{
    if (i == 0)
        return c ? -1.17549e-30f : 1e-29f;
    if (i == 1)
        return c ? 3.0e30f : -1.0f;
    return sinf((float)i * 0.0123f + (float)c) * (1.0f + (float)(i % 7) / 3.0f) + (float)c * 1e-7f * (float)i;
}

static void write_wav(const char *name, int channels, long frames)
{
    float *buf = malloc(sizeof(float) * (size_t)(channels * frames));
    const float *chans[8];
    for (int c = 0; c < channels; c++) {
        chans[c] = buf + c * frames;
        for (long i = 0; i < frames; i++)
            buf[c * frames + i] = sample_at(c, (int)i);
    }
    char path[128], err[128];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    ck_assert_msg(wav_write_file(path, chans, channels, frames, 48000, WAV_F32, err, sizeof err) == 0, "%s", err);
    free(buf);
}

static void write_text(const char *name, const char *text)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* Compile the file `name` of the temporary folder; the diagnostics in
 * *diags (malloc'd). Returns ampc's status. */
static int compile_file(const char *name, const AmpcOptions *opt, AmpcResult *r, char **diags)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    size_t len;
    FILE *mem = open_memstream(diags, &len);
    Diag d;
    diag_init(&d, mem);
    int rc = ampc_compile_file(path, opt, &d, r);
    fclose(mem);
    return rc;
}

/* The node reads entry k of each table at sample k. */
static const char *const READER =
    "node reader {\n"
    "  out a, b;\n"
    "  table m = file(\"mono.wav\");\n"
    "  table s = file(\"sub/stereo.wav\", 1);\n"
    "  state k = -1;\n"
    "  process { k = k + 1; a = m.at(k); b = s.at(k); }\n"
    "}\n"
    "patch p { r = reader(); r.a -> out.left; r.b -> out.right; }\n";

START_TEST(test_data_reads_back_exactly)
{
    write_wav("mono.wav", 1, FRAMES);
    mkdir(strcat(strcpy((char[128]){ 0 }, tmp_dir), "/sub"), 0755);
    write_wav("sub/stereo.wav", 2, FRAMES);
    write_text("reader.amp", READER);
    AmpcResult r;
    char *diags = NULL;
    ck_assert_msg(compile_file("reader.amp", NULL, &r, &diags) == 0, "%s", diags);
    free(diags);
    static char err[16384];
    const AmpPatchDesc *desc = build_shared_object(r.c_text, r.c_len, r.symbol, err, sizeof err, NULL);
    ck_assert_msg(desc != NULL, "%s", err);
    /* the data is in the module, not the state */
    ck_assert_uint_lt(desc->state_size, 1024);
    ampc_result_free(&r);
    void *state = aligned_alloc(AMP_STATE_ALIGN, (desc->state_size + 15) & ~(size_t)15);
    desc->init(state, 48000);
    static float left[FRAMES], right[FRAMES];
    float *out[2] = { left, right };
    desc->process(state, FRAMES, NULL, out);
    for (int i = 0; i < FRAMES; i++) {
        float want_a = sample_at(0, i), want_b = sample_at(1, i);
        ck_assert_msg(memcmp(&left[i], &want_a, 4) == 0, "mono entry %d: %a, file has %a", i, left[i], want_a);
        ck_assert_msg(memcmp(&right[i], &want_b, 4) == 0, "channel 1 entry %d: %a, file has %a", i, right[i], want_b);
    }
    free(state);
}
END_TEST

static void expect_error(const char *text, const char *want)
{
    write_text("bad.amp", text);
    AmpcResult r;
    char *diags = NULL;
    ck_assert_int_eq(compile_file("bad.amp", NULL, &r, &diags), 1);
    const char *msg = strstr(diags, ": error: ");
    ck_assert_msg(msg && !strncmp(msg + 9, want, strlen(want)), "got:\n%s\nwanted: %s", diags, want);
    free(diags);
}

START_TEST(test_channels)
{
    write_wav("stereo.wav", 2, 16);
    expect_error("node n { out y; table w = file(\"stereo.wav\"); process { y = w.at(0); } }\n"
                 "patch p { a = n(); a.y -> out; }\n",
                 "'stereo.wav' has 2 channels and a table holds one: name it, file(\"stereo.wav\", 0)\n");
    expect_error("node n { out y; table w = file(\"stereo.wav\", 2); process { y = w.at(0); } }\n"
                 "patch p { a = n(); a.y -> out; }\n",
                 "channel 2 is outside 'stereo.wav' (0 to 1: it has 2 channels)\n");
    expect_error("node n { out y; table w = file(\"stereo.wav\", 0.5); process { y = w.at(0); } }\n"
                 "patch p { a = n(); a.y -> out; }\n",
                 "channel 0.5 is outside 'stereo.wav' (0 to 1: it has 2 channels)\n");
}
END_TEST

/* Past a table's frames, and past the patch's data budget. */
START_TEST(test_too_large)
{
    write_wav("big.wav", 1, AMPC_FILE_FRAMES + 1);
    expect_error("node n { out y; table w = file(\"big.wav\"); process { y = w.at(0); } }\n"
                 "patch p { a = n(); a.y -> out; }\n",
                 "'big.wav' has 1048577 frames; a table from a file holds 1 to 1048576\n");
    write_wav("most.wav", 1, AMPC_FILE_FRAMES);
    write_wav("some.wav", 1, 16);
    expect_error("node n { out y; table w = file(\"most.wav\"); table v = file(\"some.wav\");\n"
                 "  process { y = w.at(0) + v.at(0); } }\npatch p { a = n(); a.y -> out; }\n",
                 "the tables read from files hold 4194368 bytes; a patch may hold 4194304 (4 per entry)\n");
}
END_TEST

/* The resolver of the browser's worker: patch.amp and lib/..., bytes. */
static const unsigned char *vfs_wav;
static size_t vfs_wav_len;
static const char *vfs_main;

static const char *vfs_read(void *ctx, const char *path, size_t *len)
{
    (void)ctx;
    if (!strcmp(path, "patch.amp")) {
        *len = strlen(vfs_main);
        return vfs_main;
    }
    if (!strcmp(path, "lib/waves/w.wav")) {
        *len = vfs_wav_len;
        return (const char *)vfs_wav;
    }
    return NULL;
}

static int compile_confined(const char *text, char **diags, AmpcResult *r)
{
    static const char *const includes[] = { "lib" };
    AmpcResolver resolver = { vfs_read, NULL };
    AmpcOptions opt = { .include_dirs = includes, .n_include_dirs = 1, .confined = 1, .resolver = &resolver };
    size_t len;
    FILE *mem = open_memstream(diags, &len);
    Diag d;
    diag_init(&d, mem);
    vfs_main = text;
    int rc = ampc_compile_text("patch.amp", text, strlen(text), &opt, &d, r);
    fclose(mem);
    return rc;
}

START_TEST(test_confined_and_resolver)
{
    float data[4] = { 0.25f, -0.75f, 1e-3f, 0.5f };
    const float *chans[1] = { data };
    unsigned char *bytes;
    char err[128];
    ck_assert(wav_write_memory(chans, 1, 4, 44100, WAV_F32, &bytes, &vfs_wav_len, err, sizeof err) == 0);
    vfs_wav = bytes;
    AmpcResult r;
    char *diags = NULL;
    /* found under the include folder, through the resolver: its data in the C */
    ck_assert_msg(compile_confined("node n { out y; table w = file(\"waves/w.wav\"); state k = -1;\n"
                                   "  process { k = k + 1; y = w.at(k); } }\npatch p { a = n(); a.y -> out; }\n",
                                   &diags, &r) == 0, "%s", diags);
    ck_assert_msg(strstr(r.c_text, "0.25f, (-0.75f), 0.00100000005f, 0.5f,"), "%s", r.c_text);
    ampc_result_free(&r);
    free(diags);
    /* '..' and absolute paths refused, as an import's */
    ck_assert_int_eq(compile_confined("node n { out y; table w = file(\"../waves/w.wav\"); process { y = w.at(0); } }\n"
                                      "patch p { a = n(); a.y -> out; }\n", &diags, &r), 1);
    ck_assert_str_eq(diags, "patch.amp:1:32: error: '../waves/w.wav': a file here is named by a relative path "
                            "inside the library (no leading '/', no '..')\n"
                            "node n { out y; table w = file(\"../waves/w.wav\"); process { y = w.at(0); } }\n"
                            "                               ^\n");
    free(diags);
    ck_assert_int_eq(compile_confined("node n { out y; table w = file(\"/etc/w.wav\"); process { y = w.at(0); } }\n"
                                      "patch p { a = n(); a.y -> out; }\n", &diags, &r), 1);
    ck_assert_msg(strstr(diags, "error: '/etc/w.wav': a file here is named by a relative path"), "%s", diags);
    free(diags);
    /* not in the library */
    ck_assert_int_eq(compile_confined("node n { out y; table w = file(\"waves/x.wav\"); process { y = w.at(0); } }\n"
                                      "patch p { a = n(); a.y -> out; }\n", &diags, &r), 1);
    ck_assert_msg(strstr(diags, "error: cannot find 'waves/x.wav' (looked next to this file and in 1 include directory)"),
                  "%s", diags);
    free(diags);
    free(bytes);
}
END_TEST

static Suite *filetable_suite(void)
{
    Suite *s = suite_create("filetable");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_data_reads_back_exactly);
    tcase_add_test(tc, test_channels);
    tcase_add_test(tc, test_confined_and_resolver);
    tcase_add_test(tc, test_too_large);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/check_filetable_XXXXXX");
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    int own_cache = getenv("AMP_CACHE") == NULL;
    char cache[96];
    if (own_cache) {
        snprintf(cache, sizeof cache, "%s/cache", tmp_dir);
        setenv("AMP_CACHE", cache, 1);
    }
    int rc = testutil_run(filetable_suite());
    testutil_remove_tree(tmp_dir);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("check_filetable: %.2f s\n", (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
    return rc;
}
