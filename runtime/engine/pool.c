/* pool.c — fixed-size object pool, O(1) alloc and free.
 *
 * Threading contract: single-threaded; one owner thread makes every call
 * (see pool.h). No atomics, no locks.
 *
 * Block layout, all in the caller's memory:
 *
 *   Pool header | link[count] (uint32) | padding | objects, `stride` apart
 *
 * link[i] holds the state of slot i: SLOT_LIVE while it is allocated,
 * otherwise the index of the next free slot (SLOT_END ends the list). The
 * free list is a LIFO stack, so the slot freed last is handed out next
 * while it is still warm in cache. Keeping the links outside the objects
 * means a free never writes into the object and a double free is seen
 * from the link alone.
 */
#include "pool.h"

#include <string.h>

#define SLOT_END  UINT32_MAX        /* end of the free list */
#define SLOT_LIVE (UINT32_MAX - 1)  /* slot is allocated */

struct Pool {
    uint32_t capacity;
    uint32_t in_use;
    uint32_t free_head;         /* first free slot, or SLOT_END */
    uint32_t refused;           /* failed pool_alloc calls */
    uint32_t bad_frees;         /* failed pool_free calls */
    uint32_t pad;
    size_t object_size;         /* as asked for */
    size_t stride;              /* object_size rounded up to POOL_ALIGN */
    size_t objects_offset;      /* from the start of the block */
};

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

static uint32_t *links(Pool *pool) { return (uint32_t *)(pool + 1); }
static const uint32_t *clinks(const Pool *pool)
{
    return (const uint32_t *)(pool + 1);
}

static uint8_t *objects(Pool *pool)
{
    return (uint8_t *)pool + pool->objects_offset;
}

static size_t links_end(uint32_t count)
{
    return round_up(sizeof(Pool) + (size_t)count * sizeof(uint32_t),
                    POOL_ALIGN);
}

size_t pool_bytes_needed(size_t object_size, uint32_t count)
{
    if (object_size == 0 || count == 0 || count > POOL_MAX_COUNT)
        return 0;
    if (object_size > SIZE_MAX - POOL_ALIGN)
        return 0;
    size_t stride = round_up(object_size, POOL_ALIGN);
    size_t head = links_end(count);
    if (stride > (SIZE_MAX - head) / count)
        return 0;
    return head + stride * count;
}

Pool *pool_init(void *mem, size_t mem_bytes, size_t object_size,
                uint32_t count)
{
    size_t need = pool_bytes_needed(object_size, count);
    if (!mem || need == 0 || mem_bytes < need ||
        (uintptr_t)mem % POOL_ALIGN != 0)
        return NULL;
    Pool *pool = mem;
    memset(pool, 0, sizeof *pool);
    pool->capacity = count;
    pool->object_size = object_size;
    pool->stride = round_up(object_size, POOL_ALIGN);
    pool->objects_offset = links_end(count);
    uint32_t *link = links(pool);
    for (uint32_t i = 0; i + 1 < count; i++)
        link[i] = i + 1;
    link[count - 1] = SLOT_END;
    pool->free_head = 0;
    return pool;
}

void *pool_alloc(Pool *pool)
{
    uint32_t i = pool->free_head;
    if (i == SLOT_END) {
        pool->refused++;
        return NULL;
    }
    uint32_t *link = links(pool);
    pool->free_head = link[i];
    link[i] = SLOT_LIVE;
    pool->in_use++;
    return objects(pool) + (size_t)i * pool->stride;
}

bool pool_free(Pool *pool, void *object)
{
    uint32_t i = pool_index(pool, object);
    uint32_t *link = links(pool);
    if (i == POOL_NO_INDEX || link[i] != SLOT_LIVE) {
        pool->bad_frees++;
        return false;
    }
    link[i] = pool->free_head;
    pool->free_head = i;
    pool->in_use--;
    return true;
}

uint32_t pool_index(const Pool *pool, const void *object)
{
    const uint8_t *base = (const uint8_t *)pool + pool->objects_offset;
    uintptr_t p = (uintptr_t)object;
    uintptr_t start = (uintptr_t)base;
    if (!object || p < start)
        return POOL_NO_INDEX;
    uintptr_t offset = p - start;
    if (offset % pool->stride != 0 || offset / pool->stride >= pool->capacity)
        return POOL_NO_INDEX;
    return (uint32_t)(offset / pool->stride);
}

void *pool_at(Pool *pool, uint32_t index)
{
    if (index >= pool->capacity)
        return NULL;
    return objects(pool) + (size_t)index * pool->stride;
}

bool pool_is_live(const Pool *pool, uint32_t index)
{
    return index < pool->capacity && clinks(pool)[index] == SLOT_LIVE;
}

uint32_t pool_in_use(const Pool *pool) { return pool->in_use; }
uint32_t pool_capacity(const Pool *pool) { return pool->capacity; }
size_t pool_object_size(const Pool *pool) { return pool->object_size; }
uint32_t pool_refused(const Pool *pool) { return pool->refused; }
uint32_t pool_bad_frees(const Pool *pool) { return pool->bad_frees; }
