/* ring.c — wait-free SPSC record ring over caller-supplied memory.
 *
 * Threading contract: one producer thread, one consumer thread per ring
 * (either may be JavaScript using Atomics on the same memory; see RINGS.md).
 * The producer alone stores write_index and dropped; the consumer alone
 * stores read_index; capacity is written once by rb_init before the ring is
 * shared and only read afterwards.
 *
 * Ordering, after kfifo and the Linux circular-buffers note: each side
 * loads its own index relaxed (nobody else writes it) and the other side's
 * with acquire, then publishes its own index with release after it has
 * finished with the data bytes. So the consumer never sees a write_index
 * before the record bytes behind it, and the producer never reuses bytes
 * before the consumer has copied them out. Indices run free over all of
 * uint32 and are masked with capacity - 1 (a power of two, so 2^32 is a
 * multiple of it and the wrap of the index is invisible to the mask);
 * write_index - read_index is the byte count in use, 0..capacity.
 */
#include "ring.h"

#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <string.h>

/* The header is struct RingHeader (layout.def, which pins its offsets);
 * each field that a side writes has a cache line of its own. */
static_assert(RB_OFF_WRITE % RB_ALIGN == 0, "write_index on its own line");
static_assert(RB_OFF_READ % RB_ALIGN == 0, "read_index on its own line");
static_assert(RB_OFF_CAPACITY % RB_ALIGN == 0, "capacity on its own line");
static_assert(RB_OFF_DROPPED % RB_ALIGN == 0, "dropped on its own line");
static_assert(RB_OFF_DATA % RB_ALIGN == 0, "the data area starts a line");
static_assert(RB_ALIGN % alignof(RingHeader) == 0, "an aligned base aligns the header");
/* JavaScript sees these fields as plain 32-bit words. */
static_assert(sizeof(_Atomic uint32_t) == 4, "atomic word is 4 bytes");
static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics are lock-free");

static RingHeader *header(void *ring) { return ring; }
static const RingHeader *cheader(const void *ring) { return ring; }
static uint8_t *data_area(void *ring) { return (uint8_t *)ring + RB_OFF_DATA; }
static const uint8_t *cdata_area(const void *ring)
{
    return (const uint8_t *)ring + RB_OFF_DATA;
}

static bool valid_capacity(uint32_t capacity)
{
    return capacity >= RB_MIN_CAPACITY && capacity <= RB_MAX_CAPACITY &&
           (capacity & (capacity - 1)) == 0;
}

size_t rb_bytes_needed(uint32_t capacity)
{
    if (!valid_capacity(capacity))
        return 0;
    return (size_t)RB_OFF_DATA + capacity;
}

bool rb_init(void *mem, uint32_t capacity)
{
    if (!mem || !valid_capacity(capacity) || (uintptr_t)mem % RB_ALIGN != 0)
        return false;
    memset(mem, 0, RB_OFF_DATA);
    RingHeader *h = header(mem);
    /* Relaxed: the ring is not shared yet; whatever hands it to the other
     * thread (thread start, postMessage) orders these stores. */
    atomic_init(&h->write_index, 0);
    atomic_init(&h->read_index, 0);
    atomic_init(&h->dropped, 0);
    h->capacity = capacity;
    return true;
}

/* Copy n bytes into the data area at free-running index pos, wrapping. */
static void copy_in(uint8_t *data, uint32_t capacity, uint32_t pos,
                    const void *src, uint32_t n)
{
    if (n == 0)
        return;
    uint32_t offset = pos & (capacity - 1);
    uint32_t first = capacity - offset;
    if (n <= first) {
        memcpy(data + offset, src, n);
        return;
    }
    memcpy(data + offset, src, first);
    memcpy(data, (const uint8_t *)src + first, n - first);
}

/* Copy n bytes out of the data area at free-running index pos, wrapping. */
static void copy_out(const uint8_t *data, uint32_t capacity, uint32_t pos,
                     void *dst, uint32_t n)
{
    if (n == 0)
        return;
    uint32_t offset = pos & (capacity - 1);
    uint32_t first = capacity - offset;
    if (n <= first) {
        memcpy(dst, data + offset, n);
        return;
    }
    memcpy(dst, data + offset, first);
    memcpy((uint8_t *)dst + first, data, n - first);
}

static void put_length(uint8_t *data, uint32_t capacity, uint32_t pos,
                       uint32_t len)
{
    uint8_t le[4] = { (uint8_t)len, (uint8_t)(len >> 8),
                      (uint8_t)(len >> 16), (uint8_t)(len >> 24) };
    copy_in(data, capacity, pos, le, 4);
}

static uint32_t get_length(const uint8_t *data, uint32_t capacity,
                           uint32_t pos)
{
    uint8_t le[4];
    copy_out(data, capacity, pos, le, 4);
    return (uint32_t)le[0] | (uint32_t)le[1] << 8 | (uint32_t)le[2] << 16 |
           (uint32_t)le[3] << 24;
}

