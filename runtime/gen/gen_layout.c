/* gen_layout.c — print the views of runtime/engine/layout.def that are not C.
 *
 * Built for the build machine and run at build time (runtime/gen/gen.mk):
 *
 *     gen_layout           > $(B)/gen/web/layout.ts    the TypeScript module
 *     gen_layout --json    > $(B)/gen/web/layout.json  the same, for tests/web
 *     gen_layout --offsets                             what this C compiler did
 *
 * The TypeScript module holds, for every LAYOUT_STRUCT, an object of byte
 * offsets by field (camelCased: EngineState.loop_start is
 * ENGINE_STATE.loopStart) and its size (ENGINE_STATE_BYTES); every
 * LAYOUT_CONST as a number; and LAYOUT_TYPES, each field's type as
 * "kind" or "kind[count]". Those numbers are the schema's columns, checked
 * here first: the fields of a struct must tile it, each at a multiple of
 * its size, with no gap (a PTR counts 8 bytes), to its declared size.
 *
 * --offsets prints the same names with the numbers the C compiler chose
 * for the real structs (offsetof, sizeof; a field's count from its sizeof),
 * one "name value" line each. `make test-layout` runs it natively and, in
 * an emscripten build, in wasm32, and compares both with what the compiled
 * layout.ts holds (tests/layout_check.ts), so C and TypeScript cannot
 * disagree unnoticed.
 *
 * The output is deterministic: no dates, no paths.
 */
#include "engine.h"
#include "ring.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 64

typedef struct LayoutFieldRow {
    const char *kind;        /* "U32", ..., or "STRUCT(CType)" */
    const char *name;        /* the C name */
    const char *count_text;  /* as written in the schema; NULL for one value */
    long count;              /* 1 for one value */
    long offset;             /* the schema's */
    long c_offset;           /* offsetof on this target */
    long c_size;             /* sizeof the field on this target */
    const char *doc;
} LayoutFieldRow;

typedef struct LayoutStructRow {
    const char *c_type;
    const char *ts_name;
    long size, align;        /* the schema's */
    long c_size, c_align;    /* this target's */
    const char *doc;
    const LayoutFieldRow *(*fields)(size_t *n);
} LayoutStructRow;

typedef struct LayoutConstRow {
    const char *c_name;
    const char *ts_name;
    long long value;
    const char *doc;
} LayoutConstRow;

/* One function per struct returns its rows; LayoutRowOwner names the
 * struct inside it, for offsetof. */
#define ROW_FIELD(kind, name, offset, doc) \
    { #kind, #name, NULL, 1, (offset), (long)offsetof(LayoutRowOwner, name), \
      (long)sizeof(((LayoutRowOwner *)0)->name), doc },
#define ROW_ARRAY(kind, name, count, offset, doc) \
    { #kind, #name, #count, (long)(count), (offset), (long)offsetof(LayoutRowOwner, name), \
      (long)sizeof(((LayoutRowOwner *)0)->name), doc },
#define LAYOUT_STRUCT(c_type, ts_name, size, align, fields, doc) \
    static const LayoutFieldRow *rows_of_##c_type(size_t *n) \
    { \
        typedef c_type LayoutRowOwner; \
        static const LayoutFieldRow rows[] = { fields(ROW_FIELD, ROW_ARRAY) }; \
        *n = sizeof rows / sizeof rows[0]; \
        return rows; \
    }
#include "layout.def"

