/* fuzz_compiler.c — the libFuzzer harness for the whole compiler: any bytes
 * go through lexer -> parser -> imports -> sema/lowering -> C and JSON
 * emission, as one `fuzz.amp` in the current directory.
 *
 * Built with clang, ASan, UBSan and LeakSanitizer (tests/fuzz.mk), so a
 * crash, an out-of-bounds access, undefined behaviour or a leak of the
 * compilation's memory is a finding. On top of that the harness checks what
 * ampc.h promises, and abort()s when a promise is broken:
 *   - the return value agrees with the error count (1 with errors, 0 without);
 *   - a failed compilation leaves the result empty;
 *   - a successful one gives a name that is a C identifier, a symbol
 *     `amp_<name>_desc`, non-empty NUL-terminated C and header text of the
 *     stated length, and JSON that jansson parses as an object;
 *   - compiling the same text again gives the same bytes (no dates, no
 *     pointers, no uninitialised memory in the output).
 * The second compilation also prints the dump of one pass (ast ... loops) and the
 * third builds the scalar flavour, so those paths are fuzzed too.
 *
 * Imports resolve against the current directory (the top of the tree, where
 * make runs the fuzzer) and the include directory `nodes`, so `import
 * "std/osc.amp";` works. The compiler only reads files, and the harness keeps
 * those reads inside the tree: before compiling it breaks every `..` and every
 * string that starts with `/`, so no import can reach /dev/zero, /proc or a
 * FIFO outside the tree. Diagnostics and dumps go to memory streams.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ampc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const include_dirs[] = { "nodes" };

/* A memory stream to print into; closed and freed by sink_close. */
typedef struct Sink {
    FILE *file;
    char *text;
    size_t len;
} Sink;

static void sink_open(Sink *s)
{
    s->text = NULL;
    s->len = 0;
    s->file = open_memstream(&s->text, &s->len);
    if (!s->file)
        abort();
}

static void sink_close(Sink *s)
{
    fclose(s->file);
    free(s->text);
}

/* Copy the input, making every import path stay inside the tree: each `..`
 * becomes `__`, and a `/` right after a `"` becomes `_`. This is done on all
 * the bytes, not only on string tokens, so that no comment can hide a string
 * from it; outside strings and comments the two never occur in a valid file. */
static char *confine_paths(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    for (size_t i = 0; i + 1 < size; i++) {
        if (text[i] == '.' && text[i + 1] == '.')
            text[i] = text[i + 1] = '_';
        else if (text[i] == '"' && text[i + 1] == '/')
            text[i + 1] = '_';
    }
    return text;
}

/* Text that ampc.h says is NUL-terminated, len bytes long and non-empty. */
static void check_text(const char *text, size_t len)
{
    if (!text || len == 0 || text[len] != 0 || strlen(text) != len)
        abort();
}

/* [A-Za-z_][A-Za-z0-9_]* */
static int is_c_identifier(const char *s)
{
    if (!s || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return 0;
    for (s++; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_'))
            return 0;
    return 1;
}

static void check_result(const AmpcResult *r)
{
    if (!is_c_identifier(r->name) || !r->symbol)
        abort();
    /* symbol == "amp_" name "_desc", for a name of any length (a fixed
     * buffer here once cut a 700-character node name and called the
     * compiler wrong). */
    size_t n = strlen(r->name);
    if (strlen(r->symbol) != n + 9 || strncmp(r->symbol, "amp_", 4) != 0 ||
        strncmp(r->symbol + 4, r->name, n) != 0 || strcmp(r->symbol + 4 + n, "_desc") != 0)
        abort();
    check_text(r->c_text, r->c_len);
    check_text(r->h_text, r->h_len);
    check_text(r->json_text, r->json_len);
    json_error_t error;
    json_t *json = json_loadb(r->json_text, r->json_len, 0, &error);
    if (!json || !json_is_object(json))
        abort();
    json_decref(json);
}

static int same_text(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

static int compile(const char *text, size_t size, const AmpcOptions *opt, AmpcResult *result)
{
    Sink diagnostics;
    sink_open(&diagnostics);
    Diag diag;
    diag_init(&diag, diagnostics.file);
    int rc = ampc_compile_text("fuzz.amp", text, size, opt, &diag, result);
    sink_close(&diagnostics);
    if (rc != 0 && rc != 1)
        abort();
    if ((rc == 0) != (diag.errors == 0))
        abort();
    if (rc != 0 && (result->name || result->symbol || result->c_text || result->h_text || result->json_text))
        abort();
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = confine_paths(data, size);
    AmpcOptions opt = { .include_dirs = include_dirs, .n_include_dirs = 1 };
    AmpcResult first;
    if (compile(text, size, &opt, &first) != 0) {
        free(text);
        return 0;
    }
    check_result(&first);

    /* Again, printing one of the dumps (which one follows from the size, so
     * that a reproducer repeats it): the same bytes must come out. */
    static const AmpcDump dumps[] = { AMPC_DUMP_AST, AMPC_DUMP_SEMA, AMPC_DUMP_SCHEDULE, AMPC_DUMP_GRAPH,
                                      AMPC_DUMP_RATES, AMPC_DUMP_PLAN, AMPC_DUMP_FLUSH, AMPC_DUMP_LOOPS };
    Sink dump;
    sink_open(&dump);
    opt.dump = dumps[size % (sizeof dumps / sizeof dumps[0])];
    opt.dump_out = dump.file;
    AmpcResult again;
    if (compile(text, size, &opt, &again) != 0)
        abort();
    sink_close(&dump);
    if (!same_text(first.c_text, first.c_len, again.c_text, again.c_len) ||
        !same_text(first.h_text, first.h_len, again.h_text, again.h_len) ||
        !same_text(first.json_text, first.json_len, again.json_text, again.json_len))
        abort();
    ampc_result_free(&again);
    ampc_result_free(&first);

    /* The scalar flavour (one voice per lane group) of the same unit. */
    AmpcOptions scalar = { .include_dirs = include_dirs, .n_include_dirs = 1, .scalar = 1 };
    AmpcResult flat;
    if (compile(text, size, &scalar, &flat) != 0)
        abort();
    check_result(&flat);
    ampc_result_free(&flat);
    free(text);
    return 0;
}
