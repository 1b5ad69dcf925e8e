/* doc_upgrade.c — the step runner of doc_upgrade.h and the list of steps. */
#include "doc_upgrade.h"

#include <stdio.h>

/* Rows {from, apply} in order of `from`. A row without `apply` marks a
 * version the engine's reader reads as it is (it means today what it
 * meant when written): such a document is kept at its version. Version 1
 * is read as it is next to version 2 (PROJECT.md, "Version 2"). */
static const DocUpgradeStep step_list[] = { { 1, NULL } };
const DocUpgradeStep *const doc_upgrade_steps = step_list;
const size_t doc_upgrade_step_count = sizeof step_list / sizeof step_list[0];

static const DocUpgradeStep *find_step(const DocUpgradeStep *steps, size_t n, int from)
{
    for (size_t i = 0; i < n; i++)
        if (steps[i].from == from)
            return &steps[i];
    return NULL;
}

int doc_upgrade(json_t *doc, const DocUpgradeStep *steps, size_t n_steps, int target, int *from, char *err,
                size_t errlen)
{
    json_t *v = json_object_get(doc, "version");
    if (!json_is_integer(v)) {
        snprintf(err, errlen, "version: required, an integer");
        return -1;
    }
    json_int_t version = json_integer_value(v);
    *from = version < 0 || version > target ? -1 : (int)version;
    if (version > target) {
        snprintf(err, errlen, "version: %lld is newer than this server reads (%d)", (long long)version, target);
        return -1;
    }
    while (version < target) {
        const DocUpgradeStep *step = find_step(steps, n_steps, (int)version);
        if (!step) {
            snprintf(err, errlen, "version: %lld is not supported (no upgrade from it)", (long long)version);
            return -1;
        }
        if (!step->apply)               /* read as it is */
            return 0;
        char why[256] = "";
        if (step->apply(doc, why, sizeof why) != 0) {
            snprintf(err, errlen, "upgrading from version %lld: %s", (long long)version, why);
            return -1;
        }
        version++;
        json_object_set_new(doc, "version", json_integer(version));
    }
    return 0;
}
