/* project_read.c — JSON text -> Project (see project_read.h; the format is
 * runtime/formats/PROJECT.md). json.c parses (our reader, the same values
 * and syntax errors as jansson's, so this file builds into engine.wasm
 * too); this file checks the structure, the types and the ranges, and
 * fills the structs of project.h. The jv_* calls are jansson's names with
 * jv_ for json_ (jv_object_get, jv_is_integer, ...) and JvValue for json_t.
 *
 * Validation walks the document with a path buffer ("tracks[2].clips[0]
 * .notes[3].key") so every message names the field it is about; unknown
 * fields are errors (a typo is never silently ignored) except "ui", which
 * the web app may fill with anything. Fields that only make sense once a
 * patch is known (a param's name and range) are checked later, by
 * project_resolve.c, which reports them with the paths kept here (`at`).
 */
#include "project_read.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"

#define PROJECT_MAX_FILE_BYTES (64u << 20)   /* a project file this large is refused */

/* ---- error context: the JSON path of what is being read ------------------ */

typedef struct ProjectReader {
    JvDoc *doc;                         /* the parsed text; owns its strings */
    char *err;                          /* the caller's message buffer */
    size_t errlen;
    char path[PROJECT_MAX_JSON_PATH];   /* where the reader is: "tracks[2].clips[0]" */
    size_t len;                         /* strlen(path) */
    int version;                        /* the document's "version", once read */
} ProjectReader;

static size_t push_key(ProjectReader *rd, const char *key)
{
    size_t old = rd->len;
    int n = snprintf(rd->path + rd->len, sizeof rd->path - rd->len, "%s%s", rd->len ? "." : "", key);
    if (n > 0)
        rd->len = rd->len + (size_t)n < sizeof rd->path ? rd->len + (size_t)n : sizeof rd->path - 1;
    return old;
}

static size_t push_index(ProjectReader *rd, size_t i)
{
    size_t old = rd->len;
    int n = snprintf(rd->path + rd->len, sizeof rd->path - rd->len, "[%zu]", i);
    if (n > 0)
        rd->len = rd->len + (size_t)n < sizeof rd->path ? rd->len + (size_t)n : sizeof rd->path - 1;
    return old;
}

static void pop(ProjectReader *rd, size_t old)
{
    rd->len = old;
    rd->path[old] = '\0';
}

