/* testutil.h — small helpers shared by the Check suites. */
#ifndef AMP_TESTUTIL_H
#define AMP_TESTUTIL_H

#include <check.h>
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

#endif
