/* project_feed.h — a resolved Project (project_resolve.h) fed to an engine
 * (engine.h): its timing through the tempo map, the engine sizes that fit
 * it, then everything it holds as commands at time 0 (tempo map, time
 * signature, loop, master, tracks with their nodes, clips, regions and
 * lanes, sends; play at 0, stop at the end of length_beats).
 *
 * Nodes, clips, samples and lanes are allocated from the engine's pools;
 * nothing else is allocated. No JSON, no compiler, no files: this builds
 * into engine.wasm as well as natively. Not for the audio thread (it is
 * the engine's producer side).
 */
#ifndef AMP_PROJECT_FEED_H
#define AMP_PROJECT_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "project.h"

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

#endif
