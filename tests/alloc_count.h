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
 * The same code sits in tests/check_engine.c, check_host.c and
 * check_project.c, which predate this header.
 */
#ifndef AMP_ALLOC_COUNT_H
#define AMP_ALLOC_COUNT_H

#include <errno.h>
#include <stddef.h>

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

#endif
