/* testutil.h — small helpers shared by the Check suites. */
#ifndef AMP_TESTUTIL_H
#define AMP_TESTUTIL_H

#include <check.h>
#include <ftw.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>

/* Run one suite and return a process exit code. */
static inline int testutil_run(Suite *s)
{
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

static inline int testutil_remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Remove a temporary directory and everything in it (symlinks not followed). */
static inline int testutil_remove_tree(const char *dir)
{
    return nftw(dir, testutil_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The first (last) index in [from, to) where x is not exactly 0, or -1. */
static inline long testutil_first_nonzero(const float *x, long from, long to)
{
    for (long i = from; i < to; i++)
        if (x[i] != 0.0f)
            return i;
    return -1;
}

static inline long testutil_last_nonzero(const float *x, long from, long to)
{
    for (long i = to - 1; i >= from; i--)
        if (x[i] != 0.0f)
            return i;
    return -1;
}

/* For a suite that runs build/amp: amp_bin is the amp two levels above the
 * suite's binary (build/tests/check_x -> build/amp), tmp_dir a fresh
 * /tmp/<name>_XXXXXX, and AMP_CACHE a folder inside it unless the
 * environment names one. 0, or -1 after perror. */
static inline int testutil_amp_setup(const char *argv0, const char *name, char *amp_bin, size_t amp_len,
                                     char *tmp_dir, size_t tmp_len)
{
    char self[512];
    snprintf(self, sizeof self, "%s", argv0);
    snprintf(amp_bin, amp_len, "%s/amp", dirname(dirname(self)));
    snprintf(tmp_dir, tmp_len, "/tmp/%s_XXXXXX", name);
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return -1;
    }
    if (getenv("AMP_CACHE") == NULL) {
        char cache[512];
        snprintf(cache, sizeof cache, "%s/cache", tmp_dir);
        setenv("AMP_CACHE", cache, 1);
    }
    return 0;
}

#endif
