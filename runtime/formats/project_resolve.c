/* project_resolve.c — a read Project made ready to feed (see
 * project_resolve.h): each patch through the caller's loader, its params
 * and automation lanes checked against the descriptor, each WAV file read
 * once and resampled to the render rate.
 *
 * Messages start with the JSON path project_read.c kept for the field
 * (`at`), so an unknown param reads like a typo in the document would.
 *
 * In engine.wasm there is no file system: audio comes only through the
 * loader's read_audio (AMP_NO_FILES, set by web/web.mk, leaves the file
 * reader out).
 */
#include "project_resolve.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wav.h"

/* ---- patches ------------------------------------------------------------------- */

/* `file` as written in the document, taken from the project's folder. */
static char *join_path(const char *dir, const char *file)
{
    if (file[0] == '/' || !strcmp(dir, "."))
        return strdup(file);
    size_t n = strlen(dir) + strlen(file) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", dir, file);
    return s;
}

/* One patch the loader gave, so a file used by several tracks is loaded
 * once per resolve. */
typedef struct LoadedPatch {
    char *path;                         /* NULL for a library or built-in patch */
    const char *library;                /* a library patch's id, NULL for a file */
    int library_revision;
    const char *builtin;                /* a built-in patch's path, or NULL */
    const AmpPatchDesc *desc;
    const char *unit;                   /* NULL: the file's default unit */
} LoadedPatch;

typedef struct ProjectResolver {
    LoadedPatch *loaded;
    int n_loaded, cap_loaded;
    const ProjectPatchLoader *loader;
    char *err;
    size_t errlen;
} ProjectResolver;

