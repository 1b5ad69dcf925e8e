/* amp.c — the `amp` command: render a patch, a project or a MIDI file to a
 * WAV file; import a MIDI file as a project.
 *
 *   amp render FILE.amp [options] -o OUT.wav
 *   amp render PROJECT.json [-o OUT.wav] [--rate SR] [--seconds S] [--format F]
 *   amp render SONG.mid [--patch FILE.amp[:UNIT]] [...] -o OUT.wav
 *   amp import SONG.mid [--patch FILE.amp[:UNIT]] [--drums ...] [--builtin] [--project-version 2] -o PROJECT.json
 *
 * A patch, in order: compile the .amp file to C with the compiler library
 * (ampc_compile_file, diagnostics on stderr) -> build the C into a cached
 * shared object and load it (build.c) -> run it over the note list and/or
 * the input file (host.c) -> write the outputs as WAV (wav.c).
 * A project (runtime/formats/PROJECT.md): load and validate the JSON
 * (project_read.c), compile its patches with the native loader
 * (patch_loader.c) and read its audio (project_resolve.c) -> an engine
 * sized for it and fed (project_feed.c, engine_control.c) -> render offline in
 * blocks of 128, with a progress bar when stderr is a terminal -> write the
 * stereo mix.
 * A MIDI file (midi_import.c): the Standard MIDI File becomes a project
 * document (written by `import`; held in memory by `render`, every track
 * playing --patch), then as for a project.
 *
 * Exit status: 0 done, 1 the patch or a file failed (diagnostics printed;
 * for a project also when the engine reported a fault: a slot's output
 * NaN/Inf or beyond +96 dBFS, or the master past its +12 dBFS safety
 * limit; the mix is written, those blocks muted or clipped, and the first
 * fault named), 2 the command line is wrong.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "amp_patch.h"
#include "ampc.h"
#include "build.h"
#include "diag.h"
#include "engine.h"
#include "host.h"
#include "midi_import.h"
#include "notes.h"
#include "patch_loader.h"
#include "project_feed.h"
#include "project_read.h"
#include "project_render.h"
#include "project_resolve.h"
#include "wav.h"

#define DEFAULT_RATE 48000
#define MAX_SECONDS 3600.0
#define MAX_PARAMS 256
#define MAX_INCLUDE_DIRS 64

static const char usage_main[] =
    "usage: amp COMMAND ...\n"
    "\n"
    "commands:\n"
    "  render FILE.amp [options] -o OUT.wav   compile a patch and render it to a WAV file\n"
    "  render PROJECT.json -o OUT.wav         render a project (runtime/formats/PROJECT.md) to a WAV file\n"
    "  render SONG.mid -o OUT.wav             render a MIDI file (every track through --patch P.amp)\n"
    "  import SONG.mid -o PROJECT.json        turn a MIDI file into a project\n"
    "  version                                print the versions of amp, ampc and the patch ABI\n"
    "  help                                   this text; `amp render --help` for render's options\n";

static const char usage_render[] =
    "usage: amp render FILE.amp [options] -o OUT.wav\n"
    "       amp render PROJECT.json [-I DIR] [--library DIR] [--rate SR] [--seconds S] [--format F]\n"
    "                           [--dither] [--stems DIR] -o OUT.wav\n"
    "       amp render SONG.mid [--patch FILE.amp[:UNIT]] [--drums FILE.amp[:UNIT]] [--nodes DIR]\n"
    "                           [-I DIR] [--rate SR] [--seconds S] [--format F] -o OUT.wav\n"
    "\n"
    "Compiles the patch in FILE.amp, builds it natively (cached by content in\n"
    "$AMP_CACHE, else $XDG_CACHE_HOME/amplitude or ~/.cache/amplitude; $CC picks\n"
    "the C compiler) and renders it.\n"
    "\n"
    "options:\n"
    "  -o OUT.wav           where to write (required)\n"
    "  --swap-at N B.amp    hot swap to the patch of B.amp at sample N, as the engine's\n"
    "                       swap_patch does (params, voices and matching state carry over;\n"
    "                       a 10 ms crossfade when something cannot)\n"
    "  --unit NAME          the patch or node to render (default: the file's last patch,\n"
    "                       else its last node)\n"
    "  -I DIR               also look for imports in DIR (repeatable)\n"
    "  --notes LIST         notes to play: KEY@START:END[/VEL] separated by spaces or commas;\n"
    "                       KEY is a MIDI number or a name (C4 = 60, F#5, Bb3), times in\n"
    "                       seconds, VEL in [0, 1] (default 0.8)\n"
    "  --seconds S          length (default: last note end + 1 s; the input's length with\n"
    "                       --input; else 2 s)\n"
    "  --rate SR            sample rate in Hz, 8000 to 192000 (default 48000, or the input's rate)\n"
    "  --input IN.wav       audio for an effect's inputs: a mono file feeds every input,\n"
    "                       otherwise channel k feeds input k (missing channels: silence)\n"
    "  --param NAME=VALUE   set a param from the start, in its unit (repeatable)\n"
    "  --sample SLOT=W.wav  bind a sample slot of the patch (its metadata's \"samples\", e.g.\n"
    "                       p.wav) to a WAV file, resampled to the rate (repeatable)\n"
    "  --format f32|s24|s16 sample format of OUT.wav (default f32)\n"
    "  --dither             with s16: TPDF dither (runtime/formats/wav.h), as the browser's\n"
    "                       16-bit export\n"
    "\n"
    "A .json file is a project: its tracks, clips, audio regions, mixer and\n"
    "automation are rendered offline, faster than real time, to a stereo mix\n"
    "(--rate overrides the project's sample rate, --seconds its length; patch\n"
    "paths are relative to the project file; -I adds import folders). Its\n"
    "{\"builtin\": \"epiano.amp\"} patches are files of --library DIR (default:\n"
    "./nodes when it exists), as ampd --library serves them. --stems DIR also\n"
    "writes DIR/track-ID.wav for every instrument and audio track: the project\n"
    "with that track soloed (its sends and the buses they feed included).\n"
    "\n"
    "A .mid file (.midi, .smf) is imported as `amp import` does and rendered as a\n"
    "project, every track through --patch (default NODES/pad.amp; channel 10 too,\n"
    "unless --drums names another patch); --nodes DIR is where the default patches\n"
    "are (default: nodes). --unit, --notes, --input and --param do not apply.\n"
    "\n"
    "examples:\n"
    "  amp render nodes/pad.amp --notes '60@0:1 64@0.5:1.5 67@1:2.5' -o pad.wav\n"
    "  amp render lead.amp --notes 'C4@0:0.5/1 E4@0.5:1 G4@1:2' --param cutoff=800 -o lead.wav\n"
    "  amp render echo.amp --input voice.wav --format s16 -o echo.wav\n"
    "  amp render tests/projects/demo.json -o mix.wav\n"
    "  amp render song.mid --patch nodes/epiano.amp -o song.wav\n";

static const char usage_import[] =
    "usage: amp import SONG.mid -o PROJECT.json [options]\n"
    "\n"
    "Turns a Standard MIDI File into a project document (runtime/formats/PROJECT.md):\n"
    "its tempo and tempo changes, its time signature, and per MIDI track with notes\n"
    "an instrument track holding one clip with all of them; the notes of channel 10\n"
    "go to a drums track of their own. Patch paths in the document are relative to\n"
    "the folder of PROJECT.json (-o - writes to stdout, relative to here).\n"
    "\n"
    "options:\n"
    "  -o PROJECT.json        where to write (required)\n"
    "  --patch FILE[:UNIT]    the instrument tracks' patch (default NODES/pad.amp)\n"
    "  --drums FILE[:UNIT]    the drums tracks' patch (default NODES/drums.amp)\n"
    "  --nodes DIR            where the default patches are (default: nodes)\n"
    "  --rate SR              the project's sample rate, 8000 to 192000 Hz (default 48000)\n"
    "  --builtin              name the patches as built-in library ids, {\"builtin\": ...}:\n"
    "                         --patch/--drums ID[:UNIT] (default pad.amp, drums.amp), no file read\n"
    "                         (what the browser's import writes)\n"
    "  --project-version N    1 (default: fixed 2 s tail, one time signature) or 2 (the\n"
    "                         DAW's: tail rule, time signature changes on bar lines)\n"
    "\n"
    "example:\n"
    "  amp import song.mid --patch nodes/epiano.amp -o song.json && amp render song.json -o song.wav\n";

typedef struct RenderArgs {
    const char *file;
    const char *out;
    const char *unit;
    const char *include_dirs[MAX_INCLUDE_DIRS];
    int n_include_dirs;
    const char *notes;
    double seconds;        /* 0: default */
    int rate;              /* 0: default */
    const char *input;
    const char *params[MAX_PARAMS];   /* "name=value" */
    int n_params;
    const char *samples[ENGINE_SAMPLE_SLOTS];   /* --sample "slot=file.wav" */
    int n_samples;
    WavFormat format;
    const char *patch;     /* MIDI: --patch FILE[:UNIT] */
    const char *drums;     /* MIDI: --drums FILE[:UNIT] */
    const char *nodes;     /* MIDI: --nodes DIR */
    int dither;            /* --dither: s16 with TPDF dither */
    const char *library;   /* project: --library DIR, the built-in patches */
    const char *stems;     /* project: --stems DIR */
    long swap_at;          /* --swap-at N B.amp: the frame of the hot swap ... */
    const char *swap_file; /* ... to this patch text (NULL: none) */
} RenderArgs;

