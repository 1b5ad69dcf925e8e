/* project.c — the JSON project document: load and validate (jansson),
 * resolve patches and audio, feed an engine. See project.h and
 * runtime/PROJECT.md (the format).
 *
 * Validation walks the document with a path buffer ("tracks[2].clips[0]
 * .notes[3].key") so every message names the field it is about; unknown
 * fields are errors (a typo is never silently ignored) except "ui", which
 * the web app may fill with anything.
 */
#include "project.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ampc.h"
#include "build.h"
#include "diag.h"
#include "util.h"
#include "wav.h"

#define MAX_PATH_TEXT 512
#define PROJECT_MAX_FILE_BYTES (64u << 20)   /* a project file this large is refused */

/* ---- error context: the JSON path of what is being read ------------------ */

typedef struct Ctx {
    char *err;
    size_t errlen;
    char path[MAX_PATH_TEXT];
    size_t len;
} Ctx;

/* The mixer's ranges: levels in dB (gains, sends, regions), and pan. */
#define DB_MIN (-150.0)
#define DB_MAX 24.0
#define PAN_MIN (-1.0)
#define PAN_MAX 1.0

static size_t push_key(Ctx *c, const char *key)
{
    size_t old = c->len;
    int n = snprintf(c->path + c->len, sizeof c->path - c->len, "%s%s", c->len ? "." : "", key);
    if (n > 0)
        c->len = c->len + (size_t)n < sizeof c->path ? c->len + (size_t)n : sizeof c->path - 1;
    return old;
}

static size_t push_index(Ctx *c, size_t i)
{
    size_t old = c->len;
    int n = snprintf(c->path + c->len, sizeof c->path - c->len, "[%zu]", i);
    if (n > 0)
        c->len = c->len + (size_t)n < sizeof c->path ? c->len + (size_t)n : sizeof c->path - 1;
    return old;
}

static void pop(Ctx *c, size_t old)
{
    c->len = old;
    c->path[old] = '\0';
}

static int err_at(Ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int err_at(Ctx *c, const char *fmt, ...)
{
    if (!c->err || !c->errlen)
        return -1;
    int n = snprintf(c->err, c->errlen, "%s: ", c->len ? c->path : "project");
    if (n < 0 || (size_t)n >= c->errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* The current path, kept for messages after validation (resolve). */
static char *path_copy(const Ctx *c)
{
    return xstrdup(c->len ? c->path : "project");
}

/* A short rendering of a JSON value for "got ..." in messages. */
static void show(const json_t *v, char *buf, size_t len)
{
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!text) {
        snprintf(buf, len, "?");
        return;
    }
    if (strlen(text) > 40)
        snprintf(buf, len, "%.37s...", text);
    else
        snprintf(buf, len, "%s", text);
    free(text);
}

/* ---- typed field readers ----------------------------------------------------- */

/* "expected <what>, got <v>", at key (NULL: at the current path). */
static int wrong_type(Ctx *c, const char *key, const json_t *v, const char *what)
{
    size_t old = key ? push_key(c, key) : c->len;
    char got[64];
    show(v, got, sizeof got);
    err_at(c, "expected %s, got %s", what, got);
    pop(c, old);
    return -1;
}

static int check_keys(Ctx *c, json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value) {
        int ok = !strcmp(key, "ui");
        for (int i = 0; allowed[i] && !ok; i++)
            ok = !strcmp(key, allowed[i]);
        if (!ok) {
            char list[400] = "";
            for (int i = 0; allowed[i]; i++) {
                size_t used = strlen(list);
                snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", allowed[i]);
            }
            return err_at(c, "unknown field \"%s\" (known: %s)", key, list);
        }
    }
    return 0;
}

/* obj[key] as a number in [lo, hi]; absent: *out = def, or an error when
 * required. */
static int get_number(Ctx *c, json_t *obj, const char *key, int required, double def, double lo, double hi,
                      double *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return err_at(c, "missing \"%s\"", key);
        *out = def;
        return 0;
    }
    if (!json_is_number(v))
        return wrong_type(c, key, v, "a number");
    size_t old = push_key(c, key);
    double x = json_number_value(v);
    if (!(x >= lo && x <= hi)) {
        err_at(c, "%g is out of range (%g to %g)", x, lo, hi);
        return -1;
    }
    pop(c, old);
    *out = x;
    return 0;
}

static int get_int(Ctx *c, json_t *obj, const char *key, int required, int def, int lo, int hi, int *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return err_at(c, "missing \"%s\"", key);
        *out = def;
        return 0;
    }
    if (!json_is_integer(v)) {
        char what[64];
        snprintf(what, sizeof what, "a whole number from %d to %d", lo, hi);
        return wrong_type(c, key, v, what);
    }
    size_t old = push_key(c, key);
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi) {
        err_at(c, "%lld is out of range (%d to %d)", (long long)x, lo, hi);
        return -1;
    }
    pop(c, old);
    *out = (int)x;
    return 0;
}

static int get_bool(Ctx *c, json_t *obj, const char *key, int def, int *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_boolean(v))
        return wrong_type(c, key, v, "true or false");
    *out = json_is_true(v);
    return 0;
}

static int get_string(Ctx *c, json_t *obj, const char *key, int required, const char **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v) {
        if (required)
            return err_at(c, "missing \"%s\"", key);
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) == 0)
        return wrong_type(c, key, v, "a non-empty string");
    *out = json_string_value(v);
    return 0;
}

/* One of `names` (NULL-terminated), as its index. */
static int get_choice(Ctx *c, json_t *obj, const char *key, int required, int def, const char *const *names,
                      int *out)
{
    const char *s;
    if (get_string(c, obj, key, required, &s))
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
    size_t old = push_key(c, key);
    err_at(c, "expected %s, got \"%s\"", list, s);
    pop(c, old);
    return -1;
}

/* obj[key] as an array (absent: empty); *n its length. */
static int get_array(Ctx *c, json_t *obj, const char *key, int required, json_t **arr, size_t *n)
{
    json_t *v = json_object_get(obj, key);
    *arr = NULL;
    *n = 0;
    if (!v) {
        if (required)
            return err_at(c, "missing \"%s\"", key);
        return 0;
    }
    if (!json_is_array(v))
        return wrong_type(c, key, v, "an array");
    *arr = v;
    *n = json_array_size(v);
    return 0;
}