static int err_at(ProjectReader *rd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int err_at(ProjectReader *rd, const char *fmt, ...)
{
    if (!rd->err || !rd->errlen)
        return -1;
    int n = snprintf(rd->err, rd->errlen, "%s: ", rd->len ? rd->path : "project");
    if (n < 0 || (size_t)n >= rd->errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rd->err + n, rd->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* The current path, kept for messages after validation (resolve). */
static char *path_copy(const ProjectReader *rd)
{
    return strdup(rd->len ? rd->path : "project");
}

/* A short rendering of a JSON value for "got ..." in messages. */
static void show(const JvValue *v, char *buf, size_t len)
{
    char text[48];
    if (jv_dump(v, text, sizeof text) > 40)
        snprintf(buf, len, "%.37s...", text);
    else
        snprintf(buf, len, "%s", text);
}

/* ---- typed field readers ----------------------------------------------------- */

/* "expected <what>, got <v>", at key (NULL: at the current path). */
static int wrong_type(ProjectReader *rd, const char *key, const JvValue *v, const char *what)
{
    size_t old = key ? push_key(rd, key) : rd->len;
    char got[64];
    show(v, got, sizeof got);
    err_at(rd, "expected %s, got %s", what, got);
    pop(rd, old);
    return -1;
}

static int check_keys(ProjectReader *rd, JvValue *obj, const char *const *allowed)
{
    const char *key;
    JvValue *value;
    jv_object_foreach(obj, key, value) {
        int ok = !strcmp(key, "ui");
        for (int i = 0; allowed[i] && !ok; i++)
            ok = !strcmp(key, allowed[i]);
        if (!ok) {
            char list[400] = "";
            for (int i = 0; allowed[i]; i++) {
                size_t used = strlen(list);
                snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", allowed[i]);
            }
            return err_at(rd, "unknown field \"%s\" (known: %s)", key, list);
        }
    }
    return 0;
}

/* obj[key] as a number in [lo, hi]; absent: *out = def, or an error when
 * required. */
static int get_number(ProjectReader *rd, JvValue *obj, const char *key, int required, double def, double lo, double hi,
                      double *out)
{
    JvValue *v = jv_object_get(obj, key);
    if (!v) {
        if (required)
            return err_at(rd, "missing \"%s\"", key);
        *out = def;
        return 0;
    }
    if (!jv_is_number(v))
        return wrong_type(rd, key, v, "a number");
    size_t old = push_key(rd, key);
    double x = jv_number_value(v);
    if (!(x >= lo && x <= hi)) {
        err_at(rd, "%g is out of range (%g to %g)", x, lo, hi);
        return -1;
    }
    pop(rd, old);
    *out = x;
    return 0;
}

static int get_int(ProjectReader *rd, JvValue *obj, const char *key, int required, int def, int lo, int hi, int *out)
{
    JvValue *v = jv_object_get(obj, key);
    if (!v) {
        if (required)
            return err_at(rd, "missing \"%s\"", key);
        *out = def;
        return 0;
    }
    if (!jv_is_integer(v)) {
        char what[64];
        snprintf(what, sizeof what, "a whole number from %d to %d", lo, hi);
        return wrong_type(rd, key, v, what);
    }
    size_t old = push_key(rd, key);
    long long x = jv_integer_value(v);
    if (x < lo || x > hi) {
        err_at(rd, "%lld is out of range (%d to %d)", (long long)x, lo, hi);
        return -1;
    }
    pop(rd, old);
    *out = (int)x;
    return 0;
}

static int get_bool(ProjectReader *rd, JvValue *obj, const char *key, int def, int *out)
{
    JvValue *v = jv_object_get(obj, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!jv_is_boolean(v))
        return wrong_type(rd, key, v, "true or false");
    *out = jv_is_true(v);
    return 0;
}

static int get_string(ProjectReader *rd, JvValue *obj, const char *key, int required, const char **out)
{
    JvValue *v = jv_object_get(obj, key);
    *out = NULL;
    if (!v) {
        if (required)
            return err_at(rd, "missing \"%s\"", key);
        return 0;
    }
    if (!jv_is_string(v) || jv_string_length(v) == 0)
        return wrong_type(rd, key, v, "a non-empty string");
    *out = jv_string_value(v);
    return 0;
}

/* One of `names` (NULL-terminated), as its index. */
static int get_choice(ProjectReader *rd, JvValue *obj, const char *key, int required, int def, const char *const *names,
                      int *out)
{
    const char *s;
    if (get_string(rd, obj, key, required, &s))
        return -1;
    if (!s) {
        *out = def;
        return 0;
    }
    for (int i = 0; names[i]; i++) {
        if (!strcmp(s, names[i])) {
            *out = i;
            return 0;
        }
    }
    char list[200] = "";
    for (int i = 0; names[i]; i++) {
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s\"%s\"", i == 0 ? "" : names[i + 1] ? ", " : " or ",
                 names[i]);
    }
    size_t old = push_key(rd, key);
    err_at(rd, "expected %s, got \"%s\"", list, s);
    pop(rd, old);
    return -1;
}

/* obj[key] as an array (absent: empty); *n its length. */
static int get_array(ProjectReader *rd, JvValue *obj, const char *key, int required, JvValue **arr, size_t *n)
{
    JvValue *v = jv_object_get(obj, key);
    *arr = NULL;
    *n = 0;
    if (!v) {
        if (required)
            return err_at(rd, "missing \"%s\"", key);
        return 0;
    }
    if (!jv_is_array(v))
        return wrong_type(rd, key, v, "an array");
    *arr = v;
    *n = jv_array_size(v);
    return 0;
}

static int want_object(ProjectReader *rd, JvValue *v)
{
    if (jv_is_object(v))
        return 0;
    return wrong_type(rd, NULL, v, "an object");
}

static void *alloc_array(ProjectReader *rd, size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        err_at(rd, "out of memory");
    return p;
}

/* ---- the document ------------------------------------------------------------ */

#define BEAT_MAX 1e6
static const char *const kind_names[] = { "instrument", "audio", "bus", NULL };  /* EngineTrackKind - 1 */
static const char *const mode_names[] = { "poly", "mono", "legato", NULL };
static const char *const priority_names[] = { "last", "low", "high", NULL };

/* {"library": id, "revision": n, "unit"?}: a patch of ampd's patch
 * library, pinned to one of its revisions. The id is opaque here (ampd
 * checks it names a patch of the document's owner). */
static int read_library_patch(ProjectReader *rd, JvValue *v, ProjectPatch *pp)
{
    static const char *const keys[] = { "library", "revision", "unit", NULL };
    if (check_keys(rd, v, keys) || get_string(rd, v, "library", 1, &pp->library) ||
        get_int(rd, v, "revision", 1, 0, 1, INT_MAX, &pp->library_revision) ||
        get_string(rd, v, "unit", 0, &pp->unit))
        return -1;
    if (strlen(pp->library) > PROJECT_LIBRARY_ID_MAX) {
        size_t old = push_key(rd, "library");
        err_at(rd, "a library id is at most %d bytes", PROJECT_LIBRARY_ID_MAX);
        pop(rd, old);
        return -1;
    }
    return 0;
}

int project_builtin_id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n <= 4 || n > PROJECT_BUILTIN_ID_MAX || strcmp(id + n - 4, ".amp") != 0)
        return 0;
    int segment_start = 1;
    for (const char *c = id; *c; c++) {
        if (*c == '/') {
            if (segment_start)
                return 0;
            segment_start = 1;
            continue;
        }
        int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
                 *c == '-' || *c == '+' || (*c == '.' && !segment_start);
        if (!ok)
            return 0;
        segment_start = 0;
    }
    return !segment_start;
}

/* {"builtin": path, "unit"?}: a patch of the built-in library (ampd's
 * --library folder, nodes/ in the repository; the patches built into
 * engine.wasm), named by its path there. */
static int read_builtin_patch(ProjectReader *rd, JvValue *v, ProjectPatch *pp)
{
    static const char *const keys[] = { "builtin", "unit", NULL };
    if (check_keys(rd, v, keys) || get_string(rd, v, "builtin", 1, &pp->builtin) ||
        get_string(rd, v, "unit", 0, &pp->unit))
        return -1;
    if (!project_builtin_id_valid(pp->builtin))
        return wrong_type(rd, "builtin", jv_object_get(v, "builtin"),
                          "a path in the built-in library such as \"epiano.amp\" (folders and a .amp file of "
                          "letters, digits and _ . + -, relative, no segment starting with '.')");
    return 0;
}

/* "patch": "file.amp", {"file": ..., "unit": ...}, {"library": ...,
 * "revision": ..., "unit": ...} or {"builtin": ..., "unit": ...}, with
 * "params" beside it in `owner`. */