/* "f32", "s24", "s16", "s16 dithered". */
static const char *format_name(WavFormat f)
{
    return f == WAV_F32 ? "f32" : f == WAV_S24 ? "s24" : f == WAV_S16 ? "s16" : "s16 dithered";
}

static int usage_error(const char *fmt, const char *arg)
{
    fputs("amp render: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\n(see `amp render --help`)\n", stderr);
    return 2;
}

/* The value of option argv[*i]: after '=' in "--opt=value", else the next
 * word. NULL when there is none. */
static const char *option_value(int argc, char **argv, int *i, const char *eq)
{
    if (eq)
        return eq + 1;
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

static int parse_double(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return end != s && *end == '\0' && errno == 0 && isfinite(*v) ? 0 : -1;
}

/* Fill *a from argv (argv[0] is "render"). Returns 0, 1 for --help, or 2. */
static int parse_render_args(int argc, char **argv, RenderArgs *a)
{
    memset(a, 0, sizeof *a);
    a->format = WAV_F32;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || !strcmp(arg, "-")) {
            if (a->file)
                return usage_error("more than one input file ('%s')", arg);
            a->file = arg;
            continue;
        }
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help"))
            return 1;
        if (!strcmp(arg, "--dither")) {
            a->dither = 1;
            continue;
        }
        if (!strncmp(arg, "-I", 2)) {
            const char *dir = arg[2] ? arg + 2 : option_value(argc, argv, &i, NULL);
            if (!dir)
                return usage_error("%s needs a folder", "-I");
            if (a->n_include_dirs == MAX_INCLUDE_DIRS)
                return usage_error("too many -I folders (at most %s)", "64");
            a->include_dirs[a->n_include_dirs++] = dir;
            continue;
        }
        if (!strcmp(arg, "--swap-at")) {   /* two values: the frame and the patch */
            double v;
            if (i + 2 >= argc)
                return usage_error("%s needs a frame and a patch: --swap-at N B.amp", arg);
            if (parse_double(argv[i + 1], &v) || v != floor(v) || v < 0 || v > 1e12)
                return usage_error("--swap-at wants a whole frame number, not '%s'", argv[i + 1]);
            a->swap_at = (long)v;
            a->swap_file = argv[i + 2];
            i += 2;
            continue;
        }
        /* Every other option takes one value: "-o X", "--opt X", "--opt=X". */
        char name[32];
        const char *eq = strncmp(arg, "--", 2) ? NULL : strchr(arg, '=');
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        if (name_len >= sizeof name)
            return usage_error("unknown option '%s'", arg);
        memcpy(name, arg, name_len);
        name[name_len] = '\0';
        static const char *const known[] = { "-o", "--unit", "--notes", "--seconds", "--rate",
                                             "--input", "--param", "--format", "--patch", "--drums",
                                             "--nodes", "--library", "--stems", "--sample" };
        int k = -1;
        for (int j = 0; j < (int)(sizeof known / sizeof known[0]); j++)
            if (!strcmp(name, known[j]))
                k = j;
        if (k < 0)
            return usage_error("unknown option '%s'", arg);
        const char *value = option_value(argc, argv, &i, eq);
        if (!value)
            return usage_error("%s needs a value", name);
        double v;
        switch (k) {
        case 0: a->out = value; break;
        case 1: a->unit = value; break;
        case 2: a->notes = value; break;
        case 3:
            if (parse_double(value, &v) || v <= 0.0 || v > MAX_SECONDS)
                return usage_error("--seconds wants a length in seconds, 0 < S <= 3600, not '%s'", value);
            a->seconds = v;
            break;
        case 4:
            /* a whole number here; whether it is supported, cmd_render says */
            if (parse_double(value, &v) || v != floor(v) || v < 1.0 || v > 1e9)
                return usage_error("--rate wants a whole number of Hz, not '%s'", value);
            a->rate = (int)v;
            break;
        case 5: a->input = value; break;
        case 6:
            if (!strchr(value, '=') || value[0] == '=')
                return usage_error("--param wants NAME=VALUE, not '%s'", value);
            if (a->n_params == MAX_PARAMS)
                return usage_error("too many --param options (at most %s)", "256");
            a->params[a->n_params++] = value;
            break;
        case 7:
            if (!strcmp(value, "f32"))
                a->format = WAV_F32;
            else if (!strcmp(value, "s16"))
                a->format = WAV_S16;
            else if (!strcmp(value, "s24"))
                a->format = WAV_S24;
            else
                return usage_error("--format is f32, s24 or s16, not '%s'", value);
            break;
        case 8: a->patch = value; break;
        case 9: a->drums = value; break;
        case 10: a->nodes = value; break;
        case 11: a->library = value; break;
        case 12: a->stems = value; break;
        case 13:
            if (!strchr(value, '=') || value[0] == '=')
                return usage_error("--sample wants SLOT=FILE.wav, not '%s'", value);
            if (a->n_samples == ENGINE_SAMPLE_SLOTS)
                return usage_error("too many --sample options (at most %s)", "8");
            a->samples[a->n_samples++] = value;
            break;
        }
    }
    if (a->dither && a->format != WAV_S16)
        return usage_error("%s", "--dither goes with --format s16");
    if (a->dither)
        a->format = WAV_S16_TPDF;
    if (!a->file)
        return usage_error("%s", "no FILE.amp, PROJECT.json or SONG.mid given");
    if (!a->out)
        return usage_error("%s", "no output given (-o OUT.wav)");
    return 0;
}