static int want_object(Ctx *c, json_t *v)
{
    if (json_is_object(v))
        return 0;
    return wrong_type(c, NULL, v, "an object");
}

static void *alloc_array(Ctx *c, size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        err_at(c, "out of memory");
    return p;
}

/* ---- the document ------------------------------------------------------------ */

#define BEAT_MAX 1e6
static const char *const kind_names[] = { "instrument", "audio", "bus", NULL };  /* EngineTrackKind - 1 */
static const char *const mode_names[] = { "poly", "mono", "legato", NULL };
static const char *const priority_names[] = { "last", "low", "high", NULL };

/* "patch": "file.amp" or {"file": ..., "unit": ...}, with "params" beside
 * it in `owner`. */
static int read_patch(Ctx *c, json_t *owner, ProjectPatch *pp)
{
    json_t *v = json_object_get(owner, "patch");
    if (!v)
        return err_at(c, "missing \"patch\"");
    size_t old = push_key(c, "patch");
    pp->at = path_copy(c);
    if (json_is_string(v)) {
        pp->file = json_string_value(v);
    } else if (json_is_object(v)) {
        static const char *const keys[] = { "file", "unit", NULL };
        if (check_keys(c, v, keys) || get_string(c, v, "file", 1, &pp->file) ||
            get_string(c, v, "unit", 0, &pp->unit))
            return -1;
    } else {
        return wrong_type(c, NULL, v, "a file name or {\"file\", \"unit\"}");
    }
    if (!pp->file || !*pp->file)
        return err_at(c, "empty file name");
    pop(c, old);

    json_t *params = json_object_get(owner, "params");
    if (!params)
        return 0;
    old = push_key(c, "params");
    if (want_object(c, params))
        return -1;
    size_t n_params = json_object_size(params);
    pp->params = alloc_array(c, n_params, sizeof *pp->params);
    if (!pp->params)
        return -1;
    pp->n_params = (int)n_params;
    const char *key;
    json_t *value;
    int i = 0;
    json_object_foreach(params, key, value) {
        size_t o2 = push_key(c, key);
        ProjectParam *pa = &pp->params[i++];
        pa->name = key;
        pa->index = -1;
        pa->at = path_copy(c);
        if (!json_is_number(value)) {
            char got[64];
            show(value, got, sizeof got);
            return err_at(c, "expected a number, got %s", got);
        }
        pa->value = json_number_value(value);
        pop(c, o2);
    }
    pop(c, old);
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

static int read_clip(Ctx *c, json_t *v, ProjectClip *clip)
{
    static const char *const keys[] = { "start_beat", "length_beats", "notes", NULL };
    if (want_object(c, v) || check_keys(c, v, keys) ||
        get_number(c, v, "start_beat", 1, 0, 0, BEAT_MAX, &clip->start_beat) ||
        get_number(c, v, "length_beats", 1, 0, 1e-9, BEAT_MAX, &clip->length_beats))
        return -1;
    json_t *notes;
    size_t n;
    if (get_array(c, v, "notes", 0, &notes, &n))
        return -1;
    clip->notes = alloc_array(c, n, sizeof *clip->notes);
    if (!clip->notes)
        return -1;
    clip->n_notes = (int)n;
    size_t old = push_key(c, "notes");
    for (size_t i = 0; i < n; i++) {
        size_t o2 = push_index(c, i);
        json_t *nv = json_array_get(notes, i);
        ProjectNote *note = &clip->notes[i];
        static const char *const note_keys[] = { "key", "start_beat", "length_beats", "velocity", NULL };
        if (want_object(c, nv) || check_keys(c, nv, note_keys) || get_int(c, nv, "key", 1, 0, 0, 127, &note->key) ||
            get_number(c, nv, "start_beat", 1, 0, 0, BEAT_MAX, &note->start_beat) ||
            get_number(c, nv, "length_beats", 1, 0, 1e-9, BEAT_MAX, &note->length_beats) ||
            get_number(c, nv, "velocity", 0, 0.8, 0, 1, &note->velocity))
            return -1;
        pop(c, o2);
    }
    pop(c, old);
    qsort(clip->notes, n, sizeof *clip->notes, note_order);
    return 0;
}

static int read_region(Ctx *c, json_t *v, ProjectRegion *r)
{
    static const char *const keys[] = { "file", "start_beat", "offset_seconds", "length_seconds", "gain_db", NULL };
    r->at = path_copy(c);
    r->sample = -1;
    return want_object(c, v) || check_keys(c, v, keys) || get_string(c, v, "file", 1, &r->file) ||
                   get_number(c, v, "start_beat", 1, 0, 0, BEAT_MAX, &r->start_beat) ||
                   get_number(c, v, "offset_seconds", 0, 0, 0, 86400, &r->offset_seconds) ||
                   get_number(c, v, "length_seconds", 0, 0, 0, 86400, &r->length_seconds) ||
                   get_number(c, v, "gain_db", 0, 0, DB_MIN, DB_MAX, &r->gain_db)
               ? -1
               : 0;
}

static int read_lane(Ctx *c, json_t *v, ProjectLane *l)
{
    static const char *const keys[] = { "target", "points", NULL };
    static const char *const target_keys[] = { "slot", "param", "fader", NULL };
    static const char *const fader_names[] = { "gain_db", "pan", NULL };
    l->at = path_copy(c);
    l->param_index = -1;
    if (want_object(c, v) || check_keys(c, v, keys))
        return -1;
    json_t *target = json_object_get(v, "target");
    if (!target)
        return err_at(c, "missing \"target\"");
    size_t old = push_key(c, "target");
    if (want_object(c, target) || check_keys(c, target, target_keys))
        return -1;
    if (json_object_get(target, "fader")) {
        /* the track's fader: {"fader": "gain_db"} or {"fader": "pan"} */
        if (json_object_get(target, "slot") || json_object_get(target, "param"))
            return err_at(c, "\"fader\" stands alone (no \"slot\" or \"param\" with it)");
        if (get_choice(c, target, "fader", 1, 0, fader_names, &l->param_index))
            return -1;
        l->slot = ENGINE_LANE_FADER;
        l->param = fader_names[l->param_index];
    } else if (get_int(c, target, "slot", 1, 0, 0, ENGINE_MAX_INSERTS, &l->slot) ||
               get_string(c, target, "param", 1, &l->param)) {
        return -1;
    }
    pop(c, old);
    json_t *points;
    size_t n;
    if (get_array(c, v, "points", 1, &points, &n))
        return -1;
    if (n == 0) {
        old = push_key(c, "points");
        return err_at(c, "a lane needs at least one point");
    }
    l->points = alloc_array(c, n, sizeof *l->points);
    if (!l->points)
        return -1;
    l->n_points = (int)n;
    old = push_key(c, "points");
    static const char *const point_keys[] = { "beat", "value", NULL };
    for (size_t i = 0; i < n; i++) {
        size_t o2 = push_index(c, i);
        json_t *pv = json_array_get(points, i);
        ProjectPoint *pt = &l->points[i];
        if (want_object(c, pv) || check_keys(c, pv, point_keys) ||
            get_number(c, pv, "beat", 1, 0, 0, BEAT_MAX, &pt->beat) ||
            get_number(c, pv, "value", 1, 0, -1e30, 1e30, &pt->value))
            return -1;
        if (i > 0 && pt->beat < l->points[i - 1].beat) {
            size_t o3 = push_key(c, "beat");
            err_at(c, "%g comes before the previous point's %g (points go in time order)", pt->beat,
                   l->points[i - 1].beat);
            pop(c, o3);
            return -1;
        }
        pop(c, o2);
    }
    pop(c, old);
    return 0;
}

static int read_fader(Ctx *c, json_t *track, ProjectTrack *t)
{
    json_t *v = json_object_get(track, "fader");
    t->gain_db = 0;
    t->pan = 0;
    if (!v)
        return 0;
    static const char *const keys[] = { "gain_db", "pan", "mute", "solo", NULL };
    size_t old = push_key(c, "fader");
    if (want_object(c, v) || check_keys(c, v, keys) || get_number(c, v, "gain_db", 0, 0, DB_MIN, DB_MAX, &t->gain_db) ||
        get_number(c, v, "pan", 0, 0, PAN_MIN, PAN_MAX, &t->pan) || get_bool(c, v, "mute", 0, &t->mute) ||
        get_bool(c, v, "solo", 0, &t->solo))
        return -1;
    pop(c, old);
    return 0;
}

/* An array field of objects, each read by `each`. */
typedef int (*ReadEach)(Ctx *c, json_t *v, void *item);

static int read_list(Ctx *c, json_t *owner, const char *key, size_t item_size, size_t max, void **items,
                     int *n_items, ReadEach each)
{
    json_t *arr;
    size_t n;
    if (get_array(c, owner, key, 0, &arr, &n))
        return -1;
    size_t old = push_key(c, key);
    if (n > max)
        return err_at(c, "%zu entries, at most %zu", n, max);
    *items = alloc_array(c, n, item_size);
    *n_items = *items ? (int)n : 0;
    if (!*items)
        return -1;
    for (size_t i = 0; i < n; i++) {
        size_t o2 = push_index(c, i);
        if (each(c, json_array_get(arr, i), (char *)*items + i * item_size))
            return -1;
        pop(c, o2);
    }
    pop(c, old);
    return 0;
}

static int each_clip(Ctx *c, json_t *v, void *item) { return read_clip(c, v, item); }
static int each_region(Ctx *c, json_t *v, void *item) { return read_region(c, v, item); }
static int each_lane(Ctx *c, json_t *v, void *item) { return read_lane(c, v, item); }

static int each_insert(Ctx *c, json_t *v, void *item)
{
    static const char *const keys[] = { "patch", "params", NULL };
    return want_object(c, v) || check_keys(c, v, keys) || read_patch(c, v, item) ? -1 : 0;
}

static int each_send(Ctx *c, json_t *v, void *item)
{
    ProjectSend *s = item;
    static const char *const keys[] = { "bus", "level_db", NULL };
    s->bus_index = -1;
    return want_object(c, v) || check_keys(c, v, keys) || get_int(c, v, "bus", 1, 0, 0, 1 << 30, &s->bus_id) ||
                   get_number(c, v, "level_db", 0, 0, DB_MIN, DB_MAX, &s->level_db)
               ? -1
               : 0;
}

/* Present only on the kinds of track that use it. */
static int only_for(Ctx *c, json_t *v, const char *key, int kind, int allowed_kind)
{
    if (!json_object_get(v, key) || kind == allowed_kind)
        return 0;
    return err_at(c, "\"%s\" belongs to %s tracks, this one is %s", key,
                  allowed_kind == ENGINE_TRACK_INSTRUMENT ? "instrument" : "audio", kind_names[kind - 1]);
}

static int read_track(Ctx *c, json_t *v, ProjectTrack *t)
{
    static const char *const keys[] = { "id", "name", "kind", "patch", "params", "voice_mode", "note_priority",
                                        "glide_seconds", "inserts", "fader", "sends", "clips", "regions",
                                        "automation", NULL };
    if (want_object(c, v) || check_keys(c, v, keys) || get_int(c, v, "id", 1, 0, 0, 1 << 30, &t->id) ||
        get_string(c, v, "name", 0, &t->name) || get_choice(c, v, "kind", 1, 0, kind_names, &t->kind))
        return -1;
    t->kind += ENGINE_TRACK_INSTRUMENT;
    if (only_for(c, v, "patch", t->kind, ENGINE_TRACK_INSTRUMENT) ||
        only_for(c, v, "params", t->kind, ENGINE_TRACK_INSTRUMENT) ||
        only_for(c, v, "voice_mode", t->kind, ENGINE_TRACK_INSTRUMENT) ||
        only_for(c, v, "note_priority", t->kind, ENGINE_TRACK_INSTRUMENT) ||
        only_for(c, v, "glide_seconds", t->kind, ENGINE_TRACK_INSTRUMENT) ||
        only_for(c, v, "clips", t->kind, ENGINE_TRACK_INSTRUMENT) ||
        only_for(c, v, "regions", t->kind, ENGINE_TRACK_AUDIO))
        return -1;
    if (t->kind == ENGINE_TRACK_INSTRUMENT &&
        (read_patch(c, v, &t->patch) || get_choice(c, v, "voice_mode", 0, 0, mode_names, &t->voice_mode) ||
         get_choice(c, v, "note_priority", 0, 0, priority_names, &t->priority) ||
         get_number(c, v, "glide_seconds", 0, 0, 0, 10, &t->glide_seconds)))
        return -1;
    /* Each list is stored before it is checked, so that project_free finds
     * whatever a failed read left behind. */
    void *items = NULL;
    int rc = read_list(c, v, "inserts", sizeof(ProjectPatch), ENGINE_MAX_INSERTS, &items, &t->n_inserts, each_insert);
    t->inserts = items;
    if (rc || read_fader(c, v, t))
        return -1;
    items = NULL;
    rc = read_list(c, v, "sends", sizeof(ProjectSend), 64, &items, &t->n_sends, each_send);
    t->sends = items;
    if (rc)
        return -1;
    items = NULL;
    rc = read_list(c, v, "clips", sizeof(ProjectClip), 65536, &items, &t->n_clips, each_clip);
    t->clips = items;
    if (rc)
        return -1;
    items = NULL;
    rc = read_list(c, v, "regions", sizeof(ProjectRegion), 65536, &items, &t->n_regions, each_region);
    t->regions = items;
    if (rc)
        return -1;
    items = NULL;
    rc = read_list(c, v, "automation", sizeof(ProjectLane), 4096, &items, &t->n_lanes, each_lane);
    t->lanes = items;
    return rc;
}

static int tempo_order(const void *a, const void *b)
{
    const ProjectTempo *x = a, *y = b;
    return x->beat < y->beat ? -1 : x->beat > y->beat;
}

static int read_header(Ctx *c, json_t *root, Project *p)
{
    static const char *const keys[] = { "version", "sample_rate", "tempo", "tempo_changes", "time_signature",
                                        "length_beats", "tail_seconds", "loop", "master", "tracks", NULL };
    if (want_object(c, root) || check_keys(c, root, keys) ||
        get_int(c, root, "version", 1, 0, 0, 1 << 30, &p->version))
        return -1;
    if (p->version != PROJECT_VERSION) {
        size_t old = push_key(c, "version");
        err_at(c, "version %d is not supported (this build reads version %d)", p->version, PROJECT_VERSION);
        pop(c, old);
        return -1;
    }
    if (get_int(c, root, "sample_rate", 0, PROJECT_DEFAULT_RATE, 1000, 768000, &p->sample_rate) ||
        get_number(c, root, "tempo", 0, 120, 1, 1000, &p->tempo) ||
        get_number(c, root, "length_beats", 0, -1, 0, BEAT_MAX, &p->length_beats) ||
        get_number(c, root, "tail_seconds", 0, PROJECT_DEFAULT_TAIL, 0, 600, &p->tail_seconds))
        return -1;
    if (!json_object_get(root, "length_beats"))
        p->length_beats = -1;

    json_t *arr;
    size_t n;
    if (get_array(c, root, "tempo_changes", 0, &arr, &n))
        return -1;
    p->tempo_changes = alloc_array(c, n, sizeof *p->tempo_changes);
    if (!p->tempo_changes)
        return -1;
    p->n_tempo_changes = (int)n;
    size_t old = push_key(c, "tempo_changes");
    for (size_t i = 0; i < n; i++) {
        size_t o2 = push_index(c, i);
        json_t *tv = json_array_get(arr, i);
        static const char *const tkeys[] = { "beat", "bpm", NULL };
        if (want_object(c, tv) || check_keys(c, tv, tkeys) ||
            get_number(c, tv, "beat", 1, 0, 0, BEAT_MAX, &p->tempo_changes[i].beat) ||
            get_number(c, tv, "bpm", 1, 0, 1, 1000, &p->tempo_changes[i].bpm))
            return -1;
        pop(c, o2);
    }
    pop(c, old);
    qsort(p->tempo_changes, n, sizeof *p->tempo_changes, tempo_order);

    p->sig_num = p->sig_den = 4;
    json_t *sig = json_object_get(root, "time_signature");
    if (sig) {
        old = push_key(c, "time_signature");
        json_t *a = json_array_get(sig, 0), *b = json_array_get(sig, 1);
        if (!json_is_array(sig) || json_array_size(sig) != 2 || !json_is_integer(a) || !json_is_integer(b))
            return err_at(c, "expected [numerator, denominator], e.g. [4, 4]");
        json_int_t num = json_integer_value(a), den = json_integer_value(b);
        if (num < 1 || num > 64 || den < 1 || den > 64 || (den & (den - 1)))
            return err_at(c, "%lld/%lld: the numerator is 1 to 64, the denominator a power of two up to 64",
                          (long long)num, (long long)den);
        p->sig_num = (int)num;
        p->sig_den = (int)den;
        pop(c, old);
    }

    json_t *loop = json_object_get(root, "loop");
    if (loop) {
        static const char *const lkeys[] = { "enabled", "start_beat", "end_beat", NULL };
        old = push_key(c, "loop");
        if (want_object(c, loop) || check_keys(c, loop, lkeys) || get_bool(c, loop, "enabled", 1, &p->loop_enabled) ||
            get_number(c, loop, "start_beat", 1, 0, 0, BEAT_MAX, &p->loop_start) ||
            get_number(c, loop, "end_beat", 1, 0, 0, BEAT_MAX, &p->loop_end))
            return -1;
        if (p->loop_end <= p->loop_start) {
            push_key(c, "end_beat");
            return err_at(c, "%g must be after start_beat %g", p->loop_end, p->loop_start);
        }
        pop(c, old);
    }

    json_t *master = json_object_get(root, "master");
    if (master) {
        static const char *const mkeys[] = { "gain_db", NULL };
        old = push_key(c, "master");
        if (want_object(c, master) || check_keys(c, master, mkeys) ||
            get_number(c, master, "gain_db", 0, 0, DB_MIN, DB_MAX, &p->master_gain_db))
            return -1;
        pop(c, old);
    }
    return 0;
}

/* Ids unique; sends name a bus later in the list. */
static int check_links(Ctx *c, Project *p)
{
    for (int i = 0; i < p->n_tracks; i++) {
        for (int j = 0; j < i; j++) {
            if (p->tracks[j].id == p->tracks[i].id) {
                size_t old = push_key(c, "tracks");
                push_index(c, (size_t)i);
                push_key(c, "id");
                err_at(c, "%d is also the id of tracks[%d]", p->tracks[i].id, j);
                pop(c, old);
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
            size_t old = push_key(c, "tracks");
            push_index(c, (size_t)i);
            push_key(c, "sends");
            push_index(c, (size_t)k);
            push_key(c, "bus");
            if (s->bus_index < 0)
                return err_at(c, "no track has id %d", s->bus_id);
            if (p->tracks[s->bus_index].kind != ENGINE_TRACK_BUS)
                return err_at(c, "track %d is not a bus", s->bus_id);
            if (s->bus_index == i)
                return err_at(c, "a track cannot send to itself");
            if (t->kind == ENGINE_TRACK_BUS && s->bus_index < i)
                return err_at(c, "a bus sends only to buses listed after it (bus %d comes before)", s->bus_id);
            pop(c, old);
        }
    }
    return 0;
}

static char *dirname_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return xstrdup(".");
    if (slash == path)
        return xstrdup("/");
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
    Ctx c = { .err = err, .errlen = errlen };
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, errlen, "%s:%d:%d: %s", name ? name : "project", jerr.line, jerr.column, jerr.text);
        return -1;
    }
    p->doc = root;
    p->dir = xstrdup(dir ? dir : ".");
    if (!p->dir || read_header(&c, root, p))
        goto fail;
    json_t *tracks;
    size_t n;
    if (get_array(&c, root, "tracks", 1, &tracks, &n))
        goto fail;
    if (n > ENGINE_MAX_TRACKS) {
        push_key(&c, "tracks");
        err_at(&c, "%zu tracks, at most %d", n, ENGINE_MAX_TRACKS);
        goto fail;
    }
    p->tracks = alloc_array(&c, n, sizeof *p->tracks);
    if (!p->tracks)
        goto fail;
    p->n_tracks = (int)n;
    size_t old = push_key(&c, "tracks");
    for (size_t i = 0; i < n; i++) {
        size_t o2 = push_index(&c, i);
        if (read_track(&c, json_array_get(tracks, i), &p->tracks[i]))
            goto fail;
        pop(&c, o2);
    }
    pop(&c, old);
    if (check_links(&c, p))
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
        for (int k = 0; k < t->n_lanes; k++) {
            free(t->lanes[k].points);
            free(t->lanes[k].at);
        }
        free(t->lanes);
    }
    free(p->tracks);
    free(p->tempo_changes);
    for (int i = 0; i < p->n_samples; i++) {
        free(p->samples[i].path);
        for (int ch = 0; ch < p->samples[i].channels; ch++)
            free(p->samples[i].data[ch]);
    }
    free(p->samples);
    free(p->dir);
    if (p->doc)
        json_decref(p->doc);
    memset(p, 0, sizeof *p);
}

