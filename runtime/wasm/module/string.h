/* string.h — the part of <string.h> a compiled patch uses, for a patch
 * module built freestanding (runtime/wasm/patch_module.sh: clang
 * --target=wasm32 -nostdlib, no C library). With -mbulk-memory clang
 * lowers these to memory.fill / memory.copy instructions: the module
 * imports no function for them. */
#ifndef AMP_MODULE_STRING_H
#define AMP_MODULE_STRING_H
#include <stddef.h>
#define memset(d, c, n)  __builtin_memset((d), (c), (n))
#define memcpy(d, s, n)  __builtin_memcpy((d), (s), (n))
#define memmove(d, s, n) __builtin_memmove((d), (s), (n))
#endif
