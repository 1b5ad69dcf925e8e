/* testutil.h — small helpers shared by the Check suites. */
#ifndef AMP_TESTUTIL_H
#define AMP_TESTUTIL_H

#include <check.h>
#include <ftw.h>
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

#endif
