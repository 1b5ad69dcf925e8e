/* check_ring.c — the SPSC record ring (runtime/engine/ring.h).
 *
 * "core": the layout JavaScript relies on, exact fits and refusals in rings
 * of 8 and 16 bytes, zero-length records, a record wrapped at every offset,
 * reads into a buffer that is too small, gather writes, corrupt lengths.
 * "limits": free-running indices wrapping past 2^32 (set up by writing the
 * header words directly, as JavaScript could) and the two-thread stress of
 * tests/ring_stress.c with a million records.
 */
#define RING_STRESS_NO_MAIN
#include "ring_stress.c"

#include "testutil.h"

#include <string.h>

/* A fresh ring of `capacity` bytes; free() it. */
static void *new_ring(uint32_t capacity)
{
    size_t bytes = rb_bytes_needed(capacity);
    ck_assert_uint_gt(bytes, 0);
    size_t rounded = (bytes + RB_ALIGN - 1) / RB_ALIGN * RB_ALIGN;
    void *mem = aligned_alloc(RB_ALIGN, rounded); /* C11: size % align == 0 */
    ck_assert_ptr_nonnull(mem);
    memset(mem, 0xAB, rounded);   /* garbage that rb_init must not rely on */
    ck_assert(rb_init(mem, capacity));
    return mem;
}

/* The header words, read and written the way JavaScript sees them. */
static uint32_t word_at(const void *ring, size_t offset)
{
    uint32_t v;
    memcpy(&v, (const uint8_t *)ring + offset, 4);
    return v;
}

static void set_word(void *ring, size_t offset, uint32_t v)
{
    memcpy((uint8_t *)ring + offset, &v, 4);
}

static const uint8_t *data_of(const void *ring)
{
    return (const uint8_t *)ring + RB_OFF_DATA;
}