/* Producer: count one refused write. */
static bool refuse(RingHeader *h)
{
    /* Relaxed both: a counter only the producer stores; readers want a
     * number, not an ordering. */
    uint32_t n = atomic_load_explicit(&h->dropped, memory_order_relaxed);
    atomic_store_explicit(&h->dropped, n + 1, memory_order_relaxed);
    return false;
}

bool rb_write2(void *ring, const void *head, uint32_t head_len,
               const void *body, uint32_t body_len)
{
    RingHeader *h = header(ring);
    uint32_t capacity = h->capacity;
    uint32_t max = capacity - RB_RECORD_HEADER;
    if (head_len > max || body_len > max - head_len)
        return refuse(h);
    uint32_t len = head_len + body_len;

    /* Relaxed: our own index, only this thread stores it. */
    uint32_t w = atomic_load_explicit(&h->write_index, memory_order_relaxed);
    /* Acquire: pairs with the consumer's release of read_index, so its
     * copies out of the bytes we are about to reuse are finished. */
    uint32_t r = atomic_load_explicit(&h->read_index, memory_order_acquire);
    uint32_t need = rb_record_bytes(len);
    if (need > capacity - (w - r))
        return refuse(h);

    uint8_t *data = data_area(ring);
    put_length(data, capacity, w, len);
    copy_in(data, capacity, w + RB_RECORD_HEADER, head, head_len);
    copy_in(data, capacity, w + RB_RECORD_HEADER + head_len, body, body_len);
    /* Release: the length word and payload above become visible to the
     * consumer no later than the index that covers them. */
    atomic_store_explicit(&h->write_index, w + need, memory_order_release);
    return true;
}

bool rb_write(void *ring, const void *data, uint32_t len)
{
    return rb_write2(ring, data, len, NULL, 0);
}

/* Consumer: the next record's length, or RB_EMPTY / RB_CORRUPT. Sets *r to
 * the read index the record starts at. */
static int32_t next_record(const void *ring, uint32_t *r)
{
    const RingHeader *h = cheader(ring);
    uint32_t capacity = h->capacity;
    /* Acquire: pairs with the producer's release of write_index, so the
     * record bytes before it are visible to the loads below. */
    uint32_t w = atomic_load_explicit(&h->write_index, memory_order_acquire);
    /* Relaxed: our own index, only this thread stores it. */
    *r = atomic_load_explicit(&h->read_index, memory_order_relaxed);
    uint32_t used = w - *r;
    if (used == 0)
        return RB_EMPTY;
    if (used > capacity || used < RB_RECORD_HEADER)
        return RB_CORRUPT;
    uint32_t len = get_length(cdata_area(ring), capacity, *r);
    if (len > capacity - RB_RECORD_HEADER || rb_record_bytes(len) > used)
        return RB_CORRUPT;
    return (int32_t)len;
}

/* Consumer: hand the bytes of a record of `len` starting at r back. */
static void release_record(void *ring, uint32_t r, uint32_t len)
{
    /* Release: our copies out of the record are done before the producer
     * can see the space as free and overwrite it. */
    atomic_store_explicit(&header(ring)->read_index, r + rb_record_bytes(len),
                          memory_order_release);
}

int32_t rb_peek_size(const void *ring)
{
    uint32_t r;
    return next_record(ring, &r);
}

int32_t rb_read(void *ring, void *dst, uint32_t cap)
{
    uint32_t r;
    int32_t len = next_record(ring, &r);
    if (len < 0)
        return len;
    if ((uint32_t)len > cap)
        return RB_TOO_SMALL;
    copy_out(data_area(ring), header(ring)->capacity, r + RB_RECORD_HEADER,
             dst, (uint32_t)len);
    release_record(ring, r, (uint32_t)len);
    return len;
}

int32_t rb_skip(void *ring)
{
    uint32_t r;
    int32_t len = next_record(ring, &r);
    if (len < 0)
        return len;
    release_record(ring, r, (uint32_t)len);
    return len;
}

uint32_t rb_capacity(const void *ring)
{
    return cheader(ring)->capacity;
}

uint32_t rb_max_record(const void *ring)
{
    return cheader(ring)->capacity - RB_RECORD_HEADER;
}

uint32_t rb_used(const void *ring)
{
    const RingHeader *h = cheader(ring);
    /* Acquire both: a snapshot from any thread; read_index first, so the
     * write_index loaded after it is at least as new and the difference
     * never goes negative. */
    uint32_t r = atomic_load_explicit(&h->read_index, memory_order_acquire);
    uint32_t w = atomic_load_explicit(&h->write_index, memory_order_acquire);
    uint32_t used = w - r;
    return used > h->capacity ? h->capacity : used;
}

uint32_t rb_space(const void *ring)
{
    return cheader(ring)->capacity - rb_used(ring);
}

uint32_t rb_dropped(const void *ring)
{
    /* Relaxed: a statistics counter; it orders nothing. */
    return atomic_load_explicit(&cheader(ring)->dropped,
                                memory_order_relaxed);
}
