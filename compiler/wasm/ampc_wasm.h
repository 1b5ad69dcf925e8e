/* ampc_wasm.h — ampc.wasm's check (ampc_wasm.c) and its Faust seam
 * (faust_server.c). */
#ifndef AMP_AMPC_WASM_H
#define AMP_AMPC_WASM_H

/* The file names of ampd's compile service (server/api_compile.c). */
#define AMPC_WASM_MAIN "patch.amp"
#define AMPC_WASM_LIBRARY "lib"

/* ampc_check's answers. */
enum {
    AMPC_WASM_OK = 0,       /* no errors */
    AMPC_WASM_ERRORS = 1,   /* errors: ampc_output() is the command line's text */
    AMPC_WASM_FAUST = 2,    /* the program imports Faust: the server checks it */
};

#include <stddef.h>

/* The exports (ampc_wasm.c). */
int ampc_add_file(const char *path, const char *text, size_t len);
void ampc_clear_files(void);
int ampc_check(const char *text, size_t len);
const char *ampc_output(void);
size_t ampc_output_len(void);
const char *ampc_version(void);

/* Set by faust_import when the program imports a Faust file. */
extern int ampc_wasm_faust_imports;

#endif
