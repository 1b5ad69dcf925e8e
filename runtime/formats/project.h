/* project.h — the JSON project document (runtime/formats/PROJECT.md) in memory:
 * the Project structs every stage of a project works on, and the format's
 * constants. No functions here; each stage has its own file and header:
 *
 *   project_read.c     JSON text -> Project (json.c, our reader; structure
 *                      and ranges checked, every error names the JSON path
 *                      of the bad field); project_free
 *   project_resolve.c  each patch through the caller's ProjectPatchLoader,
 *                      params checked against its descriptor, WAV files read
 *                      and resampled to the render rate
 *   project_feed.c     a resolved Project -> an engine (engine.h): sizes for
 *                      engine_init, pool allocation, timed commands; the
 *                      project's timing (tempo map, length). Plain C over
 *                      the engine, so it builds into engine.wasm too
 *   project_render.c   the offline render loop
 *
 * The native loader (ampc, a cached shared object, dlopen) is not part of
 * the runtime: runtime/tools/patch_loader.c, linked by `amp` and the tests.
 *
 * Fields marked "after resolve" are filled by project_resolve; the rest by
 * project_read. A read Project owns its parsed JSON document (strings
 * point into it) and everything resolved; project_free releases it all.
 * Nothing here runs on the audio thread.
 */
#ifndef AMP_PROJECT_H
#define AMP_PROJECT_H

#include <stddef.h>
#include <stdint.h>

#include "amp_patch.h"
#include "engine.h"

/* Versions 1 and 2 are read; 2 is the newest (what the browser writes):
 * it adds clip loops, time signature changes, the metronome and the tail
 * rule (PROJECT.md, "Version 2"). A version 1 document reads exactly as
 * it always did. */
#define PROJECT_VERSION 2
#define PROJECT_DEFAULT_RATE 48000
#define PROJECT_DEFAULT_TAIL 2.0        /* seconds rendered after length_beats: version 1, or tail_seconds */

/* The tail rule of version 2 (PROJECT.md, "tail"): the render goes on
 * after length_beats until the output stays below until_db, for at most
 * max_seconds. These are its defaults. */
#define PROJECT_TAIL_UNTIL_DB (-90.0)
#define PROJECT_TAIL_MAX_SECONDS 30.0
#define PROJECT_TAIL_HOLD_SECONDS 2.0   /* quiet this long after the last sound above until_db ends it */
#define PROJECT_TAIL_QUANTUM 128        /* frames the rule looks at, at a time */

/* The mixer's ranges, read from the document (gains, sends, regions, the
 * master, pan) and checked again on fader lanes when resolving. */
#define PROJECT_DB_MIN (-150.0)
#define PROJECT_DB_MAX 24.0
#define PROJECT_PAN_MIN (-1.0)
#define PROJECT_PAN_MAX 1.0

/* The longest JSON path kept for messages ("tracks[2].automation[0]"),
 * with its NUL; longer ones are cut. */
#define PROJECT_MAX_JSON_PATH 512

/* The longest id of a library patch ({"library": id}) a document may
 * name, in bytes (ampd's ids are 32 hex digits). */
#define PROJECT_LIBRARY_ID_MAX 64

/* The longest path of a built-in patch ({"builtin": "epiano.amp"}), in
 * bytes: ampd's limit on a path under its --library folder. */
#define PROJECT_BUILTIN_ID_MAX 255

typedef struct ProjectParam {
    const char *name;
    double value;
    int index;                          /* in the patch, after resolve */
    char *at;                           /* JSON path, for messages */
} ProjectParam;

typedef struct ProjectPatch {
    const char *file;                   /* as written, relative to the project file; NULL for a library patch */
    const char *library;                /* a patch of ampd's library by id ({"library", "revision"}), or NULL */
    int library_revision;               /* its revision (1, 2, ...) when `library` is set */
    const char *builtin;                /* a patch of the built-in library by its path there
                                           ({"builtin": "epiano.amp"}), or NULL */
    const char *unit;                   /* NULL: the file's default unit */
    ProjectParam *params;
    int n_params;
    char *path;                         /* resolved file path */
    const AmpPatchDesc *desc;           /* after resolve */
    char *at;
} ProjectPatch;

typedef struct ProjectNote {
    int key;
    double start_beat, length_beats;    /* start from the clip's start */
    double velocity;
} ProjectNote;

