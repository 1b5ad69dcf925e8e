/* check_pool.c — the fixed-size object pool (runtime/engine/pool.h).
 *
 * "core": a pool of 2 (fill, refuse and count, free, reuse), alignment of
 * every object, double and foreign frees, index <-> pointer.
 * "limits": bad init arguments, pools of 1 and of 1000.
 */
#include "pool.h"

#include "testutil.h"

#include <stdint.h>
#include <string.h>

/* A pool in fresh POOL_ALIGN-aligned storage; free() the pool itself. */
static Pool *new_pool(size_t object_size, uint32_t count)
{
    size_t bytes = pool_bytes_needed(object_size, count);
    ck_assert_uint_gt(bytes, 0);
    size_t rounded = (bytes + POOL_ALIGN - 1) / POOL_ALIGN * POOL_ALIGN;
    void *mem = aligned_alloc(POOL_ALIGN, rounded);
    ck_assert_ptr_nonnull(mem);
    memset(mem, 0xCD, rounded);
    Pool *pool = pool_init(mem, bytes, object_size, count);
    ck_assert_ptr_eq(pool, mem);
    return pool;
}

START_TEST(test_pool_of_two)
{
    Pool *pool = new_pool(24, 2);
    ck_assert_uint_eq(pool_capacity(pool), 2);
    ck_assert_uint_eq(pool_object_size(pool), 24);
    void *a = pool_alloc(pool);
    void *b = pool_alloc(pool);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_ne(a, b);
    ck_assert_uint_eq(pool_in_use(pool), 2);
    ck_assert_ptr_null(pool_alloc(pool));
    ck_assert_uint_eq(pool_refused(pool), 1);
    ck_assert_uint_eq(pool_in_use(pool), 2);

    ck_assert(pool_free(pool, a));
    ck_assert_uint_eq(pool_in_use(pool), 1);
    ck_assert_ptr_eq(pool_alloc(pool), a);      /* the freed slot again */
    ck_assert_ptr_null(pool_alloc(pool));
    ck_assert_uint_eq(pool_refused(pool), 2);
    ck_assert_uint_eq(pool_bad_frees(pool), 0);
    free(pool);
}
END_TEST

/* Every object 16-byte aligned, and objects of any size never overlap:
 * fill each with its own byte and check none was overwritten. */
START_TEST(test_alignment)
{
    static const size_t sizes[] = { 1, 3, 15, 16, 17, 24, 33, 100 };
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t size = sizes[k];
        Pool *pool = new_pool(size, 7);
        uint8_t *obj[7];
        for (int i = 0; i < 7; i++) {
            obj[i] = pool_alloc(pool);
            ck_assert_ptr_nonnull(obj[i]);
            ck_assert_uint_eq((uintptr_t)obj[i] % POOL_ALIGN, 0);
            memset(obj[i], 0x10 + i, size);
        }
        for (int i = 0; i < 7; i++)
            for (size_t j = 0; j < size; j++)
                ck_assert_uint_eq(obj[i][j], 0x10 + i);
        free(pool);
    }
}
END_TEST

START_TEST(test_bad_frees)
{
    Pool *pool = new_pool(32, 4);
    uint8_t *a = pool_alloc(pool);
    uint8_t *b = pool_alloc(pool);
    ck_assert(pool_free(pool, a));
    ck_assert(!pool_free(pool, a));             /* double free */
    ck_assert_uint_eq(pool_bad_frees(pool), 1);
    ck_assert_uint_eq(pool_in_use(pool), 1);

    ck_assert(!pool_free(pool, b + 1));         /* inside a slot */
    ck_assert(!pool_free(pool, b + 16));
    ck_assert(!pool_free(pool, NULL));
    int local;
    ck_assert(!pool_free(pool, &local));        /* another object entirely */
    ck_assert(!pool_free(pool, pool));          /* the bookkeeping */
    ck_assert(!pool_free(pool, pool_at(pool, 3)));     /* never allocated */
    ck_assert_uint_eq(pool_bad_frees(pool), 7);
    ck_assert_uint_eq(pool_in_use(pool), 1);

    /* The free list survived all that: three slots, then refusal. */
    for (int i = 0; i < 3; i++)
        ck_assert_ptr_nonnull(pool_alloc(pool));
    ck_assert_ptr_null(pool_alloc(pool));
    ck_assert(pool_free(pool, b));
    free(pool);
}
END_TEST