/* --param NAME=VALUE, applied before rendering. Returns 0 or 1 (error). */
static int apply_params(HostPatch *hp, const RenderArgs *a)
{
    const AmpPatchDesc *d = hp->desc;
    for (int i = 0; i < a->n_params; i++) {
        const char *eq = strchr(a->params[i], '=');
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(eq - a->params[i]), a->params[i]);
        int index = host_param_index(hp, name);
        if (index < 0) {
            fprintf(stderr, "amp: patch '%s' has no param '%s'; its params:", d->name, name);
            for (int p = 0; p < d->n_params; p++)
                fprintf(stderr, " %s", d->params[p].name);
            fputs(d->n_params ? "\n" : " (none)\n", stderr);
            return 1;
        }
        double v;
        if (parse_double(eq + 1, &v)) {
            fprintf(stderr, "amp: --param %s: '%s' is not a number\n", name, eq + 1);
            return 1;
        }
        char at[160], err[512];
        snprintf(at, sizeof at, "--param %s", name);
        if (host_set_param_checked(hp, index, v, at, err, sizeof err)) {
            fprintf(stderr, "amp: %s\n", err);
            return 1;
        }
    }
    /* reset() keeps the param values and settles their smoothing, so the
     * render starts at the values given rather than gliding to them. */
    if (a->n_params)
        host_reset(hp);
    return 0;
}

/* The patch's input buffers, each `frames` long: a mono file feeds every
 * input, otherwise channel k feeds input k; what is missing is silence. */
static float **map_inputs(const WavData *w, int n_inputs, long frames)
{
    float **in = calloc((size_t)n_inputs + 1, sizeof *in);
    if (!in)
        return NULL;
    for (int k = 0; k < n_inputs; k++) {
        in[k] = calloc((size_t)frames + 1, sizeof(float));
        if (!in[k])
            return in;     /* caller checks every buffer */
        int c = w->channels == 1 ? 0 : k;
        if (c < w->channels) {
            long n = w->frames < frames ? w->frames : frames;
            memcpy(in[k], w->data[c], (size_t)n * sizeof(float));
        }
    }
    return in;
}

