/* wasm_modules.h — patch modules loaded into a running engine.wasm
 * (wasm_modules.c). wasm_main.c sizes the engine for them and hands them
 * the command tables; wasm_project.c resolves a project's patches against
 * them after the built-in registry. */
#ifndef AMP_WASM_MODULES_H
#define AMP_WASM_MODULES_H

#include <stddef.h>
#include <stdint.h>

#include "amp_patch.h"
#include "engine_commands.h"

#define AMP_MODULE_MAX          32               /* patches loaded per engine instance */
#define AMP_MODULE_STATE_BYTES  ((size_t)8 << 20) /* state pool room for their nodes */

/* Called by init_with, once: a module's patch id gets `stock` ready nodes
 * made from the engine's pools through `tables`. Module ids follow the
 * registry's (first_id = amp_registry_count + 1). Without it (the export
 * worker, which renders projects with engines of its own) modules are
 * only found by amp_modules_find. Those registered before get their stocks
 * here: 0, or -1 (message at amp_module_error()). */
int amp_modules_attach(EngineCommands *tables, uint32_t first_id, uint32_t stock);

/* The descriptor of a registered module whose library id is `builtin` and
 * whose unit is `unit` (NULL: the module registered as that id's default),
 * or NULL. For wasm_project.c's resolver. */
const AmpPatchDesc *amp_modules_find(const char *builtin, const char *unit);

/* Why the last amp_module_* call failed (also exported to JavaScript). */
const char *amp_module_error(void);

#endif