static const LayoutStructRow structs[] = {
#define LAYOUT_STRUCT(c_type, ts_name, size, align, fields, doc) \
    { #c_type, #ts_name, (size), (align), (long)sizeof(c_type), (long)_Alignof(c_type), doc, rows_of_##c_type },
#include "layout.def"
};

static const LayoutConstRow consts[] = {
#define LAYOUT_CONST(c_name, ts_name, doc) { #c_name, #ts_name, (long long)(c_name), doc },
#include "layout.def"
};

#define N_STRUCTS (sizeof structs / sizeof structs[0])
#define N_CONSTS (sizeof consts / sizeof consts[0])

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("gen_layout: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* "loop_start" -> "loopStart". */
static const char *camel(const char *snake, char *out)
{
    size_t n = 0;
    int up = 0;
    for (const char *s = snake; *s; s++) {
        if (n + 1 >= NAME_MAX_LEN)
            die("name too long: %s", snake);
        if (*s == '_') {
            up = 1;
            continue;
        }
        out[n++] = (char)(up ? toupper((unsigned char)*s) : *s);
        up = 0;
    }
    out[n] = '\0';
    return out;
}

/* Doc text is printable ASCII without the end of a comment. */
static const char *checked(const char *s)
{
    for (const char *p = s; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            die("doc text must be printable ASCII: \"%s\"", s);
    if (strstr(s, "*/"))
        die("doc text must not contain */: \"%s\"", s);
    return s;
}

/* The struct a STRUCT(CType) kind names, or NULL for a scalar kind. */
static const LayoutStructRow *struct_kind(const char *kind)
{
    size_t len = strlen(kind);
    if (strncmp(kind, "STRUCT(", 7) != 0 || kind[len - 1] != ')')
        return NULL;
    for (size_t i = 0; i < N_STRUCTS; i++)
        if (strlen(structs[i].c_type) == len - 8 && strncmp(structs[i].c_type, kind + 7, len - 8) == 0)
            return &structs[i];
    die("%s: no such struct above it", kind);
    return NULL;
}

/* A scalar kind's name in TypeScript's view, and its size in the schema
 * (schema_size) or on this target. */
static const char *scalar_kind(const char *kind, long *schema_size, long *c_size)
{
    static const struct { const char *kind, *ts; long size, c_size; } kinds[] = {
        { "U8", "u8", 1, 1 },   { "U32", "u32", 4, 4 }, { "I32", "i32", 4, 4 },
        { "U64", "u64", 8, 8 }, { "I64", "i64", 8, 8 }, { "F32", "f32", 4, 4 },
        { "F64", "f64", 8, 8 }, { "ATOMIC_U32", "u32", 4, 4 },
        { "PTR", "ptr", 8, (long)sizeof(void *) },
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].kind, kind) == 0) {
            *schema_size = kinds[i].size;
            *c_size = kinds[i].c_size;
            return kinds[i].ts;
        }
    die("unknown field kind %s", kind);
    return NULL;
}

/* A field's element: its type name for TypeScript, and its size in the
 * schema and on this target. */
static const char *element(const LayoutFieldRow *f, long *schema_size, long *c_size, long *align)
{
    const LayoutStructRow *s = struct_kind(f->kind);
    if (s) {
        *schema_size = s->size;
        *c_size = s->c_size;
        *align = s->align;
        return s->ts_name;
    }
    const char *ts = scalar_kind(f->kind, schema_size, c_size);
    *align = *schema_size;
    return ts;
}

/* The schema's own rules: the fields tile the struct in order, each
 * naturally aligned; the alignment is the largest of its fields'. */
static void check_schema(void)
{
    for (size_t i = 0; i < N_STRUCTS; i++) {
        const LayoutStructRow *s = &structs[i];
        size_t n;
        const LayoutFieldRow *f = s->fields(&n);
        long at = 0, align = 1;
        for (size_t k = 0; k < n; k++) {
            long size, c_size, field_align;
            element(&f[k], &size, &c_size, &field_align);
            if (f[k].offset != at)
                die("%s.%s: offset %ld, but the field before it ends at %ld", s->c_type, f[k].name, f[k].offset, at);
            if (f[k].offset % field_align != 0)
                die("%s.%s: offset %ld is not a multiple of %ld", s->c_type, f[k].name, f[k].offset, field_align);
            if (f[k].count < 1)
                die("%s.%s: count %ld", s->c_type, f[k].name, f[k].count);
            at += size * f[k].count;
            if (field_align > align)
                align = field_align;
            checked(f[k].doc);
        }
        if (at != s->size)
            die("%s: size %ld, but its fields end at %ld", s->c_type, s->size, at);
        if (align != s->align)
            die("%s: align %ld, but its fields need %ld", s->c_type, s->align, align);
        checked(s->doc);
    }
    for (size_t i = 0; i < N_CONSTS; i++) {
        checked(consts[i].doc);
        if (consts[i].value < 0 || consts[i].value > 0xffffffffLL)
            die("%s: %lld is not a u32", consts[i].c_name, consts[i].value);
    }
}

static void type_text(const LayoutFieldRow *f, long count, char *out, size_t size)
{
    long schema_size, c_size, align;
    const char *ts = element(f, &schema_size, &c_size, &align);
    if (f->count_text)
        snprintf(out, size, "%s[%ld]", ts, count);
    else
        snprintf(out, size, "%s", ts);
}

static void print_ts(void)
{
    char name[NAME_MAX_LEN], type[NAME_MAX_LEN * 2];
    puts("// layout.ts - generated by runtime/gen/gen_layout.c from runtime/engine/layout.def; do not edit.\n"
         "//\n"
         "// The byte layouts the engine shares with JavaScript in the shared\n"
         "// WebAssembly.Memory: the state region (AMP_STATE: the engine's\n"
         "// ENGINE_STATE, then engine.wasm's AMP_HOST), a ring's header\n"
         "// (RING_HEADER; its data area starts at RING_HEADER_BYTES) and the\n"
         "// event ring's records (ENGINE_EVENT). Each struct is an object of byte\n"
         "// offsets from its start, by field; every field is little-endian at a\n"
         "// multiple of its size; a ptr is a u32 address in engine.wasm, in 8\n"
         "// bytes. C pins the same offsets with static asserts, and `make\n"
         "// test-layout` compares this module with the compiled structs.");
    for (size_t i = 0; i < N_CONSTS; i++) {
        const LayoutConstRow *c = &consts[i];
        printf("\n/** %s (%s) */\n", c->doc, c->c_name);
        if (c->value > 0xffff)
            printf("export const %s = 0x%llx;\n", c->ts_name, c->value);
        else
            printf("export const %s = %lld;\n", c->ts_name, c->value);
    }
    for (size_t i = 0; i < N_STRUCTS; i++) {
        const LayoutStructRow *s = &structs[i];
        size_t n;
        const LayoutFieldRow *f = s->fields(&n);
        printf("\n/** struct %s, %ld bytes. %s */\nexport const %s = {\n", s->c_type, s->size, s->doc, s->ts_name);
        for (size_t k = 0; k < n; k++) {
            type_text(&f[k], f[k].count, type, sizeof type);
            printf("  /** %s: %s */\n  %s: %ld,\n", type, f[k].doc, camel(f[k].name, name), f[k].offset);
        }
        printf("} as const;\n/** sizeof(%s) */\nexport const %s_BYTES = %ld;\n", s->c_type, s->ts_name, s->size);
    }
    puts("\n/** Every field's type: a kind (u8, u32, i32, u64, i64, f32, f64, ptr)\n"
         " *  or a struct's name, then [count] for an array. */\n"
         "export const LAYOUT_TYPES = {");
    for (size_t i = 0; i < N_STRUCTS; i++) {
        size_t n;
        const LayoutFieldRow *f = structs[i].fields(&n);
        printf("  %s: {\n", structs[i].ts_name);
        for (size_t k = 0; k < n; k++) {
            type_text(&f[k], f[k].count, type, sizeof type);
            printf("    %s: '%s',\n", camel(f[k].name, name), type);
        }
        puts("  },");
    }
    puts("} as const;");
}

static void print_json(void)
{
    char name[NAME_MAX_LEN];
    printf("{");
    const char *sep = "\n";
    for (size_t i = 0; i < N_CONSTS; i++) {
        printf("%s  \"%s\": %lld", sep, consts[i].ts_name, consts[i].value);
        sep = ",\n";
    }
    for (size_t i = 0; i < N_STRUCTS; i++) {
        size_t n;
        const LayoutFieldRow *f = structs[i].fields(&n);
        printf("%s  \"%s\": {", sep, structs[i].ts_name);
        for (size_t k = 0; k < n; k++)
            printf("%s\"%s\": %ld", k ? ", " : "", camel(f[k].name, name), f[k].offset);
        printf("},\n  \"%s_BYTES\": %ld", structs[i].ts_name, structs[i].size);
    }
    printf("\n}\n");
}

/* The compiler's numbers, not the schema's. */
static void print_offsets(void)
{
    char name[NAME_MAX_LEN], type[NAME_MAX_LEN * 2];
    for (size_t i = 0; i < N_CONSTS; i++)
        printf("%s %lld\n", consts[i].ts_name, consts[i].value);
    for (size_t i = 0; i < N_STRUCTS; i++) {
        const LayoutStructRow *s = &structs[i];
        size_t n;
        const LayoutFieldRow *f = s->fields(&n);
        printf("%s_BYTES %ld\n", s->ts_name, s->c_size);
        for (size_t k = 0; k < n; k++) {
            long schema_size, c_size, align;
            element(&f[k], &schema_size, &c_size, &align);
            camel(f[k].name, name);
            type_text(&f[k], f[k].c_size / c_size, type, sizeof type);
            printf("%s.%s %ld\n", s->ts_name, name, f[k].c_offset);
            printf("%s.%s:type %s\n", s->ts_name, name, type);
        }
    }
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (argc > 2 || (argc == 2 && strcmp(mode, "--json") != 0 && strcmp(mode, "--offsets") != 0))
        die("usage: gen_layout [--json | --offsets]");
    if (strcmp(mode, "--offsets") == 0) {
        print_offsets();
        return 0;
    }
    check_schema();
    if (strcmp(mode, "--json") == 0)
        print_json();
    else
        print_ts();
    return 0;
}
