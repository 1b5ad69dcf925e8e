/* alloc_count.h — count malloc-family calls made while a flag is on, for
 * the "no allocation on the audio path" tests.
 *
 * The functions below replace glibc's malloc, calloc, realloc,
 * aligned_alloc, memalign, posix_memalign and free for the whole test
 * binary (symbol interposition; the real ones are reached through the
 * __libc_* aliases). Each call adds `alloc_counting` (0 or 1) to
 * alloc_calls, free only for a non-NULL pointer. A sanitizer owns malloc,
 * so under ASan, TSan or MSan nothing is replaced and ALLOC_COUNTING is 0:
 * a test then skips its count. Likewise on a C library that is not glibc.
 *
 * Include it in exactly one file of a test binary (it defines functions).
 * Used by check_engine.c, check_engine_commands.c, check_host.c and
 * check_project.c. A test proves the counter live with alloc_count_probe()
 * before it trusts a count of 0.
 */
#ifndef AMP_ALLOC_COUNT_H
#define AMP_ALLOC_COUNT_H

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ALLOC_COUNTING 0        /* the sanitizer owns malloc */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer) || __has_feature(thread_sanitizer)
#define ALLOC_COUNTING 0
#endif
#endif
#if !defined(ALLOC_COUNTING) && defined(__GLIBC__)
#define ALLOC_COUNTING 1
#endif
#ifndef ALLOC_COUNTING
#define ALLOC_COUNTING 0
#endif

/* volatile: the test flips the flag around calls the compiler cannot see into. */
static volatile int alloc_counting;
static volatile long alloc_calls;

#if ALLOC_COUNTING
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void __libc_free(void *p);

void *malloc(size_t size);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t size);
void *aligned_alloc(size_t align, size_t size);
void *memalign(size_t align, size_t size);
int posix_memalign(void **out, size_t align, size_t size);
void free(void *p);

void *malloc(size_t size)
{
    alloc_calls += alloc_counting;
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    alloc_calls += alloc_counting;
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
    alloc_calls += alloc_counting;
    return __libc_realloc(p, size);
}

void *aligned_alloc(size_t align, size_t size)
{
    alloc_calls += alloc_counting;
    return __libc_memalign(align, size);
}

void *memalign(size_t align, size_t size)
{
    alloc_calls += alloc_counting;
    return __libc_memalign(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
    alloc_calls += alloc_counting;
    void *p = __libc_memalign(align, size);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

void free(void *p)
{
    alloc_calls += alloc_counting && p;
    __libc_free(p);
}
#endif

/* One malloc and one free made while counting: returns what the counter
 * saw (2 when it works; 0 when ALLOC_COUNTING is 0) and leaves alloc_calls
 * at 0 and counting off. */
static inline long alloc_count_probe(void)
{
    alloc_calls = 0;
    alloc_counting = 1;
    void *volatile p = malloc(16);   /* volatile: the pair may not be optimised away */
    free(p);
    alloc_counting = 0;
    long seen = alloc_calls;
    alloc_calls = 0;
    return seen;
}

#endif
