/* project.h — the JSON project document (runtime/PROJECT.md): read and
 * validate it, resolve its patches and audio files, and feed it to an
 * engine (engine.h) as timed commands.
 *
 *   project_load_file   JSON -> Project (structure and ranges checked; every
 *                       error names the JSON path of the bad field)
 *   project_resolve     compile each patch (ampc + build_shared_object,
 *                       cached), check param names and ranges against it,
 *                       read the WAV files (resampled to the render rate)
 *   project_engine_config  sizes for engine_init that fit this project
 *   project_feed        node and buffer allocation from the engine's pools,
 *                       then commands at time 0: tracks, mixer, clips,
 *                       regions, lanes, play; stop at the end
 *   project_render      the render loop (blocks, events drained, progress)
 *
 * Native only (compiles patches, reads files); none of it runs on the audio
 * thread. A Project owns its parsed JSON document and everything resolved.
 */
#ifndef AMP_PROJECT_H
#define AMP_PROJECT_H

#include <stddef.h>
#include <stdint.h>

#include "amp_patch.h"
#include "engine.h"

#define PROJECT_VERSION 1
#define PROJECT_DEFAULT_RATE 48000
#define PROJECT_DEFAULT_TAIL 2.0        /* seconds rendered after length_beats */
#define PROJECT_BLOCK 128               /* render quantum of project_render */

typedef struct ProjectParam {
    const char *name;
    double value;
    int index;                          /* in the patch, after resolve */
    char *at;                           /* JSON path, for messages */
} ProjectParam;

typedef struct ProjectPatch {
    const char *file;                   /* as written, relative to the project file */
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
    ProjectNote *notes;                 /* sorted by start_beat after load */
    int n_notes;
} ProjectClip;

typedef struct ProjectRegion {
    const char *file;
    double start_beat, offset_seconds;
    double length_seconds;              /* <= 0: to the end of the file */
    double gain_db;
    int sample;                         /* index into Project.samples, after resolve */
    char *at;
} ProjectRegion;

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
} ProjectTrack;

typedef struct ProjectTempo {
    double beat, bpm;
} ProjectTempo;

typedef struct ProjectSample {
    char *path;
    int channels;
    int64_t frames;                     /* at the render rate */
    float *data[ENGINE_MAX_CHANNELS];   /* resampled, one allocation per channel */
} ProjectSample;

typedef struct Project {
    void *doc;                          /* the parsed JSON (json_t *); strings point into it */
    char *dir;                          /* folder of the project file, for relative paths */
    int version;
    int sample_rate;
    double tempo;
    ProjectTempo *tempo_changes;        /* sorted by beat */
    int n_tempo_changes;
    int sig_num, sig_den;
    double length_beats;                /* < 0 until known: then the end of the last clip / region */
    double tail_seconds;
    int loop_enabled;
    double loop_start, loop_end;
    double master_gain_db;
    ProjectTrack *tracks;
    int n_tracks;
    ProjectSample *samples;             /* after resolve */
    int n_samples;
    int render_rate;                    /* the rate resolve prepared samples for */
} Project;

typedef struct ProjectOptions {
    const char *const *include_dirs;    /* extra import folders for ampc */
    int n_include_dirs;
    int rate;                           /* render rate; 0: the project's sample_rate */
} ProjectOptions;

/* Parse and validate. 0, or -1 with "path: message" in err. */
int project_load_file(const char *path, Project *p, char *err, size_t errlen);
/* The same for text in memory; `dir` anchors relative paths ("." if NULL);
 * `name` names the text in syntax errors. */
int project_load_text(const char *text, size_t len, const char *name, const char *dir,
                      Project *p, char *err, size_t errlen);
void project_free(Project *p);

/* Compile the patches and read the audio; 0 or -1 with a message. */
int project_resolve(Project *p, const ProjectOptions *opt, char *err, size_t errlen);

/* Seconds from beat 0 to `beat` through the project's tempo map. */
double project_seconds_at(const Project *p, double beat);
/* Frames to render at the resolved rate: length_beats, then the tail. */
int64_t project_frames(const Project *p);
/* Frame at which the transport stops: the end of length_beats. */
int64_t project_end_frame(const Project *p);

/* Engine sizes that fit the resolved project. */
void project_engine_config(const Project *p, EngineConfig *cfg);

/* Queue everything at time 0 (and stop at project_end_frame). The engine
 * must be fresh (engine time 0) and sized by project_engine_config.
 * 0, or -1 with a message. */
int project_feed(const Project *p, Engine *e, char *err, size_t errlen);

/* Render `frames` frames into left / right in blocks of PROJECT_BLOCK,
 * draining the event ring after each block (released buffers are freed,
 * faults counted into *faults when not NULL). progress(user, done, total)
 * is called about every 1 % when not NULL. Allocates nothing. */
typedef void (*ProjectProgress)(void *user, int64_t done, int64_t total);
void project_render(Engine *e, float *left, float *right, int64_t frames, ProjectProgress progress,
                    void *user, int *faults);

#endif
