/* diag.h — diagnostics: `file:line:col: error: message`, the source line, a caret.
 *
 * Every phase reports through here. Messages go to a Diag sink (stderr for
 * the command line, a memory buffer for tests, the fuzzer and the server),
 * and the sink counts errors so that the driver can stop between phases.
 */
#ifndef AMP_DIAG_H
#define AMP_DIAG_H

#include <stdio.h>
#include "ast.h"

typedef struct Diag {
    FILE *out;             /* where messages are printed; NULL to only count */
    int errors;
    int max_errors;        /* stop printing after this many (0: no limit) */
} Diag;

void diag_init(Diag *d, FILE *out);
void diag_error(Diag *d, Loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void diag_note(Diag *d, Loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* An error with no source position (a file that cannot be read, ...). */
void diag_plain(Diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