/* Little-endian length word at byte `offset` of the data area. */
static uint32_t length_word(const void *ring, uint32_t offset)
{
    const uint8_t *d = data_of(ring) + offset;
    return (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 |
           (uint32_t)d[3] << 24;
}

static void fill_pattern(uint8_t *p, uint32_t n, uint8_t seed)
{
    for (uint32_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + 7 * i + 1);
}

START_TEST(test_init_and_layout)
{
    ck_assert_uint_eq(rb_bytes_needed(8), RB_OFF_DATA + 8);
    ck_assert_uint_eq(rb_bytes_needed(RB_MAX_CAPACITY),
                      (size_t)RB_OFF_DATA + RB_MAX_CAPACITY);
    ck_assert_uint_eq(rb_bytes_needed(0), 0);
    ck_assert_uint_eq(rb_bytes_needed(4), 0);
    ck_assert_uint_eq(rb_bytes_needed(12), 0);
    ck_assert_uint_eq(rb_bytes_needed(0x40000001u), 0);

    uint8_t *mem = aligned_alloc(RB_ALIGN, 2 * RB_OFF_DATA + 64);
    ck_assert(!rb_init(mem, 4));
    ck_assert(!rb_init(mem, 24));
    ck_assert(!rb_init(mem + 4, 8));            /* misaligned */
    ck_assert(!rb_init(NULL, 8));
    free(mem);

    void *ring = new_ring(8);
    ck_assert_uint_eq(word_at(ring, RB_OFF_WRITE), 0);
    ck_assert_uint_eq(word_at(ring, RB_OFF_READ), 0);
    ck_assert_uint_eq(word_at(ring, RB_OFF_CAPACITY), 8);
    ck_assert_uint_eq(word_at(ring, RB_OFF_DROPPED), 0);
    ck_assert_uint_eq(rb_capacity(ring), 8);
    ck_assert_uint_eq(rb_max_record(ring), 4);
    ck_assert_uint_eq(rb_space(ring), 8);
    ck_assert_uint_eq(rb_used(ring), 0);
    ck_assert_int_eq(rb_peek_size(ring), RB_EMPTY);
    uint8_t buf[8];
    ck_assert_int_eq(rb_read(ring, buf, sizeof buf), RB_EMPTY);
    ck_assert_int_eq(rb_skip(ring), RB_EMPTY);
    free(ring);
}
END_TEST

START_TEST(test_record_bytes)
{
    ck_assert_uint_eq(rb_record_bytes(0), 4);
    ck_assert_uint_eq(rb_record_bytes(1), 8);
    ck_assert_uint_eq(rb_record_bytes(4), 8);
    ck_assert_uint_eq(rb_record_bytes(5), 12);

    void *ring = new_ring(16);
    ck_assert(rb_write(ring, "x", 1));
    ck_assert_uint_eq(rb_used(ring), 8);
    ck_assert_uint_eq(word_at(ring, RB_OFF_WRITE), 8);
    ck_assert_uint_eq(length_word(ring, 0), 1);
    ck_assert_uint_eq(data_of(ring)[4], 'x');
    free(ring);
}
END_TEST

START_TEST(test_capacity8_exact_fit)
{
    void *ring = new_ring(8);
    uint8_t buf[8];
    ck_assert(rb_write(ring, "abcd", 4));       /* 4 + 4 = 8: exact fit */
    ck_assert_uint_eq(rb_space(ring), 0);
    ck_assert_uint_eq(length_word(ring, 0), 4);
    ck_assert_mem_eq(data_of(ring) + 4, "abcd", 4);
    ck_assert(!rb_write(ring, NULL, 0));        /* full: even 0 bytes */
    ck_assert_uint_eq(rb_dropped(ring), 1);
    ck_assert_int_eq(rb_read(ring, buf, sizeof buf), 4);
    ck_assert_mem_eq(buf, "abcd", 4);
    ck_assert_uint_eq(rb_space(ring), 8);
    ck_assert(!rb_write(ring, "abcde", 5));     /* one byte too many, ever */
    ck_assert_uint_eq(rb_dropped(ring), 2);
    ck_assert_uint_eq(word_at(ring, RB_OFF_DROPPED), 2);
    ck_assert_int_eq(rb_peek_size(ring), RB_EMPTY);
    free(ring);
}
END_TEST

START_TEST(test_capacity16_exact_fit)
{
    void *ring = new_ring(16);
    uint8_t buf[16];
    ck_assert(!rb_write(ring, "0123456789abc", 13));    /* > 16 - 4 */
    ck_assert_uint_eq(rb_dropped(ring), 1);
    ck_assert(rb_write(ring, "0123456789ab", 12));      /* exact fit */
    ck_assert_uint_eq(rb_space(ring), 0);
    ck_assert_int_eq(rb_read(ring, buf, sizeof buf), 12);
    ck_assert_mem_eq(buf, "0123456789ab", 12);

    ck_assert(rb_write(ring, "abcd", 4));               /* 8 bytes */
    ck_assert(rb_write(ring, "efgh", 4));               /* 8 more: full */
    ck_assert_uint_eq(rb_space(ring), 0);
    ck_assert(!rb_write(ring, NULL, 0));
    ck_assert_uint_eq(rb_dropped(ring), 2);
    ck_assert_int_eq(rb_read(ring, buf, sizeof buf), 4);
    ck_assert_mem_eq(buf, "abcd", 4);
    ck_assert(rb_write(ring, "ijk", 3));                /* fits again */
    ck_assert_int_eq(rb_read(ring, buf, sizeof buf), 4);
    ck_assert_mem_eq(buf, "efgh", 4);
    ck_assert_int_eq(rb_read(ring, buf, sizeof buf), 3);
    ck_assert_mem_eq(buf, "ijk", 3);

    ck_assert(rb_write(ring, "12345", 5));              /* 12 bytes */
    ck_assert(!rb_write(ring, "1", 1));                 /* needs 8, 4 left */
    ck_assert(rb_write(ring, NULL, 0));                 /* needs 4: fits */
    ck_assert_uint_eq(rb_space(ring), 0);
    ck_assert_uint_eq(rb_dropped(ring), 3);
    free(ring);
}
END_TEST

START_TEST(test_zero_length_records)
{
    void *ring = new_ring(8);
    ck_assert(rb_write(ring, NULL, 0));
    ck_assert(rb_write2(ring, NULL, 0, NULL, 0));
    ck_assert(!rb_write(ring, NULL, 0));
    ck_assert_uint_eq(rb_dropped(ring), 1);
    ck_assert_int_eq(rb_peek_size(ring), 0);
    ck_assert_int_eq(rb_read(ring, NULL, 0), 0);
    ck_assert_int_eq(rb_read(ring, NULL, 0), 0);
    ck_assert_int_eq(rb_read(ring, NULL, 0), RB_EMPTY);
    ck_assert_uint_eq(word_at(ring, RB_OFF_READ), 8);
    free(ring);
}
END_TEST

/* Move an empty ring's indices to `start` through the API alone: write and
 * read zero-length records (4 bytes each). */
static void advance_to(void *ring, uint32_t start)
{
    for (uint32_t i = 0; i < start / 4; i++) {
        ck_assert(rb_write(ring, NULL, 0));
        ck_assert_int_eq(rb_read(ring, NULL, 0), 0);
    }
    ck_assert_uint_eq(word_at(ring, RB_OFF_WRITE), start);
}

/* One record of every length at every start offset: the length word and
 * payload must sit at (index & mask), wrapping to the start of the data
 * area, and read back intact. */
START_TEST(test_wrap_every_offset)
{
    static const uint32_t capacities[] = { 8, 16, 32 };
    for (size_t c = 0; c < sizeof capacities / sizeof capacities[0]; c++) {
        uint32_t capacity = capacities[c];
        uint32_t mask = capacity - 1;
        for (uint32_t start = 0; start < capacity; start += 4) {
            for (uint32_t len = 0; len <= capacity - 4; len++) {
                void *ring = new_ring(capacity);
                advance_to(ring, start);
                uint8_t in[32], out[32];
                fill_pattern(in, len, (uint8_t)(start + len));
                ck_assert(rb_write(ring, in, len));
                ck_assert_uint_eq(rb_used(ring), rb_record_bytes(len));
                ck_assert_uint_eq(length_word(ring, start & mask), len);
                for (uint32_t i = 0; i < len; i++)
                    ck_assert_uint_eq(data_of(ring)[(start + 4 + i) & mask],
                                      in[i]);
                ck_assert_int_eq(rb_read(ring, out, len), (int32_t)len);
                ck_assert_mem_eq(out, in, len);
                ck_assert_uint_eq(rb_used(ring), 0);
                ck_assert_uint_eq(rb_dropped(ring), 0);
                free(ring);
            }
        }
    }
}
END_TEST

/* rb_write2 splits the payload at every point, at every start offset. */
START_TEST(test_write2_gather)
{
    const uint32_t capacity = 16;
    for (uint32_t start = 0; start < capacity; start += 4) {
        for (uint32_t len = 0; len <= capacity - 4; len++) {
            for (uint32_t split = 0; split <= len; split++) {
                void *ring = new_ring(capacity);
                advance_to(ring, start);
                uint8_t in[16], out[16];
                fill_pattern(in, len, (uint8_t)(split * 3 + len));
                ck_assert(rb_write2(ring, in, split, in + split, len - split));
                ck_assert_int_eq(rb_read(ring, out, sizeof out), (int32_t)len);
                ck_assert_mem_eq(out, in, len);
                free(ring);
            }
        }
    }

    void *ring = new_ring(16);
    ck_assert(!rb_write2(ring, "abcdefgh", 8, "12345", 5));     /* 13 > 12 */
    ck_assert(!rb_write2(ring, "a", UINT32_MAX, "b", 2));       /* overflow */
    ck_assert(!rb_write2(ring, "a", 2, "b", UINT32_MAX - 1));
    ck_assert_uint_eq(rb_dropped(ring), 3);
    ck_assert_uint_eq(rb_used(ring), 0);
    ck_assert(rb_write2(ring, "head", 4, "body", 4));
    uint8_t out[16];
    ck_assert_int_eq(rb_read(ring, out, sizeof out), 8);
    ck_assert_mem_eq(out, "headbody", 8);
    free(ring);
}
END_TEST

START_TEST(test_full_ring_counts_dropped)
{
    void *ring = new_ring(16);
    uint32_t written = 0, refused = 0;
    for (int i = 0; i < 10; i++) {
        if (rb_write(ring, "ab", 2))
            written++;
        else
            refused++;
    }
    ck_assert_uint_eq(written, 2);              /* 8 bytes each */
    ck_assert_uint_eq(refused, 8);
    ck_assert_uint_eq(rb_dropped(ring), 8);
    ck_assert_uint_eq(rb_used(ring), 16);
    ck_assert_uint_eq(word_at(ring, RB_OFF_WRITE), 16);
    uint8_t out[4];
    ck_assert_int_eq(rb_read(ring, out, sizeof out), 2);
    ck_assert(rb_write(ring, "cd", 2));         /* wraps to offset 0 */
    ck_assert_uint_eq(length_word(ring, 0), 2);
    ck_assert_int_eq(rb_read(ring, out, sizeof out), 2);
    ck_assert_mem_eq(out, "ab", 2);
    ck_assert_int_eq(rb_read(ring, out, sizeof out), 2);
    ck_assert_mem_eq(out, "cd", 2);
    ck_assert_uint_eq(rb_dropped(ring), 8);
    free(ring);
}
END_TEST

START_TEST(test_too_small_keeps_record)
{
    void *ring = new_ring(32);
    ck_assert(rb_write(ring, "hello", 5));
    ck_assert(rb_write(ring, "hi", 2));
    uint8_t out[8];
    ck_assert_int_eq(rb_read(ring, out, 4), RB_TOO_SMALL);
    ck_assert_int_eq(rb_read(ring, NULL, 0), RB_TOO_SMALL);
    ck_assert_int_eq(rb_peek_size(ring), 5);
    ck_assert_uint_eq(rb_used(ring), 12 + 8);
    ck_assert_uint_eq(word_at(ring, RB_OFF_READ), 0);
    ck_assert_int_eq(rb_read(ring, out, 5), 5);
    ck_assert_mem_eq(out, "hello", 5);

    ck_assert_int_eq(rb_skip(ring), 2);         /* drop "hi" unread */
    ck_assert_int_eq(rb_peek_size(ring), RB_EMPTY);
    free(ring);
}
END_TEST

/* A bad length word (a broken JavaScript producer) is reported, never
 * followed past the published bytes. */
START_TEST(test_corrupt_length)
{
    void *ring = new_ring(16);
    ck_assert(rb_write(ring, "abcd", 4));
    uint8_t out[16];
    set_word((uint8_t *)ring + RB_OFF_DATA, 0, 0x7fffffffu);
    ck_assert_int_eq(rb_peek_size(ring), RB_CORRUPT);
    ck_assert_int_eq(rb_read(ring, out, sizeof out), RB_CORRUPT);
    ck_assert_int_eq(rb_skip(ring), RB_CORRUPT);
    set_word((uint8_t *)ring + RB_OFF_DATA, 0, 5);  /* 12 > 8 published */
    ck_assert_int_eq(rb_read(ring, out, sizeof out), RB_CORRUPT);
    ck_assert_uint_eq(word_at(ring, RB_OFF_READ), 0);
    set_word((uint8_t *)ring + RB_OFF_DATA, 0, 4);
    ck_assert_int_eq(rb_read(ring, out, sizeof out), 4);

    set_word(ring, RB_OFF_WRITE, 40);               /* more than capacity */
    ck_assert_int_eq(rb_peek_size(ring), RB_CORRUPT);
    ck_assert_uint_eq(rb_used(ring), 16);
    free(ring);
}
END_TEST

/* Indices set just below 2^32 through the header words: records written
 * across the wrap of the uint32 index read back intact, and used/space
 * stay right. */
START_TEST(test_index_wrap_2_32)
{
    void *ring = new_ring(16);
    const uint32_t start = UINT32_MAX - 11;     /* 0xfffffff4, 4-aligned */
    set_word(ring, RB_OFF_WRITE, start);
    set_word(ring, RB_OFF_READ, start);
    ck_assert_uint_eq(rb_used(ring), 0);
    uint32_t written = 0;
    for (uint32_t i = 0; i < 64; i++) {
        uint32_t len = i % 13;
        uint8_t in[16], out[16];
        fill_pattern(in, len, (uint8_t)i);
        ck_assert(rb_write(ring, in, len));
        written += rb_record_bytes(len);
        ck_assert_uint_eq(rb_used(ring), rb_record_bytes(len));
        ck_assert_int_eq(rb_read(ring, out, sizeof out), (int32_t)len);
        ck_assert_mem_eq(out, in, len);
    }
    ck_assert_uint_eq(word_at(ring, RB_OFF_WRITE), start + written);
    ck_assert_uint_lt(word_at(ring, RB_OFF_WRITE), start);     /* wrapped */
    ck_assert_uint_eq(word_at(ring, RB_OFF_READ), start + written);

    /* Full across the wrap: write_index = 8, read_index = 0xfffffff8. */
    set_word(ring, RB_OFF_WRITE, UINT32_MAX - 7);
    set_word(ring, RB_OFF_READ, UINT32_MAX - 7);
    ck_assert(rb_write(ring, "0123456789ab", 12));
    ck_assert_uint_eq(word_at(ring, RB_OFF_WRITE), 8);
    ck_assert_uint_eq(rb_used(ring), 16);
    ck_assert_uint_eq(rb_space(ring), 0);
    ck_assert(!rb_write(ring, NULL, 0));
    ck_assert_uint_eq(rb_dropped(ring), 1);
    uint8_t out[16];
    ck_assert_int_eq(rb_read(ring, out, sizeof out), 12);
    ck_assert_mem_eq(out, "0123456789ab", 12);
    ck_assert_uint_eq(word_at(ring, RB_OFF_READ), 8);

    /* The dropped counter wraps too. */
    set_word(ring, RB_OFF_DROPPED, UINT32_MAX);
    ck_assert(!rb_write(ring, "0123456789abc", 13));
    ck_assert_uint_eq(rb_dropped(ring), 0);
    free(ring);
}
END_TEST

START_TEST(test_max_record)
{
    void *ring = new_ring(1024);
    static uint8_t in[1024], out[1024];
    fill_pattern(in, sizeof in, 9);
    ck_assert_uint_eq(rb_max_record(ring), 1020);
    ck_assert(!rb_write(ring, in, 1021));
    ck_assert(rb_write(ring, in, 1020));
    ck_assert_int_eq(rb_read(ring, out, 1019), RB_TOO_SMALL);
    ck_assert_int_eq(rb_read(ring, out, sizeof out), 1020);
    ck_assert_mem_eq(out, in, 1020);
    ck_assert_uint_eq(rb_dropped(ring), 1);
    free(ring);
}
END_TEST

/* Producer and consumer threads, 1,000,000 records of 9..208 bytes. */
START_TEST(test_two_thread_stress)
{
    const uint32_t records = 1000000;
    StressResult r;
    ck_assert(stress_run(4096, records, 0x9e3779b9u, &r));
    ck_assert_uint_eq(r.received, records);
    ck_assert_uint_eq(r.lost, 0);
    ck_assert_uint_eq(r.reordered, 0);
    ck_assert_uint_eq(r.torn, 0);
    ck_assert_uint_eq(r.dropped, (uint32_t)r.refused);
    ck_assert(stress_ok(&r, records));
}
END_TEST

static Suite *ring_suite(void)
{
    Suite *s = suite_create("ring");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_init_and_layout);
    tcase_add_test(core, test_record_bytes);
    tcase_add_test(core, test_capacity8_exact_fit);
    tcase_add_test(core, test_capacity16_exact_fit);
    tcase_add_test(core, test_zero_length_records);
    tcase_add_test(core, test_wrap_every_offset);
    tcase_add_test(core, test_write2_gather);
    tcase_add_test(core, test_full_ring_counts_dropped);
    tcase_add_test(core, test_too_small_keeps_record);
    tcase_add_test(core, test_corrupt_length);
    suite_add_tcase(s, core);

    TCase *limits = tcase_create("limits");
    tcase_set_timeout(limits, 180);   /* a hang guard: the two-thread stress crawls on a loaded 2-core machine */
    tcase_add_test(limits, test_index_wrap_2_32);
    tcase_add_test(limits, test_max_record);
    tcase_add_test(limits, test_two_thread_stress);
    suite_add_tcase(s, limits);
    return s;
}

int main(void)
{
    return testutil_run(ring_suite());
}