static void free_buffers(float **b, int n)
{
    if (!b)
        return;
    for (int i = 0; i < n; i++)
        free(b[i]);
    free(b);
}

static double peak_of(float *const *out, int channels, long frames)
{
    double peak = 0.0;
    for (int c = 0; c < channels; c++)
        for (long i = 0; i < frames; i++)
            if (fabs(out[c][i]) > peak)
                peak = fabs(out[c][i]);
    return peak;
}

/* Render the loaded patch and write the file. Returns an exit status. */
/* The notes' commands with a host_swap at a->swap_at (after the commands
 * timed at or before it), then host_render. 0, or -1 out of memory. */
static int render_swapped(HostPatch *hp, const RenderArgs *a, const NoteList *notes, const float *const *in,
                          float *const *out, long frames)
{
    int n = 0;
    Command *cmd = notes_to_commands(notes, hp->sample_rate, &n);
    if (!cmd && notes->n > 0)
        return -1;
    Command *all = malloc(((size_t)n + 1) * sizeof *all);
    if (!all) {
        free(cmd);
        return -1;
    }
    int k = 0, j = 0;
    while (j < n && cmd[j].header.time <= a->swap_at)
        all[k++] = cmd[j++];
    all[k++] = host_swap(a->swap_at);
    while (j < n)
        all[k++] = cmd[j++];
    host_render(hp, all, k, in, out, frames);
    free(all);
    free(cmd);
    return 0;
}

/* --sample SLOT=FILE.wav: each file read, resampled to `rate` (as a
 * project's samples are) and bound to the slot in hp's state; data[k][c]
 * keeps the audio until the render is done. 0, or -1 after a message. */
static int bind_samples(HostPatch *hp, const RenderArgs *a, int rate, float *data[][2])
{
    const AmpPatchDesc *d = hp->desc;
    for (int k = 0; k < a->n_samples; k++) {
        const char *eq = strchr(a->samples[k], '=');
        int slot = -1;
        for (int j = 0; j < d->n_samples && slot < 0; j++)
            if (strlen(d->sample_names[j]) == (size_t)(eq - a->samples[k]) &&
                !strncmp(d->sample_names[j], a->samples[k], (size_t)(eq - a->samples[k])))
                slot = j;
        if (slot < 0) {
            fprintf(stderr, "amp: --sample %s: patch '%s' has no such sample slot (it has %d)\n", a->samples[k],
                    d->name, d->n_samples);
            return -1;
        }
        WavData w;
        char err[300];
        if (wav_read_file(eq + 1, &w, err, sizeof err)) {
            fprintf(stderr, "amp: --sample %s: %s\n", a->samples[k], err);
            return -1;
        }
        int64_t frames = 0;
        for (int c = 0; c < 2 && c < w.channels; c++)
            data[k][c] = project_resample(w.data[c], w.frames, w.sample_rate, rate, &frames);
        wav_free(&w);
        if (!data[k][0] || (w.channels > 1 && !data[k][1])) {
            fprintf(stderr, "amp: out of memory\n");
            return -1;
        }
        AmpSample *s = d->sample(hp->state, slot);
        s->data[0].p = data[k][0];
        s->data[1].p = data[k][1] ? data[k][1] : data[k][0];
        s->frames = (int32_t)(frames < AMP_SAMPLE_MAX_FRAMES ? frames : AMP_SAMPLE_MAX_FRAMES);
        s->rate = (float)rate;
    }
    return 0;
}