static int read_patch(ProjectReader *rd, JvValue *owner, ProjectPatch *pp)
{
    JvValue *v = jv_object_get(owner, "patch");
    if (!v)
        return err_at(rd, "missing \"patch\"");
    size_t old = push_key(rd, "patch");
    pp->at = path_copy(rd);
    if (jv_is_string(v)) {
        pp->file = jv_string_value(v);
    } else if (jv_is_object(v) && jv_object_get(v, "library")) {
        if (read_library_patch(rd, v, pp))
            return -1;
    } else if (jv_is_object(v) && jv_object_get(v, "builtin")) {
        if (read_builtin_patch(rd, v, pp))
            return -1;
    } else if (jv_is_object(v)) {
        static const char *const keys[] = { "file", "unit", NULL };
        if (check_keys(rd, v, keys) || get_string(rd, v, "file", 1, &pp->file) ||
            get_string(rd, v, "unit", 0, &pp->unit))
            return -1;
    } else {
        return wrong_type(rd, NULL, v, "a file name, {\"file\", \"unit\"} or {\"library\", \"revision\", \"unit\"} "
                                       "(or {\"builtin\", \"unit\"})");
    }
    if (!pp->library && !pp->builtin && (!pp->file || !*pp->file))
        return err_at(rd, "empty file name");
    pop(rd, old);

    JvValue *params = jv_object_get(owner, "params");
    if (!params)
        return 0;
    old = push_key(rd, "params");
    if (want_object(rd, params))
        return -1;
    size_t n_params = jv_object_size(params);
    pp->params = alloc_array(rd, n_params, sizeof *pp->params);
    if (!pp->params)
        return -1;
    pp->n_params = (int)n_params;
    const char *key;
    JvValue *value;
    int i = 0;
    jv_object_foreach(params, key, value) {
        size_t o2 = push_key(rd, key);
        ProjectParam *pa = &pp->params[i++];
        pa->name = key;
        pa->index = -1;
        pa->at = path_copy(rd);
        if (!jv_is_number(value)) {
            char got[64];
            show(value, got, sizeof got);
            return err_at(rd, "expected a number, got %s", got);
        }
        pa->value = jv_number_value(value);
        pop(rd, o2);
    }
    pop(rd, old);
    return 0;
}

static int note_order(const void *a, const void *b)
{
    const ProjectNote *x = a, *y = b;
    if (x->start_beat != y->start_beat)
        return x->start_beat < y->start_beat ? -1 : 1;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->length_beats < y->length_beats ? -1 : x->length_beats > y->length_beats;
}

/* ---- version 2 fields (each in its own function) ------------------------------ */

/* A field that version 1 documents do not have: there it is unknown, as
 * it always was. */
static int only_in_version2(ProjectReader *rd, JvValue *obj, const char *key)
{
    if (rd->version >= 2 || !jv_object_get(obj, key))
        return 0;
    return err_at(rd, "unknown field \"%s\" (a version 2 field; this document is version %d)", key, rd->version);
}

/* "loop_beats": 0 (no loop) or at least ENGINE_LOOP_MIN. */
static int read_clip_loop(ProjectReader *rd, JvValue *v, ProjectClip *clip)
{
    if (only_in_version2(rd, v, "loop_beats") ||
        get_number(rd, v, "loop_beats", 0, 0, 0, BEAT_MAX, &clip->loop_beats))
        return -1;
    if (clip->loop_beats != 0 && clip->loop_beats < ENGINE_LOOP_MIN) {
        size_t old = push_key(rd, "loop_beats");
        err_at(rd, "%g is shorter than a loop may be (%g beats; 0: no loop)", clip->loop_beats, ENGINE_LOOP_MIN);
        pop(rd, old);
        return -1;
    }
    return 0;
}

static int sig_order(const void *a, const void *b)
{
    const ProjectSignature *x = a, *y = b;
    return x->beat < y->beat ? -1 : x->beat > y->beat;
}

/* "time_signature_changes": [{"beat", "num", "den"}], any order, each on
 * a bar line of the signature before it. */
static int read_signature_changes(ProjectReader *rd, JvValue *root, Project *p)
{
    JvValue *arr;
    size_t n;
    if (only_in_version2(rd, root, "time_signature_changes") ||
        get_array(rd, root, "time_signature_changes", 0, &arr, &n))
        return -1;
    p->sig_changes = alloc_array(rd, n, sizeof *p->sig_changes);
    if (!p->sig_changes)
        return -1;
    p->n_sig_changes = (int)n;
    size_t old = push_key(rd, "time_signature_changes");
    if (n > 4096)
        return err_at(rd, "%zu entries, at most 4096", n);
    static const char *const keys[] = { "beat", "num", "den", NULL };
    for (size_t i = 0; i < n; i++) {
        size_t o2 = push_index(rd, i);
        JvValue *sv = jv_array_get(arr, i);
        ProjectSignature *sg = &p->sig_changes[i];
        if (want_object(rd, sv) || check_keys(rd, sv, keys) ||
            get_number(rd, sv, "beat", 1, 0, 1e-9, BEAT_MAX, &sg->beat) ||
            get_int(rd, sv, "num", 1, 0, 1, 64, &sg->num) || get_int(rd, sv, "den", 1, 0, 1, 64, &sg->den))
            return -1;
        if (sg->den & (sg->den - 1)) {
            push_key(rd, "den");
            return err_at(rd, "%d is not a power of two (1, 2, 4, ... 64)", sg->den);
        }
        pop(rd, o2);
    }
    qsort(p->sig_changes, n, sizeof *p->sig_changes, sig_order);
    double from = 0.0;
    int num = p->sig_num, den = p->sig_den;
    for (size_t i = 0; i < n; i++) {
        const ProjectSignature *sg = &p->sig_changes[i];
        double bar = num * 4.0 / den;
        double bars = (sg->beat - from) / bar;
        if (sg->beat == from || fmod(sg->beat - from, bar) != 0.0)
            return err_at(rd, "the change at beat %g is not on a bar line of %d/%d (bars from beat %g: %g, %g, ...)",
                          sg->beat, num, den, from, from + floor(bars) * bar, from + (floor(bars) + 1) * bar);
        from = sg->beat;
        num = sg->num;
        den = sg->den;
    }
    pop(rd, old);
    return 0;
}