/* ---- resolve: patches and audio ----------------------------------------------- */

static char *join_path(const char *dir, const char *file)
{
    if (file[0] == '/' || !strcmp(dir, "."))
        return xstrdup(file);
    size_t n = strlen(dir) + strlen(file) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", dir, file);
    return s;
}

typedef struct Compiled {
    char *path;
    const char *unit;
    const AmpPatchDesc *desc;
} Compiled;

typedef struct Resolver {
    Compiled *compiled;
    int n_compiled, cap_compiled;
    const ProjectOptions *opt;
    char *err;
    size_t errlen;
} Resolver;

static int same_unit(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static const AmpPatchDesc *compile_patch(Resolver *r, const ProjectPatch *pp)
{
    for (int i = 0; i < r->n_compiled; i++)
        if (!strcmp(r->compiled[i].path, pp->path) && same_unit(r->compiled[i].unit, pp->unit))
            return r->compiled[i].desc;

    char *diag_text = NULL;
    size_t diag_len = 0;
    FILE *mem = open_memstream(&diag_text, &diag_len);
    if (!mem) {
        snprintf(r->err, r->errlen, "%s: out of memory", pp->at);
        return NULL;
    }
    Diag diag;
    diag_init(&diag, mem);
    AmpcOptions opt = { 0 };
    opt.unit = pp->unit;
    opt.include_dirs = r->opt ? r->opt->include_dirs : NULL;
    opt.n_include_dirs = r->opt ? r->opt->n_include_dirs : 0;
    AmpcResult res;
    memset(&res, 0, sizeof res);
    int rc = ampc_compile_file(pp->path, &opt, &diag, &res);
    fclose(mem);
    if (rc != 0) {
        snprintf(r->err, r->errlen, "%s: cannot compile '%s':\n%s", pp->at, pp->path, diag_text ? diag_text : "");
        free(diag_text);
        return NULL;
    }
    free(diag_text);
    char build_err[4096];
    const AmpPatchDesc *desc = build_shared_object(res.c_text, res.c_len, res.symbol, build_err, sizeof build_err, NULL);
    ampc_result_free(&res);
    if (!desc) {
        snprintf(r->err, r->errlen, "%s: cannot build '%s': %s", pp->at, pp->path, build_err);
        return NULL;
    }
    if (r->n_compiled == r->cap_compiled) {
        int cap = r->cap_compiled ? 2 * r->cap_compiled : 16;
        Compiled *nc = realloc(r->compiled, (size_t)cap * sizeof *nc);
        if (!nc) {
            snprintf(r->err, r->errlen, "out of memory");
            return NULL;
        }
        r->compiled = nc;
        r->cap_compiled = cap;
    }
    Compiled *slot = &r->compiled[r->n_compiled++];
    slot->path = xstrdup(pp->path);
    slot->unit = pp->unit;
    slot->desc = desc;
    return desc;
}

static int param_index(const AmpPatchDesc *d, const char *name)
{
    for (int i = 0; i < d->n_params; i++)
        if (d->params[i].name && !strcmp(d->params[i].name, name))
            return i;
    return -1;
}

/* "no param 'x' (its params: a, b, c)" */
static void no_param(char *err, size_t errlen, const char *at, const AmpPatchDesc *d, const char *name)
{
    char list[512] = "";
    for (int i = 0; i < d->n_params; i++) {
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", d->params[i].name);
    }
    snprintf(err, errlen, "%s: patch '%s' has no param '%s' (its params: %s)", at, d->name, name,
             d->n_params ? list : "none");
}

static int check_value(char *err, size_t errlen, const char *at, const AmpPatchDesc *d, int index, double v)
{
    const AmpParamDesc *pd = &d->params[index];
    if (v >= pd->lo && v <= pd->hi)
        return 0;
    snprintf(err, errlen, "%s: %g is outside the range of '%s' in patch '%s' [%g, %g]", at, v, pd->name, d->name,
             (double)pd->lo, (double)pd->hi);
    return -1;
}

static int resolve_patch(Resolver *r, const Project *p, ProjectPatch *pp, int insert)
{
    pp->path = join_path(p->dir, pp->file);
    if (!pp->path) {
        snprintf(r->err, r->errlen, "out of memory");
        return -1;
    }
    pp->desc = compile_patch(r, pp);
    if (!pp->desc)
        return -1;
    const AmpPatchDesc *d = pp->desc;
    if (d->n_outputs < 1 || d->n_outputs > ENGINE_MAX_CHANNELS || d->n_inputs > ENGINE_MAX_CHANNELS) {
        snprintf(r->err, r->errlen, "%s: patch '%s' has %d inputs and %d outputs; the engine takes 1 to %d outputs",
                 pp->at, d->name, d->n_inputs, d->n_outputs, ENGINE_MAX_CHANNELS);
        return -1;
    }
    if (insert && d->n_inputs < 1) {
        snprintf(r->err, r->errlen, "%s: patch '%s' has no inputs; an insert must be an effect", pp->at, d->name);
        return -1;
    }
    for (int i = 0; i < pp->n_params; i++) {
        ProjectParam *pa = &pp->params[i];
        pa->index = param_index(d, pa->name);
        if (pa->index < 0) {
            no_param(r->err, r->errlen, pa->at, d, pa->name);
            return -1;
        }
        if (check_value(r->err, r->errlen, pa->at, d, pa->index, pa->value))
            return -1;
    }
    return 0;
}

/* Linear interpolation from `from` Hz to `to` Hz. */
static float *resample(const float *x, int64_t n, int from, int to, int64_t *out_n)
{
    if (from == to || n < 2) {
        float *y = malloc((size_t)(n ? n : 1) * sizeof *y);
        if (y && n)
            memcpy(y, x, (size_t)n * sizeof *y);
        *out_n = n;
        return y;
    }
    int64_t m = (int64_t)floor((double)(n - 1) * to / from) + 1;
    float *y = malloc((size_t)m * sizeof *y);
    if (!y)
        return NULL;
    double step = (double)from / to;
    for (int64_t i = 0; i < m; i++) {
        double pos = (double)i * step;
        int64_t k = (int64_t)pos;
        double u = pos - (double)k;
        float a = x[k], b = k + 1 < n ? x[k + 1] : x[k];
        y[i] = (float)(a + (b - a) * u);
    }
    *out_n = m;
    return y;
}

static int load_sample(Project *p, ProjectRegion *reg, char *err, size_t errlen)
{
    char *path = join_path(p->dir, reg->file);
    if (!path) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < p->n_samples; i++) {
        if (!strcmp(p->samples[i].path, path)) {
            reg->sample = i;
            free(path);
            return 0;
        }
    }
    WavData w;
    char werr[300];
    if (wav_read_file(path, &w, werr, sizeof werr)) {
        snprintf(err, errlen, "%s.file: %s", reg->at, werr);
        free(path);
        return -1;
    }
    ProjectSample *ns = realloc(p->samples, (size_t)(p->n_samples + 1) * sizeof *ns);
    if (!ns) {
        wav_free(&w);
        free(path);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p->samples = ns;
    ProjectSample *s = &p->samples[p->n_samples++];
    memset(s, 0, sizeof *s);
    s->path = path;
    int channels = w.channels > 2 ? 2 : w.channels;
    for (int ch = 0; ch < channels; ch++) {
        s->data[ch] = resample(w.data[ch], w.frames, w.sample_rate, p->render_rate, &s->frames);
        s->channels = ch + 1;
        if (!s->data[ch]) {
            wav_free(&w);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    wav_free(&w);
    reg->sample = p->n_samples - 1;
    return 0;
}

static int resolve_lane(const ProjectTrack *t, ProjectLane *l, char *err, size_t errlen)
{
    if (l->slot == ENGINE_LANE_FADER) {
        double lo = l->param_index == ENGINE_FADER_GAIN ? DB_MIN : PAN_MIN;
        double hi = l->param_index == ENGINE_FADER_GAIN ? DB_MAX : PAN_MAX;
        for (int i = 0; i < l->n_points; i++)
            if (!(l->points[i].value >= lo && l->points[i].value <= hi)) {
                snprintf(err, errlen, "%s.points[%d].value: %g is outside the fader's %s range [%g, %g]", l->at, i,
                         l->points[i].value, l->param, lo, hi);
                return -1;
            }
        return 0;
    }
    const ProjectPatch *target = NULL;
    if (l->slot == 0 && t->kind == ENGINE_TRACK_INSTRUMENT)
        target = &t->patch;
    else if (l->slot >= 1 && l->slot <= t->n_inserts)
        target = &t->inserts[l->slot - 1];
    if (!target) {
        snprintf(err, errlen, "%s.target.slot: this track has no slot %d (%s%d insert%s)", l->at, l->slot,
                 t->kind == ENGINE_TRACK_INSTRUMENT ? "slot 0 is its instrument, then " : "", t->n_inserts,
                 t->n_inserts == 1 ? "" : "s");
        return -1;
    }
    char at[MAX_PATH_TEXT + 16];
    snprintf(at, sizeof at, "%s.target.param", l->at);
    l->param_index = param_index(target->desc, l->param);
    if (l->param_index < 0) {
        no_param(err, errlen, at, target->desc, l->param);
        return -1;
    }
    for (int i = 0; i < l->n_points; i++) {
        snprintf(at, sizeof at, "%s.points[%d].value", l->at, i);
        if (check_value(err, errlen, at, target->desc, l->param_index, l->points[i].value))
            return -1;
    }
    return 0;
}

int project_resolve(Project *p, const ProjectOptions *opt, char *err, size_t errlen)
{
    Resolver r = { .opt = opt, .err = err, .errlen = errlen };
    int rc = -1;
    p->render_rate = opt && opt->rate > 0 ? opt->rate : p->sample_rate;
    for (int i = 0; i < p->n_tracks; i++) {
        ProjectTrack *t = &p->tracks[i];
        if (t->kind == ENGINE_TRACK_INSTRUMENT && resolve_patch(&r, p, &t->patch, 0))
            goto done;
        for (int k = 0; k < t->n_inserts; k++)
            if (resolve_patch(&r, p, &t->inserts[k], 1))
                goto done;
        for (int k = 0; k < t->n_lanes; k++)
            if (resolve_lane(t, &t->lanes[k], err, errlen))
                goto done;
        for (int k = 0; k < t->n_regions; k++)
            if (load_sample(p, &t->regions[k], err, errlen))
                goto done;
    }
    rc = 0;
done:
    for (int i = 0; i < r.n_compiled; i++)
        free(r.compiled[i].path);
    free(r.compiled);
    return rc;
}

/* ---- timing ----------------------------------------------------------------------- */

double project_seconds_at(const Project *p, double beat)
{
    double seconds = 0.0, at = 0.0, bpm = p->tempo;
    for (int i = 0; i < p->n_tempo_changes && p->tempo_changes[i].beat < beat; i++) {
        seconds += (p->tempo_changes[i].beat - at) * 60.0 / bpm;
        at = p->tempo_changes[i].beat;
        bpm = p->tempo_changes[i].bpm;
    }
    return seconds + (beat - at) * 60.0 / bpm;
}

static int64_t region_frames(const Project *p, const ProjectRegion *r)
{
    const ProjectSample *s = &p->samples[r->sample];
    int64_t offset = llround(r->offset_seconds * p->render_rate);
    int64_t avail = s->frames > offset ? s->frames - offset : 0;
    if (r->length_seconds <= 0)
        return avail;
    int64_t n = llround(r->length_seconds * p->render_rate);
    return n < avail ? n : avail;
}

/* Seconds until the arrangement ends: length_beats, else the last clip or
 * region end. */
static double length_seconds(const Project *p)
{
    if (p->length_beats >= 0)
        return project_seconds_at(p, p->length_beats);
    double end = 0.0;
    for (int i = 0; i < p->n_tracks; i++) {
        const ProjectTrack *t = &p->tracks[i];
        for (int k = 0; k < t->n_clips; k++) {
            double s = project_seconds_at(p, t->clips[k].start_beat + t->clips[k].length_beats);
            end = s > end ? s : end;
        }
        for (int k = 0; k < t->n_regions; k++) {
            const ProjectRegion *r = &t->regions[k];
            if (r->sample < 0)
                continue;
            double s = project_seconds_at(p, r->start_beat) + (double)region_frames(p, r) / p->render_rate;
            end = s > end ? s : end;
        }
    }
    return end;
}

int64_t project_end_frame(const Project *p)
{
    return llround(length_seconds(p) * p->render_rate);
}

int64_t project_frames(const Project *p)
{
    return project_end_frame(p) + llround(p->tail_seconds * p->render_rate);
}

/* ---- feeding the engine -------------------------------------------------------------- */

static size_t heap_block(size_t bytes)
{
    return 64 + (bytes + 63) / 64 * 64;
}

static int commands_needed(const Project *p)
{
    int n = 16 + p->n_tempo_changes + p->n_samples;
    for (int i = 0; i < p->n_tracks; i++) {
        const ProjectTrack *t = &p->tracks[i];
        n += 8 + t->n_inserts + t->n_sends + 2 * t->n_clips + t->n_regions + t->n_lanes;
    }
    return n;
}

void project_engine_config(const Project *p, EngineConfig *cfg)
{
    engine_config_default(cfg, (float)p->render_rate);
    int inserts = 0, sends = 1, placements = 1, regions = 1, lanes = 1, clips = 0, nodes = 0;
    size_t states = 0, clip_bytes = 0, sample_bytes = 0, lane_bytes = 0;
    for (int i = 0; i < p->n_tracks; i++) {
        const ProjectTrack *t = &p->tracks[i];
        if (t->patch.desc) {
            nodes++;
            states += heap_block(t->patch.desc->state_size);
        }
        for (int k = 0; k < t->n_inserts; k++) {
            nodes++;
            if (t->inserts[k].desc)
                states += heap_block(t->inserts[k].desc->state_size);
        }
        inserts = t->n_inserts > inserts ? t->n_inserts : inserts;
        sends = t->n_sends > sends ? t->n_sends : sends;
        placements = t->n_clips > placements ? t->n_clips : placements;
        regions = t->n_regions > regions ? t->n_regions : regions;
        lanes = t->n_lanes > lanes ? t->n_lanes : lanes;
        clips += t->n_clips;
        for (int k = 0; k < t->n_clips; k++)
            clip_bytes += heap_block(sizeof(EngineClip) + (size_t)t->clips[k].n_notes * sizeof(EngineNote));
        for (int k = 0; k < t->n_lanes; k++)
            lane_bytes += heap_block(sizeof(EngineLane) + (size_t)t->lanes[k].n_points * sizeof(EnginePoint));
    }
    for (int i = 0; i < p->n_samples; i++)
        sample_bytes += heap_block(64 + (size_t)p->samples[i].channels * heap_block((size_t)p->samples[i].frames * sizeof(float)));
    cfg->max_tracks = p->n_tracks > 0 ? p->n_tracks : 1;
    cfg->max_inserts = inserts;
    cfg->max_sends = sends;
    cfg->max_nodes = nodes > 0 ? nodes : 1;
    cfg->state_bytes = states + 128;
    cfg->max_clips = clips > 0 ? clips : 1;
    cfg->max_placements = placements;
    cfg->clip_bytes = clip_bytes + 128;
    cfg->max_samples = p->n_samples > 0 ? p->n_samples : 1;
    cfg->max_regions = regions;
    cfg->sample_bytes = sample_bytes + 128;
    cfg->max_lanes = lanes;
    cfg->lane_bytes = lane_bytes + 128;
    cfg->max_tempo_points = p->n_tempo_changes > 0 ? p->n_tempo_changes : 1;
    cfg->queue_size = commands_needed(p);
    cfg->max_block = 1024;
}

static EngineNode *make_node(Engine *e, const ProjectPatch *pp, char *err, size_t errlen)
{
    char nerr[300];
    EngineNode *nd = engine_node_new(e, pp->desc, nerr, sizeof nerr);
    if (!nd) {
        snprintf(err, errlen, "%s: %s", pp->at, nerr);
        return NULL;
    }
    for (int i = 0; i < pp->n_params; i++)
        engine_node_set_param(nd, pp->params[i].index, (float)pp->params[i].value);
    engine_node_settle(nd);
    return nd;
}

/* The commands of one track (its id in the engine is its index). */
static int feed_track(const Project *p, Engine *e, int index, int *clip_id, char *err, size_t errlen)
{
    const ProjectTrack *t = &p->tracks[index];
    int bad = 0;
    if (t->kind == ENGINE_TRACK_INSTRUMENT) {
        EngineNode *nd = make_node(e, &t->patch, err, errlen);
        if (!nd)
            return -1;
        if (engine_set_instrument(e, 0, index, nd)) {
            engine_node_free(e, nd);
            bad = 1;
        }
        bad |= engine_set_voice_mode(e, 0, index, t->voice_mode, t->priority, (float)t->glide_seconds) != 0;
    }
    for (int k = 0; k < t->n_inserts && !bad; k++) {
        EngineNode *nd = make_node(e, &t->inserts[k], err, errlen);
        if (!nd)
            return -1;
        if (engine_insert_add(e, 0, index, k, nd)) {
            engine_node_free(e, nd);
            bad = 1;
        }
    }
    bad |= engine_set_gain(e, 0, index, (float)t->gain_db) != 0;
    bad |= engine_set_pan(e, 0, index, (float)t->pan) != 0;
    bad |= engine_set_mute(e, 0, index, t->mute) != 0;
    bad |= engine_set_solo(e, 0, index, t->solo) != 0;
    for (int k = 0; k < t->n_clips && !bad; k++) {
        const ProjectClip *pc = &t->clips[k];
        EngineClip *clip = engine_clip_new(e, pc->n_notes);
        if (!clip) {
            snprintf(err, errlen, "tracks[%d].clips[%d]: the clip pool is full", index, k);
            return -1;
        }
        for (int j = 0; j < pc->n_notes; j++)
            clip->notes[j] = (EngineNote){ .start = pc->notes[j].start_beat, .length = pc->notes[j].length_beats,
                                           .key = pc->notes[j].key, .vel = (float)pc->notes[j].velocity };
        if (engine_load_clip(e, 0, *clip_id, clip)) {
            engine_clip_free(e, clip);
            bad = 1;
            break;
        }
        bad |= engine_place_clip(e, 0, index, k, *clip_id, pc->start_beat, pc->length_beats) != 0;
        ++*clip_id;
    }
    for (int k = 0; k < t->n_regions && !bad; k++) {
        const ProjectRegion *r = &t->regions[k];
        int64_t offset = llround(r->offset_seconds * p->render_rate);
        bad |= engine_place_region(e, 0, index, k, r->sample, r->start_beat, offset, region_frames(p, r),
                                   (float)r->gain_db) != 0;
    }
    for (int k = 0; k < t->n_lanes && !bad; k++) {
        const ProjectLane *l = &t->lanes[k];
        EngineLane *lane = engine_lane_new(e, l->n_points);
        if (!lane) {
            snprintf(err, errlen, "%s: the automation pool is full", l->at);
            return -1;
        }
        lane->unit = ENGINE_TIME_BEATS;
        for (int j = 0; j < l->n_points; j++)
            lane->points[j] = (EnginePoint){ .time = l->points[j].beat, .value = (float)l->points[j].value };
        if (engine_set_lane(e, 0, index, k, l->slot, l->param_index, lane)) {
            engine_lane_free(e, lane);
            bad = 1;
        }
    }
    if (bad) {
        snprintf(err, errlen, "tracks[%d]: the engine refused a command (queue full?)", index);
        return -1;
    }
    return 0;
}

int project_feed(const Project *p, Engine *e, char *err, size_t errlen)
{
    int bad = engine_set_tempo(e, 0, p->tempo) != 0;
    for (int i = 0; i < p->n_tempo_changes; i++)
        bad |= engine_add_tempo_change(e, 0, p->tempo_changes[i].beat, p->tempo_changes[i].bpm) != 0;
    bad |= engine_set_time_signature(e, 0, p->sig_num, p->sig_den) != 0;
    if (p->loop_enabled)
        bad |= engine_set_loop(e, 0, 1, p->loop_start, p->loop_end) != 0;
    bad |= engine_set_gain(e, 0, ENGINE_MASTER, (float)p->master_gain_db) != 0;
    for (int i = 0; i < p->n_samples && !bad; i++) {
        const ProjectSample *ps = &p->samples[i];
        EngineSample *s = engine_sample_new(e, ps->channels, ps->frames);
        if (!s) {
            snprintf(err, errlen, "the sample pool is full ('%s')", ps->path);
            return -1;
        }
        for (int ch = 0; ch < ps->channels; ch++)
            memcpy(s->data[ch], ps->data[ch], (size_t)ps->frames * sizeof(float));
        if (engine_load_sample(e, 0, i, s)) {
            engine_sample_free(e, s);
            bad = 1;
        }
    }
    for (int i = 0; i < p->n_tracks; i++)
        bad |= engine_add_track(e, 0, i, p->tracks[i].kind) != 0;
    if (bad) {
        snprintf(err, errlen, "the engine refused a command (queue full?)");
        return -1;
    }
    int clip_id = 0;
    for (int i = 0; i < p->n_tracks; i++)
        if (feed_track(p, e, i, &clip_id, err, errlen))
            return -1;
    for (int i = 0; i < p->n_tracks; i++)
        for (int k = 0; k < p->tracks[i].n_sends; k++)
            bad |= engine_set_send(e, 0, i, k, p->tracks[i].sends[k].bus_index,
                                   (float)p->tracks[i].sends[k].level_db) != 0;
    bad |= engine_play(e, 0) != 0;
    bad |= engine_stop(e, project_end_frame(p)) != 0;
    if (bad) {
        snprintf(err, errlen, "the engine refused a command (queue full?)");
        return -1;
    }
    return 0;
}

void project_render(Engine *e, float *left, float *right, int64_t frames, ProjectProgress progress, void *user,
                    int *faults)
{
    int64_t step = frames / 100 > PROJECT_BLOCK ? frames / 100 : PROJECT_BLOCK;
    int64_t next_report = 0;
    for (int64_t done = 0; done < frames;) {
        int n = frames - done < PROJECT_BLOCK ? (int)(frames - done) : PROJECT_BLOCK;
        float *out[2] = { left + done, right + done };
        engine_render(e, out, n);
        engine_drain(e, faults, NULL);
        done += n;
        if (progress && (done >= next_report || done == frames)) {
            progress(user, done, frames);
            next_report = done + step;
        }
    }
}
