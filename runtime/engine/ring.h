/* ring.h — wait-free single-producer single-consumer record ring.
 *
 * The rings between the UI and the engine (DESIGN.md section 5: the command
 * ring UI -> engine, the event ring engine -> UI) live in the one shared
 * WebAssembly.Memory, so a ring is not a C object but a region of bytes with
 * a fixed layout that JavaScript maps too. Every function here takes the
 * base address of that region. runtime/engine/RINGS.md describes the same layout
 * and algorithm for the JavaScript side.
 *
 * Threading contract: exactly one producer thread and one consumer thread
 * per ring, either of which may be JavaScript. rb_init runs before the ring
 * is shared. rb_write/rb_write2 are producer-only; rb_peek_size, rb_read and
 * rb_skip are consumer-only; rb_space, rb_used and rb_dropped may be called
 * from any thread and return a snapshot. No function blocks or allocates.
 *
 * Layout (byte offsets from the ring base, which must be RB_ALIGN-aligned):
 * struct RingHeader, whose fields and offsets are runtime/engine/layout.def's,
 * then the data area.
 *
 *   RB_OFF_WRITE     uint32  write_index: free-running, producer-owned
 *   RB_OFF_READ      uint32  read_index: free-running, consumer-owned
 *   RB_OFF_CAPACITY  uint32  bytes in the data area, a power of two, fixed
 *   RB_OFF_DROPPED   uint32  writes refused so far (wraps), producer-owned
 *   RB_OFF_DATA      capacity bytes of data area
 *
 * Each header field sits on its own 64-byte line so that the producer and
 * the consumer never write to the same cache line.
 *
 * Records: a 4-byte little-endian length, then that many payload bytes,
 * then 0..3 bytes of padding so the next record starts 4-byte aligned. A
 * record occupies rb_record_bytes(len) bytes of the data area, and a record
 * may wrap around the end of the data area: its bytes continue at the start
 * (index & (capacity - 1) throughout). There are no skip records, so the
 * largest payload is capacity - 4 bytes (rb_max_record).
 */
#ifndef AMP_RING_H
#define AMP_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"

#define RB_ALIGN        64      /* required alignment of a ring's base: a cache line */
#define RB_OFF_WRITE    offsetof(RingHeader, write_index)
#define RB_OFF_READ     offsetof(RingHeader, read_index)
#define RB_OFF_CAPACITY offsetof(RingHeader, capacity)
#define RB_OFF_DROPPED  offsetof(RingHeader, dropped)
#define RB_OFF_DATA     sizeof(RingHeader)
#define RB_MIN_CAPACITY 8u
#define RB_MAX_CAPACITY 0x80000000u
#define RB_RECORD_HEADER 4u     /* the length word in front of each record */

/* Negative results of rb_peek_size and rb_read. */
#define RB_EMPTY     (-1)       /* no record to read */
#define RB_TOO_SMALL (-2)       /* dst smaller than the record; it stays */
#define RB_CORRUPT   (-3)       /* the next length word claims more bytes
                                   than the producer published */

/* Bytes one record of `len` payload bytes takes in the data area. */
static inline uint32_t rb_record_bytes(uint32_t len)
{
    return RB_RECORD_HEADER + ((len + 3u) & ~3u);
}

/* Bytes of memory a ring of `capacity` data bytes needs (header included),
 * or 0 if capacity is not a power of two in [RB_MIN_CAPACITY,
 * RB_MAX_CAPACITY]. */
size_t rb_bytes_needed(uint32_t capacity);

/* Lay out an empty ring in `mem` (rb_bytes_needed(capacity) bytes,
 * RB_ALIGN-aligned). False, and `mem` untouched, on a bad capacity or a
 * misaligned `mem`. */
bool rb_init(void *mem, uint32_t capacity);

/* Producer: append one record. Whole records only: false, and the dropped
 * counter incremented, when the record does not fit now or can never fit
 * (len > rb_max_record). `data` may be NULL when len is 0. */
bool rb_write(void *ring, const void *data, uint32_t len);

/* Producer: append one record whose payload is `head` then `body`. */
bool rb_write2(void *ring, const void *head, uint32_t head_len,
               const void *body, uint32_t body_len);

/* Consumer: payload length of the next record, RB_EMPTY or RB_CORRUPT. */
int32_t rb_peek_size(const void *ring);

/* Consumer: copy the next record's payload into dst (room for `cap` bytes)
 * and remove it. Returns its length, RB_EMPTY, RB_TOO_SMALL (record kept)
 * or RB_CORRUPT (nothing consumed). */
int32_t rb_read(void *ring, void *dst, uint32_t cap);

/* Consumer: drop the next record unread. Its length, RB_EMPTY or
 * RB_CORRUPT. */
int32_t rb_skip(void *ring);

/* Snapshots, any thread. */
uint32_t rb_capacity(const void *ring);
uint32_t rb_max_record(const void *ring);   /* capacity - 4 */
uint32_t rb_used(const void *ring);         /* bytes of published records */
uint32_t rb_space(const void *ring);        /* capacity - used */
uint32_t rb_dropped(const void *ring);

#endif