/* "metronome": {"enabled", "gain_db", "export"}. */
static int read_metronome(ProjectReader *rd, JvValue *root, Project *p)
{
    p->metronome_gain_db = 0;
    JvValue *m = jv_object_get(root, "metronome");
    if (only_in_version2(rd, root, "metronome"))
        return -1;
    if (!m)
        return 0;
    static const char *const keys[] = { "enabled", "gain_db", "export", NULL };
    size_t old = push_key(rd, "metronome");
    if (want_object(rd, m) || check_keys(rd, m, keys) || get_bool(rd, m, "enabled", 0, &p->metronome_enabled) ||
        get_number(rd, m, "gain_db", 0, 0, PROJECT_DB_MIN, PROJECT_DB_MAX, &p->metronome_gain_db) ||
        get_bool(rd, m, "export", 0, &p->metronome_export))
        return -1;
    pop(rd, old);
    return 0;
}

/* "tail": {"until_db", "max_seconds", "hold_seconds"}; in version 2 the
 * rule holds unless "tail_seconds" fixes the tail (never both). */
static int read_tail(ProjectReader *rd, JvValue *root, Project *p)
{
    p->tail_until_db = PROJECT_TAIL_UNTIL_DB;
    p->tail_max_seconds = PROJECT_TAIL_MAX_SECONDS;
    p->tail_hold_seconds = PROJECT_TAIL_HOLD_SECONDS;
    if (only_in_version2(rd, root, "tail"))
        return -1;
    JvValue *t = jv_object_get(root, "tail");
    p->tail_rule = rd->version >= 2 && !jv_object_get(root, "tail_seconds");
    if (!t)
        return 0;
    if (!p->tail_rule)
        return err_at(rd, "\"tail\" and \"tail_seconds\" do not go together (the rule, or a fixed tail)");
    static const char *const keys[] = { "until_db", "max_seconds", "hold_seconds", NULL };
    size_t old = push_key(rd, "tail");
    if (want_object(rd, t) || check_keys(rd, t, keys) ||
        get_number(rd, t, "until_db", 0, PROJECT_TAIL_UNTIL_DB, -200, 0, &p->tail_until_db) ||
        get_number(rd, t, "max_seconds", 0, PROJECT_TAIL_MAX_SECONDS, 0, 600, &p->tail_max_seconds) ||
        get_number(rd, t, "hold_seconds", 0, PROJECT_TAIL_HOLD_SECONDS, 0, 60, &p->tail_hold_seconds))
        return -1;
    pop(rd, old);
    return 0;
}

/* ---- clips ------------------------------------------------------------------------ */

static int read_clip(ProjectReader *rd, JvValue *v, ProjectClip *clip)
{
    static const char *const keys[] = { "start_beat", "length_beats", "loop_beats", "notes", NULL };
    if (want_object(rd, v) || check_keys(rd, v, keys) ||
        get_number(rd, v, "start_beat", 1, 0, 0, BEAT_MAX, &clip->start_beat) ||
        get_number(rd, v, "length_beats", 1, 0, 1e-9, BEAT_MAX, &clip->length_beats) || read_clip_loop(rd, v, clip))
        return -1;
    JvValue *notes;
    size_t n;
    if (get_array(rd, v, "notes", 0, &notes, &n))
        return -1;
    clip->notes = alloc_array(rd, n, sizeof *clip->notes);
    if (!clip->notes)
        return -1;
    clip->n_notes = (int)n;
    size_t old = push_key(rd, "notes");
    for (size_t i = 0; i < n; i++) {
        size_t o2 = push_index(rd, i);
        JvValue *nv = jv_array_get(notes, i);
        ProjectNote *note = &clip->notes[i];
        static const char *const note_keys[] = { "key", "start_beat", "length_beats", "velocity", NULL };
        if (want_object(rd, nv) || check_keys(rd, nv, note_keys) || get_int(rd, nv, "key", 1, 0, 0, 127, &note->key) ||
            get_number(rd, nv, "start_beat", 1, 0, 0, BEAT_MAX, &note->start_beat) ||
            get_number(rd, nv, "length_beats", 1, 0, 1e-9, BEAT_MAX, &note->length_beats) ||
            get_number(rd, nv, "velocity", 0, 0.8, 0, 1, &note->velocity))
            return -1;
        pop(rd, o2);
    }
    pop(rd, old);
    qsort(clip->notes, n, sizeof *clip->notes, note_order);
    return 0;
}

/* The folder beside the project where "asset" references are found: the
 * layout of ampd's data folder, assets/ab/<hash>. */
#define ASSET_FOLDER "assets"
#define ASSET_HASH_HEX 64

/* The sample of a region: "file", a WAV path, or "asset", the SHA-256 of
 * the file's content in lowercase hex (ampd stores uploads by it), which
 * names the file assets/ab/<hash> beside the project. Either way r->file is
 * the path the resolver opens, relative to the project's folder. */
