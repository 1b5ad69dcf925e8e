/* layout.h — the shared-memory layouts as C structs, expanded from
 * runtime/layout.def.
 *
 * Each LAYOUT_STRUCT of the schema becomes a plain struct (EngineMeter,
 * EngineTrackState, EngineState, AmpHost, AmpState, RingHeader,
 * EngineEvent), then static asserts that pin it on the target being
 * compiled: every field at its schema offset and at a multiple of its
 * size, the struct's size and alignment. engine.h and ring.h include this
 * file; the TypeScript view of the same schema is printed by
 * runtime/gen_layout.c. Nothing here costs anything at run time: the
 * asserts live in never-called inline functions (one per struct, so that
 * the fields can be named through a local typedef), which generate no
 * code.
 */
#ifndef AMP_LAYOUT_H
#define AMP_LAYOUT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* The C type of each field kind, and the alignment the schema requires
 * of it. A PTR gets 8 bytes on every target, so its alignment is 8 even
 * where a pointer is 4 bytes. */
#define LAYOUT_CTYPE_U8         uint8_t
#define LAYOUT_CTYPE_U32        uint32_t
#define LAYOUT_CTYPE_I32        int32_t
#define LAYOUT_CTYPE_U64        uint64_t
#define LAYOUT_CTYPE_I64        int64_t
#define LAYOUT_CTYPE_F32        float
#define LAYOUT_CTYPE_F64        double
#define LAYOUT_CTYPE_ATOMIC_U32 _Atomic uint32_t
#define LAYOUT_CTYPE_PTR        void *
#define LAYOUT_CTYPE_STRUCT(c_type) c_type

#define LAYOUT_ALIGN_U8         1
#define LAYOUT_ALIGN_U32        4
#define LAYOUT_ALIGN_I32        4
#define LAYOUT_ALIGN_U64        8
#define LAYOUT_ALIGN_I64        8
#define LAYOUT_ALIGN_F32        4
#define LAYOUT_ALIGN_F64        8
#define LAYOUT_ALIGN_ATOMIC_U32 4
#define LAYOUT_ALIGN_PTR        8
#define LAYOUT_ALIGN_STRUCT(c_type) _Alignof(c_type)

/* The structs. */
#define LAYOUT_C_FIELD(kind, name, offset, doc) LAYOUT_CTYPE_##kind name;
#define LAYOUT_C_ARRAY(kind, name, count, offset, doc) LAYOUT_CTYPE_##kind name[count];
#define LAYOUT_STRUCT(c_type, ts_name, size, align, fields, doc) \
    typedef struct c_type { fields(LAYOUT_C_FIELD, LAYOUT_C_ARRAY) } c_type;
#include "layout.def"

/* The asserts: LayoutSelf is the struct being checked. */
#define LAYOUT_CHECK_FIELD(kind, name, offset, doc) \
    _Static_assert(offsetof(LayoutSelf, name) == (offset), "layout.def: offset of " #name); \
    _Static_assert((offset) % LAYOUT_ALIGN_##kind == 0, "layout.def: " #name " is not naturally aligned");
#define LAYOUT_CHECK_ARRAY(kind, name, count, offset, doc) \
    LAYOUT_CHECK_FIELD(kind, name, offset, doc)
#define LAYOUT_STRUCT(c_type, ts_name, size, align, fields, doc) \
    static inline void layout_check_##c_type(void) \
    { \
        typedef c_type LayoutSelf; \
        fields(LAYOUT_CHECK_FIELD, LAYOUT_CHECK_ARRAY) \
    } \
    _Static_assert(sizeof(c_type) == (size), "layout.def: size of " #c_type); \
    _Static_assert(_Alignof(c_type) == (align), "layout.def: alignment of " #c_type);
#include "layout.def"

/* JavaScript sees every ATOMIC_U32 as a plain 32-bit word; a PTR fits
 * its 8 bytes. */
_Static_assert(sizeof(_Atomic uint32_t) == 4, "atomic word is 4 bytes");
_Static_assert(sizeof(void *) <= 8, "a PTR field takes 8 bytes");

#endif
