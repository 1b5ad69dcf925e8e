/* pool.h — fixed-size object pool over caller-supplied storage.
 *
 * The engine keeps instances, clips and sample blocks in pools (DESIGN.md
 * section 5): memory is sized once, at init, and the audio thread takes
 * and returns slots in O(1) without touching malloc. A full pool refuses an
 * allocation and counts the refusal; it never grows.
 *
 * Threading contract: single-threaded. The thread that owns the pool (the
 * audio thread, in the engine) is the only one that calls pool_alloc,
 * pool_free or the other functions. Objects cross threads by index or
 * pointer through the rings (ring.h); the bookkeeping never does.
 *
 * Everything, bookkeeping included, lives in the caller's block, so a pool
 * placed in the shared WebAssembly memory needs nothing else. Objects are
 * POOL_ALIGN-aligned and their contents are not touched by alloc or free
 * (alloc does not zero).
 */
#ifndef AMP_POOL_H
#define AMP_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POOL_ALIGN 16u          /* alignment of the block and of each object */
#define POOL_MAX_COUNT 0x7ffffff0u
#define POOL_NO_INDEX UINT32_MAX /* pool_index of a foreign pointer */

typedef struct Pool Pool;       /* lives at the start of the caller's block */

/* Bytes of storage for `count` objects of `object_size` bytes, bookkeeping
 * included, or 0 if either is 0 or the size overflows. */
size_t pool_bytes_needed(size_t object_size, uint32_t count);

/* Set up an empty pool in `mem` (POOL_ALIGN-aligned, at least
 * pool_bytes_needed(object_size, count) bytes, given as mem_bytes). Returns
 * the pool, which is `mem` itself, or NULL on bad arguments. */
Pool *pool_init(void *mem, size_t mem_bytes, size_t object_size,
                uint32_t count);

/* O(1). A free slot, most recently freed first; NULL when all are in use,
 * and the refusal is counted. */
void *pool_alloc(Pool *pool);

/* O(1). Return an object to the pool. False, and nothing changed but the
 * bad-free counter, for NULL, a pointer not at the start of one of this
 * pool's slots, or a slot that is already free (double free). */
bool pool_free(Pool *pool, void *object);

uint32_t pool_in_use(const Pool *pool);
uint32_t pool_capacity(const Pool *pool);
size_t pool_object_size(const Pool *pool);  /* as given to pool_init */
uint32_t pool_refused(const Pool *pool);    /* pool_alloc calls that failed */
uint32_t pool_bad_frees(const Pool *pool);  /* pool_free calls that failed */

/* Slot index of an object (0..capacity-1), or POOL_NO_INDEX if `object`
 * is not the start of one of this pool's slots. */
uint32_t pool_index(const Pool *pool, const void *object);

/* The object in slot `index`, allocated or not; NULL out of range. */
void *pool_at(Pool *pool, uint32_t index);

/* Whether slot `index` is allocated. */
bool pool_is_live(const Pool *pool, uint32_t index);

#endif