static int read_region_sample(ProjectReader *rd, JvValue *v, ProjectRegion *r)
{
    JvValue *asset = jv_object_get(v, "asset");
    if (!asset) {
        if (!jv_object_get(v, "file"))
            return err_at(rd, "missing \"file\" (or \"asset\")");
        return get_string(rd, v, "file", 1, &r->file);
    }
    if (jv_object_get(v, "file"))
        return err_at(rd, "a region names its sample by \"file\" or by \"asset\", not both");
    const char *hash;
    if (get_string(rd, v, "asset", 1, &hash))
        return -1;
    size_t n = strspn(hash, "0123456789abcdef");
    if (n != ASSET_HASH_HEX || hash[n] != '\0')
        return wrong_type(rd, "asset", asset, "a SHA-256 in 64 lowercase hex digits");
    /* The path is kept in the document's arena (p->doc), which owns every
     * string the Project points at. */
    char path[sizeof ASSET_FOLDER + 3 + ASSET_HASH_HEX + 1];
    snprintf(path, sizeof path, ASSET_FOLDER "/%.2s/%s", hash, hash);
    r->asset = hash;
    r->file = jv_keep(rd->doc, path);
    if (!r->file)
        return err_at(rd, "out of memory");
    return 0;
}

static int read_region(ProjectReader *rd, JvValue *v, ProjectRegion *r)
{
    static const char *const keys[] = { "file", "asset", "start_beat", "offset_seconds", "length_seconds", "gain_db",
                                        NULL };
    r->at = path_copy(rd);
    r->sample = -1;
    return want_object(rd, v) || check_keys(rd, v, keys) || read_region_sample(rd, v, r) ||
                   get_number(rd, v, "start_beat", 1, 0, 0, BEAT_MAX, &r->start_beat) ||
                   get_number(rd, v, "offset_seconds", 0, 0, 0, 86400, &r->offset_seconds) ||
                   get_number(rd, v, "length_seconds", 0, 0, 0, 86400, &r->length_seconds) ||
                   get_number(rd, v, "gain_db", 0, 0, PROJECT_DB_MIN, PROJECT_DB_MAX, &r->gain_db)
               ? -1
               : 0;
}

/* "samples": {"SLOT": {"file": ...} or {"asset": ...}, ...}: the WAVs
 * bound to the instrument's sample slots. */
static int read_sample_slots(ProjectReader *rd, JvValue *owner, ProjectTrack *t)
{
    static const char *const keys[] = { "file", "asset", NULL };
    JvValue *samples = jv_object_get(owner, "samples");
    if (!samples)
        return 0;
    size_t old = push_key(rd, "samples");
    if (want_object(rd, samples))
        return -1;
    size_t n = jv_object_size(samples);
    if (n > ENGINE_SAMPLE_SLOTS)
        return err_at(rd, "%zu sample slots; an instrument has at most %d", n, ENGINE_SAMPLE_SLOTS);
    t->sample_slots = n ? alloc_array(rd, n, sizeof *t->sample_slots) : NULL;
    if (n && !t->sample_slots)
        return -1;
    const char *key;
    JvValue *value;
    jv_object_foreach(samples, key, value) {
        size_t o2 = push_key(rd, key);
        ProjectSampleSlot *s = &t->sample_slots[t->n_sample_slots++];
        s->slot = key;
        s->slot_index = -1;
        s->source.sample = -1;
        s->source.at = path_copy(rd);
        if (want_object(rd, value) || check_keys(rd, value, keys) || read_region_sample(rd, value, &s->source))
            return -1;
        pop(rd, o2);
    }
    pop(rd, old);
    return 0;
}

static int read_lane(ProjectReader *rd, JvValue *v, ProjectLane *l)
{
    static const char *const keys[] = { "target", "points", NULL };
    static const char *const target_keys[] = { "slot", "param", "fader", NULL };
    static const char *const fader_names[] = { "gain_db", "pan", NULL };
    l->at = path_copy(rd);
    l->param_index = -1;
    if (want_object(rd, v) || check_keys(rd, v, keys))
        return -1;
    JvValue *target = jv_object_get(v, "target");
    if (!target)
        return err_at(rd, "missing \"target\"");
    size_t old = push_key(rd, "target");
    if (want_object(rd, target) || check_keys(rd, target, target_keys))
        return -1;
    if (jv_object_get(target, "fader")) {
        /* the track's fader: {"fader": "gain_db"} or {"fader": "pan"} */
        if (jv_object_get(target, "slot") || jv_object_get(target, "param"))
            return err_at(rd, "\"fader\" stands alone (no \"slot\" or \"param\" with it)");
        if (get_choice(rd, target, "fader", 1, 0, fader_names, &l->param_index))
            return -1;
        l->slot = ENGINE_LANE_FADER;
        l->param = fader_names[l->param_index];
    } else if (get_int(rd, target, "slot", 1, 0, 0, ENGINE_MAX_INSERTS, &l->slot) ||
               get_string(rd, target, "param", 1, &l->param)) {
        return -1;
    }
    pop(rd, old);
    JvValue *points;
    size_t n;
    if (get_array(rd, v, "points", 1, &points, &n))
        return -1;
    if (n == 0) {
        old = push_key(rd, "points");
        return err_at(rd, "a lane needs at least one point");
    }
    l->points = alloc_array(rd, n, sizeof *l->points);
    if (!l->points)
        return -1;
    l->n_points = (int)n;
    old = push_key(rd, "points");
    static const char *const point_keys[] = { "beat", "value", NULL };
    for (size_t i = 0; i < n; i++) {
        size_t o2 = push_index(rd, i);
        JvValue *pv = jv_array_get(points, i);
        ProjectPoint *pt = &l->points[i];
        if (want_object(rd, pv) || check_keys(rd, pv, point_keys) ||
            get_number(rd, pv, "beat", 1, 0, 0, BEAT_MAX, &pt->beat) ||
            get_number(rd, pv, "value", 1, 0, -1e30, 1e30, &pt->value))
            return -1;
        if (i > 0 && pt->beat < l->points[i - 1].beat) {
            size_t o3 = push_key(rd, "beat");
            err_at(rd, "%g comes before the previous point's %g (points go in time order)", pt->beat,
                   l->points[i - 1].beat);
            pop(rd, o3);
            return -1;
        }
        pop(rd, o2);
    }
    pop(rd, old);
    return 0;
}