static int render_patch(const AmpPatchDesc *desc, const AmpPatchDesc *swap_desc, int from_cache,
                        const RenderArgs *a, const NoteList *notes)
{
    float *sample_data[ENGINE_SAMPLE_SLOTS][2] = { { 0 } };
    char err[512];
    WavData input = { 0 };
    HostPatch hp = { 0 };
    float **in = NULL, **out = NULL;
    int status = 1;

    int rate = a->rate ? a->rate : DEFAULT_RATE;
    if (a->input) {
        if (wav_read_file(a->input, &input, err, sizeof err)) {
            fprintf(stderr, "amp: %s\n", err);
            goto done;
        }
        if (!a->rate) {
            rate = input.sample_rate;
        } else if (input.sample_rate != a->rate) {
            fprintf(stderr, "amp: %s is %d Hz but --rate is %d (amp does not resample)\n",
                    a->input, input.sample_rate, a->rate);
            goto done;
        }
        if (desc->n_inputs == 0)
            fprintf(stderr, "amp: warning: patch '%s' has no inputs; --input is not used\n",
                    desc->name);
    }
    if (notes->n > 0 && desc->max_voices == 0)
        fprintf(stderr, "amp: warning: patch '%s' is not polyphonic; --notes are ignored\n",
                desc->name);
    if (desc->n_outputs < 1 || desc->n_outputs > WAV_MAX_CHANNELS) {
        fprintf(stderr, "amp: patch '%s' has %d outputs; a WAV file takes 1 to %d\n",
                desc->name, desc->n_outputs, WAV_MAX_CHANNELS);
        goto done;
    }

    double seconds = a->seconds;
    if (seconds <= 0.0)
        seconds = notes->n ? notes_end(notes) + 1.0
                : a->input ? (double)input.frames / rate : 2.0;
    if (seconds > MAX_SECONDS)
        seconds = MAX_SECONDS;
    long frames = (long)llround(seconds * rate);

    if (host_init(&hp, desc, (float)rate, err, sizeof err)) {
        fprintf(stderr, "amp: %s\n", err);
        goto done;
    }
    if (apply_params(&hp, a) || bind_samples(&hp, a, rate, sample_data))
        goto done;
    if (a->input && desc->n_inputs > 0) {
        in = map_inputs(&input, desc->n_inputs, frames);
        for (int k = 0; in && k < desc->n_inputs; k++)
            if (!in[k])
                goto oom;
        if (!in)
            goto oom;
    }
    out = calloc((size_t)desc->n_outputs, sizeof *out);
    if (!out)
        goto oom;
    for (int c = 0; c < desc->n_outputs; c++)
        if (!(out[c] = malloc(((size_t)frames + 1) * sizeof(float))))
            goto oom;

    if (swap_desc && host_prepare_swap(&hp, swap_desc, err, sizeof err)) {
        fprintf(stderr, "amp: --swap-at: %s\n", err);
        goto done;
    }
    if (swap_desc ? render_swapped(&hp, a, notes, (const float *const *)in, out, frames)
                  : host_render_notes(&hp, notes, (const float *const *)in, out, frames))
        goto oom;
    if (host_fault_text(&hp, err, sizeof err)) {
        fprintf(stderr, "amp: %s; nothing written\n", err);
        goto done;
    }
    if (wav_write_file(a->out, (const float *const *)out, desc->n_outputs, frames, rate,
                       a->format, err, sizeof err)) {
        fprintf(stderr, "amp: %s\n", err);
        goto done;
    }
    double peak = peak_of(out, desc->n_outputs, frames);
    char peak_text[32];
    if (peak > 0.0)
        snprintf(peak_text, sizeof peak_text, "%.1f dBFS", 20.0 * log10(peak));
    else
        snprintf(peak_text, sizeof peak_text, "-inf dBFS (silent)");
    fprintf(stderr, "amp: %s -> %s: %.3f s at %d Hz, %d ch %s, peak %s, %s",
            desc->name, a->out, (double)frames / rate, rate, desc->n_outputs,
            format_name(a->format), peak_text,
            from_cache ? "shared object from the cache" : "shared object compiled now");
    if (a->format != WAV_F32 && peak > 1.0)
        fprintf(stderr, ", clipped in %s", format_name(a->format));
    if (hp.notes_refused)
        fprintf(stderr, ", %ld note%s refused", hp.notes_refused, hp.notes_refused == 1 ? "" : "s");
    if (swap_desc)
        fprintf(stderr, ", swapped to '%s' at sample %ld (%s)", swap_desc->name, a->swap_at,
                hp.swaps_carried ? "all state carried" : "crossfaded: some state could not carry");
    fputc('\n', stderr);
    status = 0;
    goto done;
oom:
    fprintf(stderr, "amp: out of memory\n");
done:
    free_buffers(in, desc->n_inputs);
    free_buffers(out, desc->n_outputs);
    host_free(&hp);
    wav_free(&input);
    for (int k = 0; k < ENGINE_SAMPLE_SLOTS; k++) {
        free(sample_data[k][0]);
        free(sample_data[k][1]);
    }
    return status;
}

static int is_project(const char *file)
{
    size_t n = strlen(file);
    return n > 5 && !strcmp(file + n - 5, ".json");
}

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A progress bar on stderr, redrawn in place. */
static void progress_bar(void *user, int64_t done, int64_t total)
{
    (void)user;
    int width = 40;
    int filled = total > 0 ? (int)(done * width / total) : width;
    fprintf(stderr, "\r[%.*s%*s] %3d%%", filled, "########################################",
            width - filled, "", total > 0 ? (int)(done * 100 / total) : 100);
    if (done == total)
        fputc('\n', stderr);
    fflush(stderr);
}

/* A loaded project: resolve, render, write, free it. Returns an exit status. */
static int render_loaded(Project *p, const RenderArgs *a);

/* `amp render PROJECT.json`: returns an exit status. */
static int render_project(const RenderArgs *a)
{
    if (a->notes || a->input || a->n_params || a->unit || a->patch || a->drums || a->nodes || a->n_samples) {
        fputs("amp render: --notes, --input, --param and --unit apply to a patch, --patch, --drums and\n"
              "--nodes to a MIDI file, none to a project (see `amp render --help`)\n", stderr);
        return 2;
    }
    char err[8192];
    Project p;
    if (project_load_file(a->file, &p, err, sizeof err)) {
        fprintf(stderr, "amp: %s\n", err);
        return 1;
    }
    return render_loaded(&p, a);
}

/* The built-in library of a project's {"builtin": "epiano.amp"} patches:
 * the files of --library DIR (default ./nodes), compiled as the native
 * loader compiles a file. */
typedef struct BuiltinLoader {
    PatchLoaderOptions options;         /* the native loader's (-I) */
    const char *dir;                    /* NULL: none (no --library, no ./nodes) */
} BuiltinLoader;

static const AmpPatchDesc *load_builtin(void *user, const char *id, const char *unit, char *err, size_t errlen)
{
    const BuiltinLoader *b = user;
    if (!b->dir) {
        snprintf(err, errlen, "built-in patch '%s': no built-in library here (./nodes does not exist; "
                 "give amp render --library DIR)", id);
        return NULL;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", b->dir, id);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "built-in patch '%s': no such file in the library %s", id, b->dir);
        return NULL;
    }
    return patch_loader_compile((void *)&b->options, path, unit, err, errlen);
}

/* --library DIR, else ./nodes when it is a folder, else none. */
static const char *library_dir(const RenderArgs *a)
{
    struct stat st;
    if (a->library)
        return a->library;
    return stat("nodes", &st) == 0 && S_ISDIR(st.st_mode) ? "nodes" : NULL;
}

static double peak_of_mix(const ProjectMix *m)
{
    float *outs[2] = { m->left, m->right };
    return peak_of(outs, 2, m->frames);
}

/* --stems DIR: DIR/track-ID.wav for every instrument and audio track.
 * Returns an exit status. */
