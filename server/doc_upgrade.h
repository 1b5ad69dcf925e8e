/* doc_upgrade.h — bringing a stored or uploaded project document of an
 * older format version (runtime/formats/PROJECT.md, "version") up to the
 * version this build reads (PROJECT_VERSION), one step at a time.
 *
 * A step turns version `from` into `from + 1` in place (rename a field,
 * split one, fill in a default); doc_upgrade runs the steps in order and
 * writes the new "version". The server upgrades a document when it is
 * saved (the stored revision is then in the current format) and when an
 * older stored revision is read. A step without `apply` marks a version
 * that is read as it is: the runner keeps such a document at its version.
 * Version 2 added fields without changing what version 1 means, so
 * version 1 documents are kept as they are; tests/check_api.c exercises
 * the runner with a synthetic version 0.
 */
#ifndef AMPD_DOC_UPGRADE_H
#define AMPD_DOC_UPGRADE_H

#include <jansson.h>

#include <stddef.h>

typedef int (*DocUpgradeApply)(json_t *doc, char *err, size_t errlen); /* 0, or -1 with err */

typedef struct DocUpgradeStep {
    int from;                  /* turns this version into from + 1 */
    DocUpgradeApply apply;     /* NULL: `from` is read as it is, nothing to do */
} DocUpgradeStep;

extern const DocUpgradeStep *const doc_upgrade_steps;
extern const size_t doc_upgrade_step_count;

/* Upgrade `doc` (an object with an integer "version") to `target` with
 * `steps`. *from gets the version it had. 0 when it is now at `target`;
 * -1 with a message when the version is missing, newer than `target`, or
 * no step leads on from it. */
int doc_upgrade(json_t *doc, const DocUpgradeStep *steps, size_t n_steps, int target, int *from, char *err,
                size_t errlen);

#endif