static int read_fader(ProjectReader *rd, JvValue *track, ProjectTrack *t)
{
    JvValue *v = jv_object_get(track, "fader");
    t->gain_db = 0;
    t->pan = 0;
    if (!v)
        return 0;
    static const char *const keys[] = { "gain_db", "pan", "mute", "solo", NULL };
    size_t old = push_key(rd, "fader");
    if (want_object(rd, v) || check_keys(rd, v, keys) || get_number(rd, v, "gain_db", 0, 0, PROJECT_DB_MIN, PROJECT_DB_MAX, &t->gain_db) ||
        get_number(rd, v, "pan", 0, 0, PROJECT_PAN_MIN, PROJECT_PAN_MAX, &t->pan) || get_bool(rd, v, "mute", 0, &t->mute) ||
        get_bool(rd, v, "solo", 0, &t->solo))
        return -1;
    pop(rd, old);
    return 0;
}

/* An array field of objects, each read by `each`. */
typedef int (*ReadEach)(ProjectReader *rd, JvValue *v, void *item);

static int read_list(ProjectReader *rd, JvValue *owner, const char *key, size_t item_size, size_t max, void **items,
                     int *n_items, ReadEach each)
{
    JvValue *arr;
    size_t n;
    if (get_array(rd, owner, key, 0, &arr, &n))
        return -1;
    size_t old = push_key(rd, key);
    if (n > max)
        return err_at(rd, "%zu entries, at most %zu", n, max);
    *items = alloc_array(rd, n, item_size);
    *n_items = *items ? (int)n : 0;
    if (!*items)
        return -1;
    for (size_t i = 0; i < n; i++) {
        size_t o2 = push_index(rd, i);
        if (each(rd, jv_array_get(arr, i), (char *)*items + i * item_size))
            return -1;
        pop(rd, o2);
    }
    pop(rd, old);
    return 0;
}

static int each_clip(ProjectReader *rd, JvValue *v, void *item) { return read_clip(rd, v, item); }
static int each_region(ProjectReader *rd, JvValue *v, void *item) { return read_region(rd, v, item); }
static int each_lane(ProjectReader *rd, JvValue *v, void *item) { return read_lane(rd, v, item); }

static int each_insert(ProjectReader *rd, JvValue *v, void *item)
{
    static const char *const keys[] = { "patch", "params", NULL };
    return want_object(rd, v) || check_keys(rd, v, keys) || read_patch(rd, v, item) ? -1 : 0;
}

static int each_send(ProjectReader *rd, JvValue *v, void *item)
{
    ProjectSend *s = item;
    static const char *const keys[] = { "bus", "level_db", NULL };
    s->bus_index = -1;
    return want_object(rd, v) || check_keys(rd, v, keys) || get_int(rd, v, "bus", 1, 0, 0, 1 << 30, &s->bus_id) ||
                   get_number(rd, v, "level_db", 0, 0, PROJECT_DB_MIN, PROJECT_DB_MAX, &s->level_db)
               ? -1
               : 0;
}

/* Present only on the kinds of track that use it. */
static int only_for(ProjectReader *rd, JvValue *v, const char *key, int kind, int allowed_kind)
{
    if (!jv_object_get(v, key) || kind == allowed_kind)
        return 0;
    return err_at(rd, "\"%s\" belongs to %s tracks, this one is %s", key,
                  allowed_kind == ENGINE_TRACK_INSTRUMENT ? "instrument" : "audio", kind_names[kind - 1]);
}

static int read_track(ProjectReader *rd, JvValue *v, ProjectTrack *t)
{
    static const char *const keys[] = { "id", "name", "kind", "patch", "params", "voice_mode", "note_priority",
                                        "glide_seconds", "inserts", "fader", "sends", "clips", "regions",
                                        "automation", "samples", NULL };
    if (want_object(rd, v) || check_keys(rd, v, keys) || get_int(rd, v, "id", 1, 0, 0, 1 << 30, &t->id) ||
        get_string(rd, v, "name", 0, &t->name) || get_choice(rd, v, "kind", 1, 0, kind_names, &t->kind))
        return -1;
    t->kind += ENGINE_TRACK_INSTRUMENT;
    if (only_for(rd, v, "patch", t->kind, ENGINE_TRACK_INSTRUMENT) ||
        only_for(rd, v, "params", t->kind, ENGINE_TRACK_INSTRUMENT) ||
        only_for(rd, v, "voice_mode", t->kind, ENGINE_TRACK_INSTRUMENT) ||
        only_for(rd, v, "note_priority", t->kind, ENGINE_TRACK_INSTRUMENT) ||
        only_for(rd, v, "glide_seconds", t->kind, ENGINE_TRACK_INSTRUMENT) ||
        only_for(rd, v, "clips", t->kind, ENGINE_TRACK_INSTRUMENT) ||
        only_for(rd, v, "samples", t->kind, ENGINE_TRACK_INSTRUMENT) ||
        only_for(rd, v, "regions", t->kind, ENGINE_TRACK_AUDIO))
        return -1;
    if (t->kind == ENGINE_TRACK_INSTRUMENT &&
        (read_patch(rd, v, &t->patch) || read_sample_slots(rd, v, t) || get_choice(rd, v, "voice_mode", 0, 0, mode_names, &t->voice_mode) ||
         get_choice(rd, v, "note_priority", 0, 0, priority_names, &t->priority) ||
         get_number(rd, v, "glide_seconds", 0, 0, 0, 10, &t->glide_seconds)))
        return -1;
    /* Each list is stored before it is checked, so that project_free finds
     * whatever a failed read left behind. */
    void *items = NULL;
    int rc = read_list(rd, v, "inserts", sizeof(ProjectPatch), ENGINE_MAX_INSERTS, &items, &t->n_inserts, each_insert);
    t->inserts = items;
    if (rc || read_fader(rd, v, t))
        return -1;
    items = NULL;
    rc = read_list(rd, v, "sends", sizeof(ProjectSend), 64, &items, &t->n_sends, each_send);
    t->sends = items;
    if (rc)
        return -1;
    items = NULL;
    rc = read_list(rd, v, "clips", sizeof(ProjectClip), 65536, &items, &t->n_clips, each_clip);
    t->clips = items;
    if (rc)
        return -1;
    items = NULL;
    rc = read_list(rd, v, "regions", sizeof(ProjectRegion), 65536, &items, &t->n_regions, each_region);
    t->regions = items;
    if (rc)
        return -1;
    items = NULL;
    rc = read_list(rd, v, "automation", sizeof(ProjectLane), 4096, &items, &t->n_lanes, each_lane);
    t->lanes = items;
    return rc;
}