static int same_unit(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Was this patch (file or library revision, and unit) loaded already? */
static int same_patch(const LoadedPatch *l, const ProjectPatch *pp)
{
    if (!same_unit(l->unit, pp->unit))
        return 0;
    if (pp->library)
        return l->library && !strcmp(l->library, pp->library) && l->library_revision == pp->library_revision;
    if (pp->builtin)
        return l->builtin && !strcmp(l->builtin, pp->builtin);
    return l->path && !strcmp(l->path, pp->path);
}

/* Ask the loader for a file, a library patch or a built-in one (which a
 * loader without load_library / load_builtin refuses). */
static const AmpPatchDesc *ask_loader(const ProjectPatchLoader *loader, const ProjectPatch *pp, char *err,
                                      size_t errlen)
{
    if (pp->builtin) {
        if (!loader->load_builtin) {
            snprintf(err, errlen, "built-in patch '%s': this loader has no built-in library", pp->builtin);
            return NULL;
        }
        return loader->load_builtin(loader->user, pp->builtin, pp->unit, err, errlen);
    }
    if (!pp->library)
        return loader->load(loader->user, pp->path, pp->unit, err, errlen);
    if (!loader->load_library) {
        snprintf(err, errlen, "library patch '%s' revision %d: a library patch needs ampd", pp->library,
                 pp->library_revision);
        return NULL;
    }
    return loader->load_library(loader->user, pp->library, pp->library_revision, pp->unit, err, errlen);
}

/* The descriptor for pp (its file or library revision, and its unit): from
 * the memo, else from the loader, whose message is prefixed with the
 * patch's JSON path. */
static const AmpPatchDesc *load_patch(ProjectResolver *r, const ProjectPatch *pp)
{
    for (int i = 0; i < r->n_loaded; i++)
        if (same_patch(&r->loaded[i], pp))
            return r->loaded[i].desc;

    char *loader_err = malloc(r->errlen ? r->errlen : 1);
    if (!loader_err) {
        snprintf(r->err, r->errlen, "out of memory");
        return NULL;
    }
    loader_err[0] = '\0';
    const AmpPatchDesc *desc = ask_loader(r->loader, pp, loader_err, r->errlen);
    if (!desc && r->loader->patches_only && !loader_err[0]) {
        free(loader_err); /* r->err stays "": the caller skips the patch */
        return NULL;
    }
    if (!desc) {
        snprintf(r->err, r->errlen, "%s: %s", pp->at, loader_err);
        free(loader_err);
        return NULL;
    }
    free(loader_err);
    if (r->n_loaded == r->cap_loaded) {
        int cap = r->cap_loaded ? 2 * r->cap_loaded : 16;
        LoadedPatch *bigger = realloc(r->loaded, (size_t)cap * sizeof *bigger);
        if (!bigger) {
            snprintf(r->err, r->errlen, "out of memory");
            return NULL;
        }
        r->loaded = bigger;
        r->cap_loaded = cap;
    }
    LoadedPatch *slot = &r->loaded[r->n_loaded++];
    *slot = (LoadedPatch){ .path = pp->path ? strdup(pp->path) : NULL, .library = pp->library,
                           .library_revision = pp->library_revision, .builtin = pp->builtin, .desc = desc,
                           .unit = pp->unit };
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

static int resolve_patch(ProjectResolver *r, const Project *p, ProjectPatch *pp, int insert)
{
    int named_by_file = !pp->library && !pp->builtin;
    if (named_by_file && r->loader->patches_only && !r->loader->load)
        return 0;
    pp->path = named_by_file ? join_path(p->dir, pp->file) : NULL;
    if (named_by_file && !pp->path) {
        snprintf(r->err, r->errlen, "out of memory");
        return -1;
    }
    r->err[0] = '\0';
    pp->desc = load_patch(r, pp);
    if (!pp->desc && r->loader->patches_only && !r->err[0])
        return 0; /* the loader cannot check this patch: skipped */
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

/* ---- audio files ----------------------------------------------------------------- */

/* Linear interpolation from `from` Hz to `to` Hz (project_resolve.h). */
float *project_resample(const float *x, int64_t n, int from, int to, int64_t *out_n)
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

/* The WAV file of a region: through the loader's read_audio when it has
 * one, else (natively) from the file. */
static int read_wav(const ProjectPatchLoader *loader, const char *path, const char *asset, WavData *w, char *err,
                    size_t errlen)
{
    int rc = 1;
    if (loader && loader->read_audio) {
        const unsigned char *bytes = NULL;
        size_t len = 0;
        rc = loader->read_audio(loader->user, path, asset, &bytes, &len, err, errlen);
        if (rc == 0)
            return wav_read_memory(bytes, len, w, err, errlen);
        if (rc < 0)
            return -1;
    }
#ifdef AMP_NO_FILES
    snprintf(err, errlen, "no audio was handed in for '%s' (this build reads no files)", asset ? asset : path);
    return -1;
#else
    return wav_read_file(path, w, err, errlen);
#endif
}

static int load_sample(Project *p, const ProjectPatchLoader *loader, ProjectRegion *reg, char *err, size_t errlen)
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
    if (read_wav(loader, path, reg->asset, &w, werr, sizeof werr)) {
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
        s->data[ch] = project_resample(w.data[ch], w.frames, w.sample_rate, p->render_rate, &s->frames);
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

/* ---- automation lanes and the whole project -------------------------------------- */

static int resolve_lane(const ProjectTrack *t, ProjectLane *l, char *err, size_t errlen)
{
    if (l->slot == ENGINE_LANE_FADER) {
        double lo = l->param_index == ENGINE_FADER_GAIN ? PROJECT_DB_MIN : PROJECT_PAN_MIN;
        double hi = l->param_index == ENGINE_FADER_GAIN ? PROJECT_DB_MAX : PROJECT_PAN_MAX;
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
    if (!target->desc)
        return 0; /* a patch project_resolve skipped (ProjectPatchLoader.patches_only) */
    char at[PROJECT_MAX_JSON_PATH + 16];
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

/* The instrument's sample slots named in "samples": each name one of the
 * descriptor's, its WAV loaded as a region's is. */
static int resolve_sample_slots(Project *p, const ProjectPatchLoader *loader, ProjectTrack *t, char *err,
                                size_t errlen)
{
    const AmpPatchDesc *d = t->patch.desc;
    for (int k = 0; k < t->n_sample_slots; k++) {
        ProjectSampleSlot *s = &t->sample_slots[k];
        for (int j = 0; d && j < d->n_samples && s->slot_index < 0; j++)
            if (!strcmp(d->sample_names[j], s->slot))
                s->slot_index = j;
        if (s->slot_index < 0 || s->slot_index >= ENGINE_SAMPLE_SLOTS) {
            int n = snprintf(err, errlen, "%s: the patch has no sample slot '%s' (its slots:", s->source.at, s->slot);
            for (int j = 0; d && j < d->n_samples && n > 0 && (size_t)n < errlen; j++)
                n += snprintf(err + n, errlen - (size_t)n, " '%s'", d->sample_names[j]);
            if (n > 0 && (size_t)n < errlen)
                snprintf(err + n, errlen - (size_t)n, "%s)", d && d->n_samples ? "" : " none");
            return -1;
        }
        if (!loader->patches_only && load_sample(p, loader, &s->source, err, errlen))
            return -1;
    }
    return 0;
}

int project_resolve(Project *p, const ProjectPatchLoader *loader, int rate, char *err, size_t errlen)
{
    ProjectResolver r = { .loader = loader, .err = err, .errlen = errlen };
    int rc = -1;
    p->render_rate = rate > 0 ? rate : p->sample_rate;
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
        for (int k = 0; k < t->n_regions && !loader->patches_only; k++)
            if (load_sample(p, loader, &t->regions[k], err, errlen))
                goto done;
        if (t->kind == ENGINE_TRACK_INSTRUMENT && resolve_sample_slots(p, loader, t, err, errlen))
            goto done;
    }
    rc = 0;
done:
    for (int i = 0; i < r.n_loaded; i++)
        free(r.loaded[i].path);
    free(r.loaded);
    return rc;
}