static int write_stems(Project *p, const RenderArgs *a, int64_t frames)
{
    if (mkdir(a->stems, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "amp: %s: %s\n", a->stems, strerror(errno));
        return 1;
    }
    char err[8192];
    int n = 0;
    for (int i = 0; i < p->n_tracks; i++) {
        if (p->tracks[i].kind == ENGINE_TRACK_BUS)
            continue;
        ProjectMix m;
        if (project_mix_begin(&m, p, frames, i, err, sizeof err)) {
            fprintf(stderr, "amp: stem of tracks[%d]: %s\n", i, err);
            return 1;
        }
        project_mix_step(&m, m.frames, NULL, NULL);
        char path[4096];
        snprintf(path, sizeof path, "%s/track-%d.wav", a->stems, p->tracks[i].id);
        const float *chans[2] = { m.left, m.right };
        int rc = wav_write_file(path, chans, 2, m.frames, m.rate, a->format, err, sizeof err);
        project_mix_free(&m);
        if (rc) {
            fprintf(stderr, "amp: %s\n", err);
            return 1;
        }
        n++;
    }
    fprintf(stderr, "amp: %d stem%s in %s\n", n, n == 1 ? "" : "s", a->stems);
    return 0;
}

/* "tracks[1] (id 4, \"Lead\") insert 2 (delay.amp)": the engine's track
 * `track` (the project's tracks[track]) and slot. */
static void slot_text(const Project *p, int track, int slot, char *buf, size_t len)
{
    if (track < 0 || track >= p->n_tracks) {
        snprintf(buf, len, "track %d slot %d", track, slot);
        return;
    }
    const ProjectTrack *t = &p->tracks[track];
    const ProjectPatch *pp = slot == 0 ? &t->patch : slot <= t->n_inserts ? &t->inserts[slot - 1] : NULL;
    const char *patch = !pp ? NULL : pp->file ? pp->file : pp->builtin ? pp->builtin : pp->library;
    char what[64];
    if (slot == 0)
        snprintf(what, sizeof what, "%s", t->kind == ENGINE_TRACK_AUDIO ? "regions" : "instrument");
    else
        snprintf(what, sizeof what, "insert %d", slot);
    snprintf(buf, len, "tracks[%d] (id %d%s%s%s) %s%s%s%s", track, t->id, t->name ? ", \"" : "",
             t->name ? t->name : "", t->name ? "\"" : "", what, patch && t->kind != ENGINE_TRACK_AUDIO ? " (" : "",
             patch && t->kind != ENGINE_TRACK_AUDIO ? patch : "", patch && t->kind != ENGINE_TRACK_AUDIO ? ")" : "");
}

/* The engine's faults of a mix on stderr; 1 when there were any. */
static int report_faults(const Project *p, const ProjectMix *m, const char *out)
{
    if (!m->faults && !m->limits)
        return 0;
    char where[512];
    if (m->faults) {
        const EngineEvent *ev = &m->first_fault;
        slot_text(p, ev->track, ev->slot, where, sizeof where);
        EngineState st;
        engine_state_read(engine_state(m->engine), &st);
        uint32_t blocks = ev->track >= 0 && ev->track < ENGINE_MAX_TRACKS ? st.tracks[ev->track].faults : 0;
        fprintf(stderr, "amp: fault: %s output %s, first at sample %lld (%.3f s); the engine muted the block and reset "
                "the patch (%u block%s muted on that track",
                where, ev->code == ENGINE_FAULT_CEILING ? "beyond +-65536 (+96 dBFS)" : "NaN/Inf",
                (long long)ev->time, (double)ev->time / m->rate, blocks, blocks == 1 ? "" : "s");
        if (m->faults > 1)
            fprintf(stderr, "; %d fault episodes in the mix", m->faults);
        fputc(')', stderr);
        fputc('\n', stderr);
    }
    if (m->limits) {
        const EngineEvent *ev = &m->first_limit;
        fprintf(stderr, "amp: fault: the master went past +12 dBFS (|x| > %.1f) in the block from sample %lld (%.3f s); "
                "the safety limit clipped it", (double)ENGINE_MASTER_LIMIT, (long long)ev->time,
                (double)ev->time / m->rate);
        if (ev->track >= 0) {
            slot_text(p, ev->track, ev->slot, where, sizeof where);
            fprintf(stderr, " (last fault before it: %s)", where);
        }
        if (m->limits > 1)
            fprintf(stderr, " (%d episodes in all)", m->limits);
        fputc('\n', stderr);
    }
    fprintf(stderr, "amp: render failed: %s is written, with those blocks muted or clipped\n", out);
    return 1;
}

static int render_loaded(Project *p, const RenderArgs *a)
{
    char err[8192];
    BuiltinLoader builtin = { { a->include_dirs, a->n_include_dirs }, library_dir(a) };
    ProjectPatchLoader loader = patch_loader_native(&builtin.options);
    loader.load_builtin = load_builtin;
    loader.user = &builtin;
    if (project_resolve(p, &loader, a->rate, err, sizeof err)) {
        fprintf(stderr, "amp: %s\n", err);
        project_free(p);
        return 1;
    }
    int status = 1;
    int64_t frames = a->seconds > 0 ? llround(a->seconds * p->render_rate) : 0;
    ProjectMix m;
    if (project_mix_begin(&m, p, frames, -1, err, sizeof err)) {
        fprintf(stderr, "amp: %s\n", err);
        project_free(p);
        return 1;
    }
    double t0 = wall_seconds();
    project_mix_step(&m, m.frames, isatty(2) ? progress_bar : NULL, NULL);
    double wall = wall_seconds() - t0;
    const float *chans[2] = { m.left, m.right };
    if (wav_write_file(a->out, chans, 2, m.frames, m.rate, a->format, err, sizeof err)) {
        fprintf(stderr, "amp: %s\n", err);
        goto done;
    }
    double peak = peak_of_mix(&m);
    double seconds = (double)m.frames / m.rate;
    char peak_text[32];
    if (peak > 0.0)
        snprintf(peak_text, sizeof peak_text, "%.1f dBFS", 20.0 * log10(peak));
    else
        snprintf(peak_text, sizeof peak_text, "-inf dBFS (silent)");
    fprintf(stderr, "amp: %s -> %s: %.3f s at %d Hz, %d track%s, peak %s, rendered in %.2f s (%.1fx real time)",
            a->file, a->out, seconds, m.rate, p->n_tracks, p->n_tracks == 1 ? "" : "s", peak_text, wall,
            wall > 0 ? seconds / wall : 0.0);
    if (a->format != WAV_F32 && peak > 1.0)
        fprintf(stderr, ", clipped in %s", format_name(a->format));
    fputc('\n', stderr);
    int faulted = report_faults(p, &m, a->out);
    status = a->stems ? write_stems(p, a, m.frames) : 0;
    if (faulted)
        status = 1;
done:
    project_mix_free(&m);
    project_free(p);
    return status;
}

