/* diag.c — print diagnostics in the chibicc style; see diag.h. */
#include "diag.h"

#include <stdarg.h>
#include <string.h>

void diag_init(Diag *d, FILE *out)
{
    d->out = out;
    d->errors = 0;
    d->max_errors = 50;
}

/* Print the line that holds loc and a caret under its column. Tabs in the
 * prefix are kept so that the caret lines up in a terminal. */
static void show_line(FILE *out, Loc loc)
{
    if (!loc.file || !loc.file->text)
        return;
    const char *text = loc.file->text;
    size_t off = loc.offset <= loc.file->len ? loc.offset : loc.file->len;
    size_t start = off;
    while (start > 0 && text[start - 1] != '\n')
        start--;
    size_t end = off;
    while (end < loc.file->len && text[end] != '\n' && text[end] != '\r')
        end++;
    fprintf(out, "%.*s\n", (int)(end - start), text + start);
    for (size_t i = start; i < off; i++)
        fputc(text[i] == '\t' ? '\t' : ' ', out);
    fputs("^\n", out);
}

static void report(Diag *d, Loc loc, const char *kind, const char *fmt, va_list ap)
{
    if (!d->out)
        return;
    const char *path = loc.file ? loc.file->path : "<input>";
    fprintf(d->out, "%s:%d:%d: %s: ", path, loc.line, loc.col, kind);
    vfprintf(d->out, fmt, ap);
    fputc('\n', d->out);
    show_line(d->out, loc);
}

void diag_error(Diag *d, Loc loc, const char *fmt, ...)
{
    d->errors++;
    if (d->max_errors && d->errors > d->max_errors)
        return;
    va_list ap;
    va_start(ap, fmt);
    report(d, loc, "error", fmt, ap);
    va_end(ap);
    if (d->out && d->max_errors && d->errors == d->max_errors)
        fprintf(d->out, "too many errors; stopping here\n");
}

void diag_note(Diag *d, Loc loc, const char *fmt, ...)
{
    if (d->max_errors && d->errors > d->max_errors)
        return;
    va_list ap;
    va_start(ap, fmt);
    report(d, loc, "note", fmt, ap);
    va_end(ap);
}

void diag_plain(Diag *d, const char *fmt, ...)
{
    d->errors++;
    if (!d->out)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("error: ", d->out);
    vfprintf(d->out, fmt, ap);
    fputc('\n', d->out);
    va_end(ap);
}