typedef struct ProjectClip {
    double start_beat, length_beats;
    double loop_beats;                  /* version 2: notes in [0, loop_beats) repeat; 0 no loop */
    ProjectNote *notes;                 /* sorted by start_beat after load */
    int n_notes;
} ProjectClip;

typedef struct ProjectRegion {
    const char *file;                   /* as written, or assets/ab/<hash> for an "asset" */
    const char *asset;                  /* the "asset" hash (64 hex digits), or NULL */
    double start_beat, offset_seconds;
    double length_seconds;              /* <= 0: to the end of the file */
    double gain_db;
    int sample;                         /* index into Project.samples, after resolve */
    char *at;
} ProjectRegion;

/* A sample slot of a track's instrument bound to a WAV (a track's
 * "samples": {"p.wav": {"file": ...} or {"asset": ...}}, PROJECT.md). */
typedef struct ProjectSampleSlot {
    const char *slot;                   /* the patch's slot name, as its metadata's "samples" gives it */
    int slot_index;                     /* in the descriptor's sample_names, after resolve */
    ProjectRegion source;               /* only file, asset, sample (after resolve) and at are used */
} ProjectSampleSlot;

typedef struct ProjectPoint {
    double beat, value;
} ProjectPoint;

typedef struct ProjectLane {
    int slot;                           /* 0: the instrument, k: insert k-1, ENGINE_LANE_FADER: the fader */
    const char *param;
    int param_index;                    /* after resolve */
    ProjectPoint *points;
    int n_points;
    char *at;
} ProjectLane;

typedef struct ProjectSend {
    int bus_id;                         /* the bus track's id */
    int bus_index;                      /* its position in tracks[] */
    double level_db;
} ProjectSend;

typedef struct ProjectTrack {
    int id;
    const char *name;
    int kind;                           /* EngineTrackKind */
    ProjectPatch patch;                 /* instrument tracks */
    int voice_mode, priority;           /* EngineVoiceMode, EnginePriority */
    double glide_seconds;               /* legato glide time constant, 0 none */
    ProjectPatch *inserts;
    int n_inserts;
    double gain_db, pan;
    int mute, solo;
    ProjectSend *sends;
    int n_sends;
    ProjectClip *clips;
    int n_clips;
    ProjectRegion *regions;
    int n_regions;
    ProjectLane *lanes;
    int n_lanes;
    ProjectSampleSlot *sample_slots;    /* instrument tracks: "samples" */
    int n_sample_slots;
} ProjectTrack;

typedef struct ProjectTempo {
    double beat, bpm;
} ProjectTempo;

typedef struct ProjectSignature {       /* a time signature change (version 2) */
    double beat;                        /* on a bar line of the signature before it */
    int num, den;
} ProjectSignature;

typedef struct ProjectSample {
    char *path;
    int channels;
    int64_t frames;                     /* at the render rate */
    float *data[ENGINE_MAX_CHANNELS];   /* resampled, one allocation per channel */
} ProjectSample;

typedef struct Project {
    void *doc;                          /* the parsed JSON (JvDoc *, json.h) strings point into;
                                           NULL when the Project was built some other way */
    char *dir;                          /* folder of the project file, for relative paths */
    int version;
    int sample_rate;
    double tempo;
    ProjectTempo *tempo_changes;        /* sorted by beat */
    int n_tempo_changes;
    int sig_num, sig_den;
    ProjectSignature *sig_changes;      /* version 2; sorted by beat, each after the one before */
    int n_sig_changes;
    double length_beats;                /* < 0 until known: then the end of the last clip / region */
    double tail_seconds;                /* the fixed tail (tail_rule 0) */
    int tail_rule;                      /* 1: version 2 without tail_seconds: the tail rule */
    double tail_until_db, tail_max_seconds, tail_hold_seconds;
    int metronome_enabled;              /* version 2: the click in live playback ... */
    int metronome_export;               /* ... and in renders */
    double metronome_gain_db;
    int loop_enabled;
    double loop_start, loop_end;
    double master_gain_db;
    ProjectTrack *tracks;
    int n_tracks;
    ProjectSample *samples;             /* after resolve */
    int n_samples;
    int render_rate;                    /* the rate resolve prepared samples for */
} Project;

#endif
