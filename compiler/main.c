/* main.c — the `ampc` command: the pipeline of compiler/ampc.c, then the
 * three files it writes.
 *
 *   ampc FILE.amp [-o DIR] [--unit NAME] [-I DIR]... [--dump PASS]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "ampc.h"
#include "parser.h"

static void usage(FILE *out)
{
    fputs("usage: ampc FILE.amp [-o DIR] [--unit NAME] [-I DIR]... [--dump PASS]\n"
          "  Compiles the unit of FILE.amp (its last patch, or its last node) to\n"
          "  DIR/NAME.c, DIR/NAME.h and DIR/NAME.json. Exit status 1 on any error.\n"
          "  -o DIR          where to write (default: the current directory)\n"
          "  --unit NAME     compile this patch or node instead\n"
          "  -I DIR          also look for imports in DIR\n"
          "  --dump PASS     print what PASS made (below); write nothing\n"
          "  --check         check only; write nothing\n"
          "  --confine       imports only by relative paths without '..' (ampd's compile service)\n"
          "  --list          list the patches and nodes FILE.amp defines (Faust imports too)\n"
          "  --scalar        one voice at a time instead of four per vector (for comparisons)\n"
          "  --version       print the version\n"
          "  The passes --dump takes, in pipeline order:\n",
          out);
    ampc_dump_usage(out, "    ");
}

static int write_file(const char *dir, const char *name, const char *ext, const char *text, size_t len)
{
    size_t n = strlen(dir) + strlen(name) + strlen(ext) + 3;
    char *path = xmalloc(n);
    snprintf(path, n, "%s/%s%s", dir, name, ext);
    FILE *f = fopen(path, "wb");
    int rc = 0;
    if (!f || fwrite(text, 1, len, f) != len) {
        fprintf(stderr, "ampc: cannot write '%s': %s\n", path, strerror(errno));
        rc = 1;
    }
    if (f && fclose(f) != 0)
        rc = 1;
    free(path);
    return rc;
}

/* Print "patch NAME" / "node NAME" for each unit the file defines, and
 * "node NAME (faust \"FILE\")" for each Faust program it imports. */
static int list_units(const char *file)
{
    Arena a;
    arena_init(&a);
    Diag d;
    diag_init(&d, stderr);
    SourceFile *f = source_load(&a, &d, file);
    Module *m = f ? parse_source(&a, &d, f) : NULL;
    if (m) {
        for (Patch *p = m->patches; p; p = p->next)
            printf("patch %s\n", p->name);
        for (Node *n = m->nodes; n; n = n->next)
            printf("node %s\n", n->name);
        for (Import *im = m->imports; im; im = im->next)
            if (im->faust_as)
                printf("node %s (faust \"%s\")\n", im->faust_as, im->path);
    }
    arena_free(&a);
    return m ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *file = NULL, *outdir = ".";
    const char **includes = xmalloc(sizeof(char *) * ((size_t)argc + 1));
    AmpcOptions opt = { .dump_out = stdout };
    int check_only = 0, list = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-o") && i + 1 < argc) {
            outdir = argv[++i];
        } else if (!strcmp(a, "--unit") && i + 1 < argc) {
            opt.unit = argv[++i];
        } else if (!strcmp(a, "-I") && i + 1 < argc) {
            includes[opt.n_include_dirs++] = argv[++i];
        } else if (!strcmp(a, "--dump") && i + 1 < argc) {
            const char *p = argv[++i];
            opt.dump = ampc_dump_lookup(p);
            if (opt.dump == AMPC_DUMP_NONE) {
                fprintf(stderr, "ampc: --dump takes a pass, not '%s'; the passes:\n", p);
                ampc_dump_usage(stderr, "  ");
                return 2;
            }
        } else if (!strcmp(a, "--list")) {
            list = 1;
        } else if (!strcmp(a, "--scalar")) {
            opt.scalar = 1;
        } else if (!strcmp(a, "--confine")) {
            opt.confined = 1;
        } else if (!strcmp(a, "--check")) {
            check_only = 1;
        } else if (!strcmp(a, "--version")) {
            printf("ampc %s\n", AMPC_VERSION);
            return 0;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "ampc: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (!file) {
            file = a;
        } else {
            fprintf(stderr, "ampc: one input file at a time ('%s' and '%s')\n", file, a);
            return 2;
        }
    }
    if (!file) {
        usage(stderr);
        return 2;
    }
    opt.include_dirs = includes;
    if (list)
        return list_units(file);
    Diag d;
    diag_init(&d, stderr);
    AmpcResult r;
    int rc = ampc_compile_file(file, &opt, &d, &r);
    if (rc == 0 && !check_only && opt.dump == AMPC_DUMP_NONE) {
        mkdir(outdir, 0777);
        rc |= write_file(outdir, r.name, ".c", r.c_text, r.c_len);
        rc |= write_file(outdir, r.name, ".h", r.h_text, r.h_len);
        rc |= write_file(outdir, r.name, ".json", r.json_text, r.json_len);
    }
    if (rc == 0)
        ampc_result_free(&r);
    free(includes);
    return rc ? 1 : 0;
}
