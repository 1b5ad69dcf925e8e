/* project_read.h — the JSON project document (runtime/formats/PROJECT.md) read
 * into a Project (project.h): parsed with json.h, the structure, types and
 * ranges checked, notes and tempo changes sorted. Every error names the
 * JSON path of the bad field ("tracks[2].clips[0].notes[3].key: ...").
 *
 * Reading does not look at patches or audio files; project_resolve
 * (project_resolve.h) does that next. Built natively and into engine.wasm
 * (project_load_file reads a file: native only); not for the audio thread.
 */
#ifndef AMP_PROJECT_READ_H
#define AMP_PROJECT_READ_H

#include <stddef.h>

#include "project.h"

/* Parse and validate the file at `path`; relative paths in it are taken
 * from its folder. 0, or -1 with "path: message" in err. */
int project_load_file(const char *path, Project *p, char *err, size_t errlen);
/* The same for text in memory; `dir` anchors relative paths ("." if NULL);
 * `name` names the text in syntax errors. */
int project_load_text(const char *text, size_t len, const char *name, const char *dir,
                      Project *p, char *err, size_t errlen);
/* Is `id` a path a {"builtin": id} patch may name: folders and a file
 * name of [A-Za-z0-9_.+-], relative, no empty segment and none starting
 * with '.', ending in ".amp", at most PROJECT_BUILTIN_ID_MAX bytes (the
 * paths ampd serves from its built-in library)? */
int project_builtin_id_valid(const char *id);
/* Free everything a load and a resolve made (the JSON document, paths,
 * samples); *p is zeroed. */
void project_free(Project *p);

#endif
