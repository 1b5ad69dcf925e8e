/* notes.c — parse note lists and turn them into sorted note commands; see notes.h. */
#include "util.h"
#include "notes.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_separator(char c)
{
    return c == ',' || isspace((unsigned char)c);
}

/* key := number | letter ['#' | 'b'] octave. Advances *s past the key.
 * Returns 0 and the MIDI key, or -1. */
static int parse_key(const char **s, int *key)
{
    static const int semitone[7] = { 9, 11, 0, 2, 4, 5, 7 };   /* A B C D E F G */
    const char *p = *s;
    long k;
    if (isdigit((unsigned char)*p)) {
        char *end;
        k = strtol(p, &end, 10);
        p = end;
    } else {
        int letter = toupper((unsigned char)*p);
        if (letter < 'A' || letter > 'G')
            return -1;
        p++;
        k = semitone[letter - 'A'];
        if (*p == '#') {
            k++;
            p++;
        } else if (*p == 'b') {
            k--;
            p++;
        }
        int negative = *p == '-';
        if (negative)
            p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        long octave = 0;
        while (isdigit((unsigned char)*p) && octave < 100)
            octave = octave * 10 + (*p++ - '0');
        if (negative)
            octave = -octave;
        k += 12 * (octave + 1);
    }
    if (k < 0 || k > 127)
        return -1;
    *key = (int)k;
    *s = p;
    return 0;
}

/* A finite decimal number; advances *s. */
static int parse_number(const char **s, double *v)
{
    const char *p = *s;
    if (!(isdigit((unsigned char)*p) || *p == '.' || *p == '-' || *p == '+'))
        return -1;
    char *end;
    *v = strtod(p, &end);
    if (end == p || !isfinite(*v))
        return -1;
    *s = end;
    return 0;
}

static int parse_note(const char *tok, int toklen, Note *note, char *err, size_t errlen)
{
    char buf[128];
    if (toklen >= (int)sizeof buf)
        return fail(err, errlen, "note '%.40s...' is too long", tok);
    memcpy(buf, tok, (size_t)toklen);
    buf[toklen] = '\0';
    const char *p = buf;
    static const char form[] = "expected KEY@START:END[/VELOCITY], e.g. 60@0:1 or C#4@0.5:1.5/0.7";

    if (parse_key(&p, &note->key))
        return fail(err, errlen, "bad note '%s': the key must be 0..127 or a name like C4, F#5, Bb3 (%s)",
                    buf, form);
    if (*p++ != '@')
        return fail(err, errlen, "bad note '%s': %s", buf, form);
    if (parse_number(&p, &note->start))
        return fail(err, errlen, "bad note '%s': bad start time (%s)", buf, form);
    if (*p++ != ':')
        return fail(err, errlen, "bad note '%s': %s", buf, form);
    if (parse_number(&p, &note->end))
        return fail(err, errlen, "bad note '%s': bad end time (%s)", buf, form);
    note->vel = NOTES_DEFAULT_VELOCITY;
    if (*p == '/') {
        p++;
        double v;
        if (parse_number(&p, &v) || v < 0.0 || v > 1.0)
            return fail(err, errlen, "bad note '%s': the velocity must be a number in [0, 1]", buf);
        note->vel = (float)v;
    }
    if (*p != '\0')
        return fail(err, errlen, "bad note '%s': unexpected '%s' (%s)", buf, p, form);
    if (note->start < 0.0)
        return fail(err, errlen, "bad note '%s': starts before 0 s", buf);
    if (!(note->end > note->start))
        return fail(err, errlen, "bad note '%s': must end after it starts", buf);
    if (note->end > NOTES_MAX_SECONDS)
        return fail(err, errlen, "bad note '%s': ends after %g s", buf, NOTES_MAX_SECONDS);
    return 0;
}

int notes_parse(const char *text, NoteList *out, char *err, size_t errlen)
{
    out->notes = NULL;
    out->n = 0;
    int cap = 0;
    const char *p = text ? text : "";
    for (;;) {
        while (*p && is_separator(*p))
            p++;
        if (!*p)
            return 0;
        const char *tok = p;
        while (*p && !is_separator(*p))
            p++;
        if (out->n == cap) {
            int bigger = cap ? cap * 2 : 16;
            Note *n = realloc(out->notes, (size_t)bigger * sizeof *n);
            if (!n) {
                notes_free(out);
                return fail(err, errlen, "out of memory");
            }
            out->notes = n;
            cap = bigger;
        }
        if (parse_note(tok, (int)(p - tok), &out->notes[out->n], err, errlen)) {
            notes_free(out);
            return -1;
        }
        out->n++;
    }
}

void notes_free(NoteList *list)
{
    free(list->notes);
    list->notes = NULL;
    list->n = 0;
}

double notes_end(const NoteList *list)
{
    double end = 0.0;
    for (int i = 0; i < list->n; i++)
        if (list->notes[i].end > end)
            end = list->notes[i].end;
    return end;
}

/* The note id of a note_on or note_off (both hold it at the same place,
 * but say so by name). */
static uint32_t note_id_of(const Command *c)
{
    return c->header.type == CMD_NOTE_OFF ? c->note_off.note_id : c->note_on.note_id;
}

/* Sort order: frame, then offs before ons, then list order (note_id). */
static int command_order(const void *a, const void *b)
{
    const Command *x = a, *y = b;
    if (x->header.time != y->header.time)
        return x->header.time < y->header.time ? -1 : 1;
    int kx = x->header.type == CMD_NOTE_OFF ? 0 : 1;
    int ky = y->header.type == CMD_NOTE_OFF ? 0 : 1;
    if (kx != ky)
        return kx - ky;
    uint32_t ix = note_id_of(x), iy = note_id_of(y);
    return (ix > iy) - (ix < iy);
}

Command *notes_to_commands(const NoteList *list, double sample_rate, int *n_commands)
{
    *n_commands = 0;
    if (list->n <= 0)
        return NULL;
    Command *ev = calloc((size_t)list->n * 2, sizeof *ev);
    if (!ev)
        return NULL;
    for (int i = 0; i < list->n; i++) {
        const Note *note = &list->notes[i];
        long on = (long)llround(note->start * sample_rate);
        long off = (long)llround(note->end * sample_rate);
        if (off <= on)
            off = on + 1;
        ev[2 * i] = host_note_on(on, i, note->key, note->vel);
        ev[2 * i + 1] = host_note_off(off, i);
    }
    qsort(ev, (size_t)list->n * 2, sizeof *ev, command_order);
    *n_commands = list->n * 2;
    return ev;
}