static int tempo_order(const void *a, const void *b)
{
    const ProjectTempo *x = a, *y = b;
    return x->beat < y->beat ? -1 : x->beat > y->beat;
}

static int read_header(ProjectReader *rd, JvValue *root, Project *p)
{
    static const char *const keys[] = { "version", "sample_rate", "tempo", "tempo_changes", "time_signature",
                                        "time_signature_changes", "length_beats", "tail_seconds", "tail", "loop",
                                        "metronome", "master", "tracks", NULL };
    if (want_object(rd, root) || get_int(rd, root, "version", 1, 0, 0, 1 << 30, &p->version))
        return -1;
    if (p->version < 1 || p->version > PROJECT_VERSION) {
        size_t old = push_key(rd, "version");
        err_at(rd, "version %d is not supported (this build reads versions 1 to %d%s)", p->version, PROJECT_VERSION,
               p->version > PROJECT_VERSION ? "; it was written by a newer Amplitude" : "");
        pop(rd, old);
        return -1;
    }
    rd->version = p->version;
    if (check_keys(rd, root, keys))
        return -1;
    if (get_int(rd, root, "sample_rate", 0, PROJECT_DEFAULT_RATE, AMP_MIN_SAMPLE_RATE, AMP_MAX_SAMPLE_RATE, &p->sample_rate) ||
        get_number(rd, root, "tempo", 0, 120, 1, 1000, &p->tempo) ||
        get_number(rd, root, "length_beats", 0, -1, 0, BEAT_MAX, &p->length_beats) ||
        get_number(rd, root, "tail_seconds", 0, PROJECT_DEFAULT_TAIL, 0, 600, &p->tail_seconds))
        return -1;
    if (!jv_object_get(root, "length_beats"))
        p->length_beats = -1;

    JvValue *arr;
    size_t n;
    if (get_array(rd, root, "tempo_changes", 0, &arr, &n))
        return -1;
    p->tempo_changes = alloc_array(rd, n, sizeof *p->tempo_changes);
    if (!p->tempo_changes)
        return -1;
    p->n_tempo_changes = (int)n;
    size_t old = push_key(rd, "tempo_changes");
    for (size_t i = 0; i < n; i++) {
        size_t o2 = push_index(rd, i);
        JvValue *tv = jv_array_get(arr, i);
        static const char *const tkeys[] = { "beat", "bpm", NULL };
        if (want_object(rd, tv) || check_keys(rd, tv, tkeys) ||
            get_number(rd, tv, "beat", 1, 0, 0, BEAT_MAX, &p->tempo_changes[i].beat) ||
            get_number(rd, tv, "bpm", 1, 0, 1, 1000, &p->tempo_changes[i].bpm))
            return -1;
        pop(rd, o2);
    }
    pop(rd, old);
    qsort(p->tempo_changes, n, sizeof *p->tempo_changes, tempo_order);

    p->sig_num = p->sig_den = 4;
    JvValue *sig = jv_object_get(root, "time_signature");
    if (sig) {
        old = push_key(rd, "time_signature");
        JvValue *a = jv_array_get(sig, 0), *b = jv_array_get(sig, 1);
        if (!jv_is_array(sig) || jv_array_size(sig) != 2 || !jv_is_integer(a) || !jv_is_integer(b))
            return err_at(rd, "expected [numerator, denominator], e.g. [4, 4]");
        long long num = jv_integer_value(a), den = jv_integer_value(b);
        if (num < 1 || num > 64 || den < 1 || den > 64 || (den & (den - 1)))
            return err_at(rd, "%lld/%lld: the numerator is 1 to 64, the denominator a power of two up to 64",
                          (long long)num, (long long)den);
        p->sig_num = (int)num;
        p->sig_den = (int)den;
        pop(rd, old);
    }
    if (read_signature_changes(rd, root, p) || read_metronome(rd, root, p) || read_tail(rd, root, p))
        return -1;

    JvValue *loop = jv_object_get(root, "loop");
    if (loop) {
        static const char *const lkeys[] = { "enabled", "start_beat", "end_beat", NULL };
        old = push_key(rd, "loop");
        if (want_object(rd, loop) || check_keys(rd, loop, lkeys) || get_bool(rd, loop, "enabled", 1, &p->loop_enabled) ||
            get_number(rd, loop, "start_beat", 1, 0, 0, BEAT_MAX, &p->loop_start) ||
            get_number(rd, loop, "end_beat", 1, 0, 0, BEAT_MAX, &p->loop_end))
            return -1;
        if (p->loop_end <= p->loop_start) {
            push_key(rd, "end_beat");
            return err_at(rd, "%g must be after start_beat %g", p->loop_end, p->loop_start);
        }
        pop(rd, old);
    }

    JvValue *master = jv_object_get(root, "master");
    if (master) {
        static const char *const mkeys[] = { "gain_db", NULL };
        old = push_key(rd, "master");
        if (want_object(rd, master) || check_keys(rd, master, mkeys) ||
            get_number(rd, master, "gain_db", 0, 0, PROJECT_DB_MIN, PROJECT_DB_MAX, &p->master_gain_db))
            return -1;
        pop(rd, old);
    }
    return 0;
}

