/* wasm_modules.c — patch modules: a patch compiled on its own
 * (runtime/wasm/patch_module.sh) into a small WebAssembly module that an
 * engine.wasm already running takes without a restart.
 *
 * A module is a wasm-ld "-shared" (position-independent) module: it imports
 * the engine's shared memory, the engine's function table
 * (__indirect_function_table, exported and growable: web/web.mk),
 * __memory_base and __table_base (where its data and its functions go),
 * and __stack_pointer (a stack of its own, below). It exports
 * amp_module_desc() (the address of its AmpPatchDesc) and
 * amp_module_abi_version(), and carries the custom section "amp_module"
 * ({"abi": N, "patch": "NAME"}), read before anything is instantiated.
 *
 * Loading (web/src/engine/modules.ts, on the engine's own thread, between
 * quanta: the worklet's message handler, the export worker):
 *   1. check the custom section's ABI against amp_module_abi();
 *   2. amp_module_reserve(bytes, align) for its data (the "dylink.0"
 *      section's memory size), from a region this file reserves statically
 *      (no allocation: the region is part of the engine's data, counted
 *      by the memory model like the rest); grow the table by its table size;
 *   3. instantiate it with __memory_base = that address, __table_base =
 *      the table's old length, __stack_pointer = a Global at
 *      amp_module_stack_top() (its start function copies its data in and
 *      relocates the pointers in it, such as the descriptor's);
 *   4. amp_module_register(desc, builtin, unit, is_default): checks the
 *      descriptor and registers it under the next free patch id with a
 *      stock of ready nodes made now (engine_commands_set_patch), exactly
 *      as init_with does for the built-in registry. The id then works in
 *      set_instrument and add_insert; wasm_project.c resolves a project's
 *      {"builtin": builtin, "unit": unit} to it.
 * The engine calls the patch's functions through the table (call_indirect
 * on the descriptor's pointers): no JavaScript on the audio path.
 *
 * The stack: every module of an instance shares one stack of
 * MODULE_STACK_BYTES in the region (patches never call each other, and all
 * run on the engine's one thread). A refused module gives its region back
 * (amp_module_release) when nothing was reserved after it.
 *
 * Threads: everything here is control side (it runs patch init() through
 * engine_commands_set_patch); nothing is called from amp_process.
 */
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "wasm_modules.h"

#ifdef __wasm__
#define EXPORT(name) __attribute__((export_name(name)))
#else
#define EXPORT(name)
#endif

#define REGION_BYTES      ((size_t)512 << 10)   /* modules' data and their stack */
#define MODULE_STACK_BYTES ((size_t)64 << 10)
#define NAME_BYTES        128
#define ERROR_BYTES       256

EXPORT("amp_module_abi") int amp_module_abi(void);
EXPORT("amp_module_reserve") double amp_module_reserve(double bytes, double align);
EXPORT("amp_module_release") int amp_module_release(double address);
EXPORT("amp_module_stack_top") double amp_module_stack_top(void);
EXPORT("amp_module_register") int amp_module_register(double desc, const char *builtin, const char *unit,
                                                      int is_default);
EXPORT("amp_module_count") int amp_module_count(void);
EXPORT("amp_module_error") const char *amp_module_error(void);

typedef struct ModuleSlot {
    const AmpPatchDesc *desc;
    uint32_t patch_id;
    int is_default;
    char builtin[NAME_BYTES];
    char unit[NAME_BYTES];
} ModuleSlot;

static struct {
    EngineCommands *tables;
    uint32_t stock;
    size_t used;                   /* bytes of the region handed out */
    ModuleSlot modules[AMP_MODULE_MAX];
    int count;
    char error[ERROR_BYTES];
} mods;

static alignas(64) unsigned char region[REGION_BYTES];

/* The built-in registry (registry.c): module patch ids follow its ids. */
extern const int amp_registry_count;

/* The region's first bytes are the stack. */
static void start(void)
{
    if (!mods.used)
        mods.used = MODULE_STACK_BYTES;
}

__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(mods.error, sizeof mods.error, fmt, ap);
    va_end(ap);
    return -1;
}

/* Modules registered before the engine existed (the export worker loads
 * them into a fresh instance first) get their stocks now. 0, or -1 with a
 * message at amp_module_error(). */
int amp_modules_attach(EngineCommands *tables, uint32_t first_id, uint32_t stock)
{
    mods.tables = tables;
    mods.stock = stock;
    char err[ERROR_BYTES];
    for (int i = 0; i < mods.count; i++) {
        mods.modules[i].patch_id = first_id + (uint32_t)i;
        if (engine_commands_set_patch(tables, mods.modules[i].patch_id, mods.modules[i].desc, stock, err, sizeof err))
            return fail("%s", err);
    }
    return 0;
}

int amp_module_abi(void) { return AMP_ABI_VERSION; }
int amp_module_count(void) { return mods.count; }
const char *amp_module_error(void) { return mods.error; }

