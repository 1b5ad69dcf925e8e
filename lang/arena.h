/* arena.h — one region of memory per compilation, freed in one call.
 *
 * Every phase of the compiler allocates from the Arena of the compilation it
 * belongs to and never frees piecemeal. Allocation failure is fatal (the
 * process prints a message and exits), so call sites need no NULL checks.
 */
#ifndef AMP_ARENA_H
#define AMP_ARENA_H

#include <stddef.h>

typedef struct ArenaBlock ArenaBlock;

typedef struct Arena {
    ArenaBlock *head;      /* newest block first */
    size_t used;           /* bytes used in head */
    size_t total;          /* bytes handed out, for statistics */
} Arena;

void arena_init(Arena *a);
void arena_free(Arena *a);
void *arena_alloc(Arena *a, size_t size);            /* zeroed, 16-byte aligned */
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_strdup(Arena *a, const char *s);
char *arena_printf(Arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* malloc/realloc that die on failure, for the few growable buffers that
 * live outside an arena (the text being emitted, the lexer's input). */
void *xmalloc(size_t size);
void *xrealloc(void *p, size_t size);

#endif