/* "FILE[:UNIT]" -> file (malloc'd) and unit (inside it, or NULL). A colon
 * starts the unit only when what follows is a name, not more path. */
static char *split_patch(const char *arg, const char **unit)
{
    char *file = strdup(arg);
    *unit = NULL;
    if (!file)
        return NULL;
    char *colon = strrchr(file, ':');
    if (colon && colon != file && colon[1] && !strchr(colon + 1, '/')) {
        *colon = '\0';
        *unit = colon + 1;
    }
    return file;
}

/* The import options from --patch, --drums, --nodes. The two files are
 * returned for free(). */
static void import_options(MidiImportOptions *opt, const char *patch, const char *drums, const char *nodes,
                           char **patch_file, char **drums_file)
{
    memset(opt, 0, sizeof *opt);
    *patch_file = patch ? split_patch(patch, &opt->patch_unit) : NULL;
    *drums_file = drums ? split_patch(drums, &opt->drums_unit) : NULL;
    opt->patch = *patch_file;
    opt->drums = *drums_file;
    opt->nodes_dir = nodes;
}

static void print_smf_warnings(const char *file, const MidiImportSummary *s)
{
    char text[4096];
    midi_import_warnings(file, s, text, sizeof text);
    for (char *line = text, *nl; (nl = strchr(line, '\n')); line = nl + 1)
        fprintf(stderr, "amp: warning: %.*s\n", (int)(nl - line), line);
}

/* `amp render SONG.mid`: the import in memory, every track through
 * --patch, then as a project. */
static int render_midi(const RenderArgs *a)
{
    if (a->notes || a->input || a->n_params || a->unit) {
        fputs("amp render: --notes, --input, --param and --unit apply to a patch, not to a MIDI file;\n"
              "pick a unit with --patch FILE.amp:UNIT (see `amp render --help`)\n", stderr);
        return 2;
    }
    MidiImportOptions opt;
    char *patch_file, *drums_file;
    import_options(&opt, a->patch, a->drums ? a->drums : a->patch, a->nodes, &patch_file, &drums_file);
    opt.sample_rate = a->rate;
    char err[8192];
    char *json = NULL;
    MidiImportSummary sum;
    int rc = midi_import_file(a->file, &opt, &json, &sum, err, sizeof err);
    free(patch_file);
    free(drums_file);
    if (rc) {
        fprintf(stderr, "amp: %s\n", err);
        return 1;
    }
    print_smf_warnings(a->file, &sum);
    Project p;
    rc = project_load_text(json, strlen(json), a->file, ".", &p, err, sizeof err);
    free(json);
    if (rc) {
        fprintf(stderr, "amp: %s (imported): %s\n", a->file, err);
        return 1;
    }
    return render_loaded(&p, a);
}

static int cmd_render(int argc, char **argv)
{
    RenderArgs a;
    int rc = parse_render_args(argc, argv, &a);
    if (rc == 1) {
        fputs(usage_render, stdout);
        return 0;
    }
    if (rc)
        return rc;
    char rate_err[128];
    if (a.rate && host_check_rate(a.rate, rate_err, sizeof rate_err)) {
        fprintf(stderr, "amp: %s\n", rate_err);
        return 1;
    }
    if (is_project(a.file))
        return render_project(&a);
    if (midi_import_is_midi(a.file))
        return render_midi(&a);
    if (a.patch || a.drums || a.nodes)
        return usage_error("%s", "--patch, --drums and --nodes apply to a MIDI file, not to a patch");
    if (a.library || a.stems)
        return usage_error("%s", "--library and --stems apply to a project, not to a patch");
    char err[8192];
    NoteList notes;
    if (notes_parse(a.notes, &notes, err, sizeof err)) {
        fprintf(stderr, "amp render: --notes: %s\n", err);
        return 2;
    }

    AmpcOptions opt = { 0 };
    opt.unit = a.unit;
    opt.include_dirs = a.include_dirs;
    opt.n_include_dirs = a.n_include_dirs;
    opt.dump = AMPC_DUMP_NONE;
    Diag diag;
    diag_init(&diag, stderr);
    AmpcResult result;
    memset(&result, 0, sizeof result);
    if (ampc_compile_file(a.file, &opt, &diag, &result) != 0) {
        notes_free(&notes);
        return 1;
    }

    int from_cache = 0;
    const AmpPatchDesc *desc = build_shared_object(result.c_text, result.c_len, result.symbol,
                                                   err, sizeof err, &from_cache);
    if (!desc) {
        fprintf(stderr, "amp: cannot build '%s': %s\n", result.name ? result.name : a.file, err);
        ampc_result_free(&result);
        notes_free(&notes);
        return 1;
    }
    ampc_result_free(&result);
    const AmpPatchDesc *swap_desc = NULL;
    if (a.swap_file) {
        opt.unit = NULL;
        memset(&result, 0, sizeof result);
        if (ampc_compile_file(a.swap_file, &opt, &diag, &result) != 0) {
            notes_free(&notes);
            return 1;
        }
        int cached = 0;
        swap_desc = build_shared_object(result.c_text, result.c_len, result.symbol, err, sizeof err, &cached);
        if (!swap_desc) {
            fprintf(stderr, "amp: cannot build '%s': %s\n", result.name ? result.name : a.swap_file, err);
            ampc_result_free(&result);
            notes_free(&notes);
            return 1;
        }
        ampc_result_free(&result);
    }
    rc = render_patch(desc, swap_desc, from_cache, &a, &notes);
    notes_free(&notes);
    return rc;
}

