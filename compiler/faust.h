/* faust.h — Faust programs as nodes: `import faust "FILE.dsp" as NAME;`.
 *
 * faust_import() runs the Faust compiler on the file (`faust -lang c -os
 * -ftz 1 -json`, found on PATH or named by $AMPC_FAUST), reads the JSON
 * description it writes beside the C (ports and UI controls, with jansson)
 * and prepares the C for embedding: its functions made static, the ones a
 * compiled patch does not call (new/delete, metadata, UI) removed, its
 * class named amp_faust_NAME, and every call checked against the libm
 * functions that faust_prelude() routes to the runtime's kernels
 * (runtime/abi/amp_math.h), so a Faust node keeps native/WebAssembly parity.
 * The result is a Node of the program with ports in0.. and out0.. and one
 * param per control; lowering (lower.c) makes each instance an ExternSlot
 * of the IR, and emit_c.c prints the prepared C and the calls.
 *
 * Faust's "one sample" mode (-os) splits its code in control(), which turns
 * the control values (the zones) into coefficients, and compute(), which
 * runs one frame: the emitted patch calls control() once per control tick
 * (or every sample when a param is bound to an audio-rate signal) and
 * compute() every sample.
 */
#ifndef AMP_FAUST_H
#define AMP_FAUST_H

#include "ast.h"
#include "diag.h"

/* The most ports a Faust node may have on each side. */
#define FAUST_MAX_PORTS 16

/* How a param's value (in code units: seconds, linear amplitude) becomes
 * the value Faust's zone expects (ms, dB). */
typedef enum { FAUST_ZONE_AS_IS = 0, FAUST_ZONE_MS, FAUST_ZONE_DB } FaustZoneScale;

typedef struct FaustControl {
    const char *name;      /* the param's name in the language (sanitized short name) */
    const char *label;     /* Faust's label */
    const char *address;   /* Faust's path: /Zita_Rev1/Input/In_Delay */
    const char *type;      /* hslider, vslider, nentry, button, checkbox */
    const char *zone;      /* the field of the dsp struct it sets: fHslider0 */
    double init, lo, hi, step;  /* as Faust gives them, in Faust's unit */
    const char *unit;      /* Faust's [unit:...] text, "" if none */
    FaustZoneScale scale;
} FaustControl;

typedef struct FaustProgram {
    const char *name;      /* the node's name: `as NAME` */
    const char *path;      /* the import's string, as written */
    const char *cname;     /* the C class: amp_faust_NAME */
    const char *code;      /* the prepared C (see above) */
    int n_inputs, n_outputs;
    int n_controls;
    FaustControl *controls;  /* in the order of the node's params */
    int n_int_controls, n_real_controls;  /* sizes of control()'s two arrays (at least 1) */
    Node *node;            /* the node it is in the program */
    const Module *module;  /* the file that imported it */
} FaustProgram;

/* Run faust on `path` (the import's `written` string, resolved) and make
 * the node `name`. Errors are reported at `loc`, the import: faust's own
 * message, a missing or failing faust binary, a program of the wrong shape
 * or one that calls a function without a kernel. Returns NULL after an
 * error. faust's output is cached for the life of the process, keyed by the
 * file's contents, its path, the faust binary and the include folders,
 * which faust gets as -I (for the libraries the program imports). */
FaustProgram *faust_import(Arena *a, Diag *d, Loc loc, const char *written, const char *path,
                           const char *name, const char *const *include_dirs, int n_include_dirs);

/* Text emitted once before the Faust programs of a patch (helpers and the
 * libm-to-kernel macros) and once after them (the macros undefined). */
const char *faust_prelude(void);
const char *faust_postlude(void);

#endif