START_TEST(test_index_pointer)
{
    Pool *pool = new_pool(40, 5);
    for (uint32_t i = 0; i < 5; i++) {
        void *p = pool_alloc(pool);
        ck_assert_uint_eq(pool_index(pool, p), i);  /* fresh pool: in order */
        ck_assert_ptr_eq(pool_at(pool, i), p);
        ck_assert(pool_is_live(pool, i));
    }
    ck_assert_ptr_null(pool_at(pool, 5));
    ck_assert(!pool_is_live(pool, 5));
    ck_assert_uint_eq(pool_index(pool, (uint8_t *)pool_at(pool, 2) + 8),
                      POOL_NO_INDEX);
    ck_assert_uint_eq(pool_index(pool, NULL), POOL_NO_INDEX);
    ck_assert_uint_eq(pool_index(pool, pool), POOL_NO_INDEX);
    ck_assert(pool_free(pool, pool_at(pool, 2)));
    ck_assert(!pool_is_live(pool, 2));
    ck_assert(pool_is_live(pool, 3));
    free(pool);
}
END_TEST

START_TEST(test_init_arguments)
{
    ck_assert_uint_eq(pool_bytes_needed(0, 4), 0);
    ck_assert_uint_eq(pool_bytes_needed(16, 0), 0);
    ck_assert_uint_eq(pool_bytes_needed(SIZE_MAX - 4, 2), 0);
    ck_assert_uint_eq(pool_bytes_needed(SIZE_MAX / 4, 8), 0);
    size_t bytes = pool_bytes_needed(16, 4);
    ck_assert_uint_ge(bytes, 4 * 16 + 4 * sizeof(uint32_t));

    uint8_t *mem = aligned_alloc(POOL_ALIGN, 1024);
    ck_assert_ptr_null(pool_init(mem, bytes - 1, 16, 4));   /* too small */
    ck_assert_ptr_null(pool_init(mem + 8, bytes, 16, 4));   /* misaligned */
    ck_assert_ptr_null(pool_init(NULL, bytes, 16, 4));
    ck_assert_ptr_null(pool_init(mem, bytes, 0, 4));
    ck_assert_ptr_null(pool_init(mem, bytes, 16, 0));
    Pool *pool = pool_init(mem, bytes, 16, 4);
    ck_assert_ptr_nonnull(pool);
    /* The last object ends inside the block. */
    uint8_t *last = pool_at(pool, 3);
    ck_assert(last + 16 <= mem + bytes);
    free(mem);
}
END_TEST

START_TEST(test_capacity_one)
{
    Pool *pool = new_pool(8, 1);
    void *a = pool_alloc(pool);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_null(pool_alloc(pool));
    ck_assert(pool_free(pool, a));
    ck_assert(!pool_free(pool, a));
    ck_assert_ptr_eq(pool_alloc(pool), a);
    ck_assert_uint_eq(pool_refused(pool), 1);
    ck_assert_uint_eq(pool_bad_frees(pool), 1);
    ck_assert_uint_eq(pool_in_use(pool), 1);
    free(pool);
}
END_TEST

/* Fill 1000 slots, refuse the 1001st, free in a scrambled order, fill
 * again: every slot comes back exactly once. */
START_TEST(test_capacity_thousand)
{
    enum { N = 1000 };
    Pool *pool = new_pool(48, N);
    static void *obj[N];
    static uint8_t seen[N];
    for (int round = 0; round < 2; round++) {
        memset(seen, 0, sizeof seen);
        for (uint32_t i = 0; i < N; i++) {
            obj[i] = pool_alloc(pool);
            ck_assert_ptr_nonnull(obj[i]);
            uint32_t index = pool_index(pool, obj[i]);
            ck_assert_uint_lt(index, N);
            ck_assert_uint_eq(seen[index], 0);
            seen[index] = 1;
        }
        ck_assert_uint_eq(pool_in_use(pool), N);
        ck_assert_ptr_null(pool_alloc(pool));
        ck_assert_uint_eq(pool_refused(pool), (uint32_t)round + 1);
        for (uint32_t k = 0; k < N; k++)      /* 7 is coprime to 1000 */
            ck_assert(pool_free(pool, obj[(k * 7) % N]));
        ck_assert_uint_eq(pool_in_use(pool), 0);
    }
    ck_assert_uint_eq(pool_bad_frees(pool), 0);
    free(pool);
}
END_TEST

static Suite *pool_suite(void)
{
    Suite *s = suite_create("pool");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_pool_of_two);
    tcase_add_test(core, test_alignment);
    tcase_add_test(core, test_bad_frees);
    tcase_add_test(core, test_index_pointer);
    suite_add_tcase(s, core);

    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, test_init_arguments);
    tcase_add_test(limits, test_capacity_one);
    tcase_add_test(limits, test_capacity_thousand);
    suite_add_tcase(s, limits);
    return s;
}

int main(void)
{
    return testutil_run(pool_suite());
}