/* The modules' stack grows down from here (16-aligned). */
double amp_module_stack_top(void)
{
    return (double)(uintptr_t)(region + MODULE_STACK_BYTES);
}

/* `bytes` of the region at an address aligned to `align` (a power of two
 * up to 4096), zeroed. Returns the address, or 0 (no engine yet, bad
 * alignment, the region is full: message at amp_module_error()). */
double amp_module_reserve(double bytes, double align)
{
    start();
    size_t a = align >= 1 && align <= 4096 ? (size_t)align : 0;
    if (!a || (a & (a - 1)) || !(bytes >= 0 && bytes <= (double)REGION_BYTES))
        return fail("amp_module_reserve: %u bytes aligned to %u", (unsigned)bytes, (unsigned)align), 0;
    size_t at = (mods.used + a - 1) & ~(a - 1);
    if (at + (size_t)bytes > REGION_BYTES)
        return fail("the module region is full: %u bytes asked for, %u free", (unsigned)bytes,
                    (unsigned)(REGION_BYTES - at)), 0;
    mods.used = at + (size_t)bytes;
    memset(region + at, 0, (size_t)bytes);
    return (double)(uintptr_t)(region + at);
}

/* Give back everything reserved from `address` on (the last reservation,
 * for a module that was refused after its reserve). 0, or -1. */
int amp_module_release(double address)
{
    start();
    uintptr_t a = (uintptr_t)address;
    if (a < (uintptr_t)(region + MODULE_STACK_BYTES) || a > (uintptr_t)(region + mods.used))
        return fail("amp_module_release: not a reservation");
    mods.used = (size_t)(a - (uintptr_t)region);
    return 0;
}

/* Is the block [p, p + n) inside the region's reservations? */
static int in_region(uintptr_t p, size_t n)
{
    start();
    uintptr_t lo = (uintptr_t)(region + MODULE_STACK_BYTES), hi = (uintptr_t)(region + mods.used);
    return p >= lo && p <= hi && n <= hi - p;
}

static void copy_name(char *dst, const char *src)
{
    snprintf(dst, NAME_BYTES, "%s", src ? src : "");
}

/* Register the descriptor at `desc` (the module's amp_module_desc()) as
 * the next patch id, with a stock of ready nodes made now. `builtin` and
 * `unit` (NUL-terminated; builtin may be 0) name it for a project's
 * {"builtin": ..., "unit": ...}; is_default: it is what that builtin means
 * without a unit. Returns the patch id, or -1 with a message at
 * amp_module_error(): a descriptor of another ABI version, one outside
 * the module region, an unusable one, no room. */
int amp_module_register(double desc, const char *builtin, const char *unit, int is_default)
{
    if (mods.count == AMP_MODULE_MAX)
        return fail("%u patch modules are loaded already; at most %u", (unsigned)mods.count,
                    AMP_MODULE_MAX);
    uintptr_t p = (uintptr_t)desc;
    if (!in_region(p, sizeof(AmpPatchDesc)) || (p & (alignof(AmpPatchDesc) - 1)))
        return fail("amp_module_register: the descriptor is not in the module region");
    const AmpPatchDesc *d = (const AmpPatchDesc *)p;
    if (d->abi_version != AMP_ABI_VERSION)
        return fail("patch module of ABI version %u; this engine takes version %u", d->abi_version,
                    AMP_ABI_VERSION);
    if (!d->name || !d->process || !d->init || !d->reset || !d->set_param || !d->get_param)
        return fail("amp_module_register: the descriptor lacks a name or a function");
    if (d->n_state < 0 ||
        (d->n_state > 0 && !in_region((uintptr_t)d->state_map, (size_t)d->n_state * sizeof(AmpStateEntry))))
        return fail("amp_module_register: the state map is not in the module region");
    uint32_t id = (uint32_t)amp_registry_count + 1 + (uint32_t)mods.count;
    char err[ERROR_BYTES];
    if (mods.tables && engine_commands_set_patch(mods.tables, id, d, mods.stock, err, sizeof err)) {
        engine_commands_set_patch(mods.tables, id, NULL, 0, NULL, 0);
        return fail("%s", err);
    }
    ModuleSlot *m = &mods.modules[mods.count++];
    m->desc = d;
    m->patch_id = id;
    m->is_default = is_default != 0;
    copy_name(m->builtin, builtin);
    copy_name(m->unit, unit ? unit : d->name);
    return (int)id;
}

const AmpPatchDesc *amp_modules_find(const char *builtin, const char *unit)
{
    /* The latest registration of a name wins (a module loaded again). */
    for (int i = mods.count - 1; i >= 0; i--) {
        const ModuleSlot *m = &mods.modules[i];
        if (!builtin || strcmp(m->builtin, builtin))
            continue;
        if (unit ? !strcmp(unit, m->unit) : m->is_default)
            return m->desc;
    }
    return NULL;
}