/* `amp import SONG.mid -o PROJECT.json`: returns an exit status. */
static int cmd_import(int argc, char **argv)
{
    const char *file = NULL, *out = NULL, *patch = NULL, *drums = NULL, *nodes = NULL;
    int rate = 0, builtin = 0, version = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            fputs(usage_import, stdout);
            return 0;
        }
        if (!strcmp(arg, "--builtin")) {
            builtin = 1;
            continue;
        }
        if (arg[0] != '-' || !strcmp(arg, "-")) {
            if (file) {
                fprintf(stderr, "amp import: more than one input file ('%s')\n(see `amp import --help`)\n", arg);
                return 2;
            }
            file = arg;
            continue;
        }
        const char *eq = strncmp(arg, "--", 2) ? NULL : strchr(arg, '=');
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        static const char *const known[] = { "-o", "--patch", "--drums", "--nodes", "--rate", "--project-version" };
        int k = -1;
        for (int j = 0; j < (int)(sizeof known / sizeof known[0]); j++)
            if (strlen(known[j]) == name_len && !strncmp(arg, known[j], name_len))
                k = j;
        const char *value = k >= 0 ? option_value(argc, argv, &i, eq) : NULL;
        if (k < 0 || !value) {
            fprintf(stderr, "amp import: %s '%s'\n(see `amp import --help`)\n",
                    k < 0 ? "unknown option" : "no value for", arg);
            return 2;
        }
        double v;
        switch (k) {
        case 0: out = value; break;
        case 1: patch = value; break;
        case 2: drums = value; break;
        case 3: nodes = value; break;
        case 4:
            char rate_err[128];
            if (parse_double(value, &v) || v != floor(v) || v < 1.0 || v > 1e9) {
                fprintf(stderr, "amp import: --rate wants a whole number of Hz, not '%s'\n", value);
                return 2;
            }
            if (host_check_rate(v, rate_err, sizeof rate_err)) {
                fprintf(stderr, "amp import: --rate: %s\n", rate_err);
                return 2;
            }
            rate = (int)v;
            break;
        case 5:
            if (strcmp(value, "1") && strcmp(value, "2")) {
                fprintf(stderr, "amp import: --project-version wants 1 or 2, not '%s'\n", value);
                return 2;
            }
            version = value[0] - '0';
            break;
        }
    }
    if (!file || !out) {
        fprintf(stderr, "amp import: %s\n(see `amp import --help`)\n",
                !file ? "no SONG.mid given" : "no output given (-o PROJECT.json)");
        return 2;
    }
    MidiImportOptions opt;
    char *patch_file, *drums_file;
    import_options(&opt, patch, drums, nodes, &patch_file, &drums_file);
    opt.sample_rate = rate;
    opt.builtin = builtin;
    opt.version = version;
    char *dir = NULL;
    if (strcmp(out, "-")) {                 /* paths relative to the document's folder */
        const char *slash = strrchr(out, '/');
        dir = slash ? strndup(out, slash == out ? 1 : (size_t)(slash - out)) : strdup(".");
    }
    opt.base_dir = dir;
    char err[8192];
    char *json = NULL;
    MidiImportSummary sum;
    int rc = midi_import_file(file, &opt, &json, &sum, err, sizeof err);
    free(patch_file);
    free(drums_file);
    free(dir);
    if (rc) {
        fprintf(stderr, "amp: %s\n", err);
        return 1;
    }
    print_smf_warnings(file, &sum);
    FILE *fp = strcmp(out, "-") ? fopen(out, "w") : stdout;
    int bad = !fp;
    if (fp) {
        bad = fputs(json, fp) < 0;
        bad |= fp == stdout ? fflush(fp) != 0 : fclose(fp) != 0;
    }
    free(json);
    if (bad) {
        fprintf(stderr, "amp: %s: %s\n", out, strerror(errno));
        return 1;
    }
    fprintf(stderr, "amp: %s -> %s: %d track%s (%d drums), %zu note%s, %.6g bpm", file, out, sum.tracks,
            sum.tracks == 1 ? "" : "s", sum.drum_tracks, sum.notes, sum.notes == 1 ? "" : "s", sum.tempo);
    if (sum.tempo_changes)
        fprintf(stderr, " and %d tempo change%s", sum.tempo_changes, sum.tempo_changes == 1 ? "" : "s");
    fprintf(stderr, ", %d/%d, %.6g beats\n", sum.sig_num, sum.sig_den, sum.length_beats);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_main, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "render"))
        return cmd_render(argc - 1, argv + 1);
    if (!strcmp(cmd, "import"))
        return cmd_import(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("amp %s (ampc %s, patch ABI %d)\n", AMPC_VERSION, AMPC_VERSION, AMP_ABI_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        fputs(usage_main, stdout);
        return 0;
    }
    fprintf(stderr, "amp: unknown command '%s'\n%s", cmd, usage_main);
    return 2;
}