/* Ids unique; sends name a bus later in the list. */
static int check_links(ProjectReader *rd, Project *p)
{
    for (int i = 0; i < p->n_tracks; i++) {
        for (int j = 0; j < i; j++) {
            if (p->tracks[j].id == p->tracks[i].id) {
                size_t old = push_key(rd, "tracks");
                push_index(rd, (size_t)i);
                push_key(rd, "id");
                err_at(rd, "%d is also the id of tracks[%d]", p->tracks[i].id, j);
                pop(rd, old);
                return -1;
            }
        }
    }
    for (int i = 0; i < p->n_tracks; i++) {
        ProjectTrack *t = &p->tracks[i];
        for (int k = 0; k < t->n_sends; k++) {
            ProjectSend *s = &t->sends[k];
            for (int j = 0; j < p->n_tracks; j++)
                if (p->tracks[j].id == s->bus_id)
                    s->bus_index = j;
            size_t old = push_key(rd, "tracks");
            push_index(rd, (size_t)i);
            push_key(rd, "sends");
            push_index(rd, (size_t)k);
            push_key(rd, "bus");
            if (s->bus_index < 0)
                return err_at(rd, "no track has id %d", s->bus_id);
            if (p->tracks[s->bus_index].kind != ENGINE_TRACK_BUS)
                return err_at(rd, "track %d is not a bus", s->bus_id);
            if (s->bus_index == i)
                return err_at(rd, "a track cannot send to itself");
            if (t->kind == ENGINE_TRACK_BUS && s->bus_index < i)
                return err_at(rd, "a bus sends only to buses listed after it (bus %d comes before)", s->bus_id);
            pop(rd, old);
        }
    }
    return 0;
}

static char *dirname_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    size_t n = (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

int project_load_text(const char *text, size_t len, const char *name, const char *dir, Project *p, char *err,
                      size_t errlen)
{
    memset(p, 0, sizeof *p);
    JvError jerr;
    JvLimits limits = { .max_bytes = PROJECT_MAX_FILE_BYTES };
    JvDoc *doc = jv_parse(text, len, &limits, &jerr);
    if (!doc) {
        snprintf(err, errlen, "%s:%d:%d: %s", name ? name : "project", jerr.line, jerr.column, jerr.text);
        return -1;
    }
    ProjectReader rd = { .doc = doc, .err = err, .errlen = errlen };
    JvValue *root = jv_root(doc);
    p->doc = doc;
    p->dir = strdup(dir ? dir : ".");
    if (!p->dir || read_header(&rd, root, p))
        goto fail;
    JvValue *tracks;
    size_t n;
    if (get_array(&rd, root, "tracks", 1, &tracks, &n))
        goto fail;
    if (n > ENGINE_MAX_TRACKS) {
        push_key(&rd, "tracks");
        err_at(&rd, "%zu tracks, at most %d", n, ENGINE_MAX_TRACKS);
        goto fail;
    }
    p->tracks = alloc_array(&rd, n, sizeof *p->tracks);
    if (!p->tracks)
        goto fail;
    p->n_tracks = (int)n;
    size_t old = push_key(&rd, "tracks");
    for (size_t i = 0; i < n; i++) {
        size_t o2 = push_index(&rd, i);
        if (read_track(&rd, jv_array_get(tracks, i), &p->tracks[i]))
            goto fail;
        pop(&rd, o2);
    }
    pop(&rd, old);
    if (check_links(&rd, p))
        goto fail;
    return 0;
fail:
    project_free(p);
    return -1;
}

int project_load_file(const char *path, Project *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    unsigned char *text;
    size_t len;
    if (read_whole_file(path, PROJECT_MAX_FILE_BYTES, &text, &len, err, errlen))
        return -1;
    char *dir = dirname_of(path);
    int rc = project_load_text((const char *)text, len, path, dir, p, err, errlen);
    free(dir);
    free(text);
    return rc;
}

static void free_patch(ProjectPatch *pp)
{
    for (int i = 0; i < pp->n_params; i++)
        free(pp->params[i].at);
    free(pp->params);
    free(pp->path);
    free(pp->at);
}

void project_free(Project *p)
{
    for (int i = 0; i < p->n_tracks; i++) {
        ProjectTrack *t = &p->tracks[i];
        free_patch(&t->patch);
        for (int k = 0; k < t->n_inserts; k++)
            free_patch(&t->inserts[k]);
        free(t->inserts);
        free(t->sends);
        for (int k = 0; k < t->n_clips; k++)
            free(t->clips[k].notes);
        free(t->clips);
        for (int k = 0; k < t->n_regions; k++)
            free(t->regions[k].at);
        free(t->regions);
        for (int k = 0; k < t->n_sample_slots; k++)
            free(t->sample_slots[k].source.at);
        free(t->sample_slots);
        for (int k = 0; k < t->n_lanes; k++) {
            free(t->lanes[k].points);
            free(t->lanes[k].at);
        }
        free(t->lanes);
    }
    free(p->tracks);
    free(p->tempo_changes);
    free(p->sig_changes);
    for (int i = 0; i < p->n_samples; i++) {
        free(p->samples[i].path);
        for (int ch = 0; ch < p->samples[i].channels; ch++)
            free(p->samples[i].data[ch]);
    }
    free(p->samples);
    free(p->dir);
    jv_free(p->doc);
    memset(p, 0, sizeof *p);
}
