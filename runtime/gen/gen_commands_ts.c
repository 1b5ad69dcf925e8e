/* gen_commands_ts.c — print the TypeScript encoder of the commands.
 *
 * Built for the build machine and run at build time (runtime/gen/gen.mk):
 *
 *     gen_commands_ts > $(B)/gen/web/commands.ts
 *
 * The module it prints is the UI's side of runtime/engine/commands.def: the
 * limits, the decoder's status codes, the enumerations, a CommandType enum,
 * one typed encoder per command (encodeNoteOn(view, offset, time, track,
 * noteId, key, velocity) -> bytes written), a tagged Command union with
 * encodeCommand, and the schema as data (commandInfo, commandSize). Names
 * are the schema's, camelCased. Offsets and sizes come from the C structs
 * through cmd_info, so the two sides cannot disagree on the layout; the
 * encoders check values the way cmd_decode does and throw a RangeError on
 * one the engine would reject.
 *
 * The output is deterministic: no dates, no paths, numbers in their
 * shortest exact form. Any doc text that would not survive as a TypeScript
 * string or comment, and any rule outside the subset commands.def allows,
 * stops the build with a message on stderr.
 */
#include "commands.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 64

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("gen_commands_ts: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* "note_id" -> "noteId" (or "NoteId" with upper_first). */
static const char *camel(const char *snake, int upper_first, char *out)
{
    size_t n = 0;
    int up = upper_first;
    for (const char *s = snake; *s; s++) {
        if (n + 1 >= NAME_MAX_LEN)
            die("name too long: %s", snake);
        if (*s == '_') {
            up = 1;
            continue;
        }
        out[n++] = (char)(up ? toupper((unsigned char)*s) : tolower((unsigned char)*s));
        up = 0;
    }
    out[n] = '\0';
    return out;
}

/* Doc text is printable ASCII, so it prints the same everywhere. */
static void check_text(const char *s)
{
    for (const char *p = s; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            die("doc text must be printable ASCII: \"%s\"", s);
    if (strstr(s, "*/"))
        die("doc text must not contain */: \"%s\"", s);
}

/* A double-quoted string literal. */
static void print_string(const char *s)
{
    check_text(s);
    putchar('"');
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\')
            putchar('\\');
        putchar(*p);
    }
    putchar('"');
}

/* The shortest decimal that reads back as exactly v. */
static void format_number(double v, char *out, size_t size)
{
    if (!isfinite(v))
        die("bound is not finite");
    if (fabs(v) < 9007199254740992.0 && v == floor(v)) {
        snprintf(out, size, "%lld", (long long)v);
        return;
    }
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(out, size, "%.*g", precision, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

static void print_number(double v)
{
    char buf[40];
    format_number(v, buf, sizeof buf);
    fputs(buf, stdout);
}

static const char *kind_name(CmdFieldKind kind)
{
    switch (kind) {
    case CMD_FIELD_U8:   return "u8";
    case CMD_FIELD_U16:  return "u16";
    case CMD_FIELD_U32:  return "u32";
    case CMD_FIELD_I32:  return "i32";
    case CMD_FIELD_I64:  return "i64";
    case CMD_FIELD_F32:  return "f32";
    case CMD_FIELD_F64:  return "f64";
    case CMD_FIELD_BOOL: return "bool";
    }
    die("unknown field kind %d", (int)kind);
    return NULL;
}

static const char *ts_type(CmdFieldKind kind)
{
    return kind == CMD_FIELD_BOOL ? "boolean" : "number";
}

/* "(u32, 0..1023)" after a field's doc; "(bool)" says it all. */
static void print_kind_range(CmdFieldKind kind, double min, double max)
{
    if (kind == CMD_FIELD_BOOL) {
        fputs(" (bool)", stdout);
        return;
    }
    printf(" (%s, ", kind_name(kind));
    print_number(min);
    fputs("..", stdout);
    print_number(max);
    putchar(')');
}

static int has_rule(const CmdInfo *info)
{
    return strcmp(info->rule, "true") != 0;
}

static const CmdField *find_field(const CmdInfo *info, const char *name, size_t len)
{
    for (uint32_t i = 0; i < info->field_count; i++)
        if (strlen(info->fields[i].name) == len && strncmp(info->fields[i].name, name, len) == 0)
            return &info->fields[i];
    return NULL;
}

/* The rule as TypeScript: the same text with each field name camelCased.
 * Anything but field names, integers, spaces, parentheses and the
 * operators commands.def allows is refused, so the rule means the same in
 * both languages. */
static void print_rule(const CmdInfo *info)
{
    const char *s = info->rule;
    while (*s) {
        if (isalpha((unsigned char)*s) || *s == '_') {
            size_t len = 0;
            while (isalnum((unsigned char)s[len]) || s[len] == '_')
                len++;
            const CmdField *f = find_field(info, s, len);
            if (!f)
                die("rule of %s names %.*s, which is no field of it", info->name, (int)len, s);
            char name[NAME_MAX_LEN];
            fputs(camel(f->name, 0, name), stdout);
            s += len;
        } else if (isdigit((unsigned char)*s) || strchr(" ()!&|=<>+-", *s)) {
            putchar(*s++);
        } else {
            die("rule of %s uses '%c', outside the subset commands.def allows", info->name, *s);
        }
    }
}

/* ---- the parts of the module ------------------------------------------------ */

static void print_preamble(void)
{
    puts("// commands.ts -- generated by runtime/gen/gen_commands_ts.c from runtime/commands.def.\n"
         "// Do not edit: change commands.def and rebuild.\n"
         "//\n"
         "// The commands the UI sends to the engine. One command is one record of the\n"
         "// command ring (runtime/engine/RINGS.md): a 16-byte header (type u32 at 0, flags u32\n"
         "// at 4, always 0, time i64 at 8), then the command's fields, little-endian,\n"
         "// each at its natural alignment, zero padding up to commandSize[type]. The\n"
         "// engine decodes records with cmd_decode (runtime/engine/commands.h) and rejects the\n"
         "// values these encoders refuse.\n");
    printf("/** Bytes of the header every command starts with. */\n"
           "export const COMMAND_HEADER_SIZE = %u;\n\n", CMD_HEADER_SIZE);
    printf("/** Bytes of the largest command: a scratch buffer this big holds any. */\n"
           "export const COMMAND_SIZE_MAX = %u;\n\n", CMD_SIZE_MAX);
}

static void print_constants(void)
{
#define CMD_CONST(c_name, ts_name, doc) \
    fputs("/** ", stdout); check_text(doc); fputs(doc, stdout); \
    printf(" */\nexport const %s = %lld;\n\n", #ts_name, (long long)(c_name));
#include "commands.def"
}

static void print_statuses(void)
{
    puts("/** What the engine's decoder (cmd_decode) returns for a record. */\n"
         "export enum CommandStatus {");
#define CMD_STATUS(c_name, ts_name, value, doc) \
    fputs("  /** ", stdout); check_text(doc); fputs(doc, stdout); \
    printf(" */\n  %s = %d,\n", #ts_name, (int)(value));
#include "commands.def"
    puts("}\n");
}

static void print_enums(void)
{
#define CMD_ENUM_BEGIN(c_type, ts_name, doc) \
    fputs("/** ", stdout); check_text(doc); fputs(doc, stdout); \
    printf(" */\nexport enum %s {\n", #ts_name);
#define CMD_ENUM_VALUE(c_name, ts_name, value, doc) \
    fputs("  /** ", stdout); check_text(doc); fputs(doc, stdout); \
    printf(" */\n  %s = %d,\n", #ts_name, (int)(value));
#define CMD_ENUM_END(c_type) puts("}\n");
#include "commands.def"
}

static void print_command_type(void)
{
    puts("/** Command type codes: the first word of every record. */\n"
         "export enum CommandType {");
    for (uint32_t i = 0; i < CMD_COUNT; i++) {
        const CmdInfo *info = cmd_info_at(i);
        check_text(info->doc);
        printf("  /** %s */\n  %s = %u,\n", info->doc, info->title, info->type);
    }
    puts("}\n");
}

static void print_schema_types(void)
{
    puts("/** The kind of a field on the wire; bool is one byte, 0 or 1. */\n"
         "export type FieldType = 'u8' | 'u16' | 'u32' | 'i32' | 'i64' | 'f32' | 'f64' | 'bool';\n"
         "\n"
         "/** One field of a command. */\n"
         "export interface FieldInfo {\n"
         "  /** Parameter and property name here (camelCase). */\n"
         "  readonly name: string;\n"
         "  /** Name in commands.def and the C struct. */\n"
         "  readonly schemaName: string;\n"
         "  readonly type: FieldType;\n"
         "  /** Byte offset in the record. */\n"
         "  readonly offset: number;\n"
         "  /** Smallest valid value (inclusive). */\n"
         "  readonly min: number;\n"
         "  /** Largest valid value (inclusive). */\n"
         "  readonly max: number;\n"
         "  readonly doc: string;\n"
         "}\n"
         "\n"
         "/** One command type. */\n"
         "export interface CommandInfo {\n"
         "  readonly type: CommandType;\n"
         "  /** Name here: encode + name is its encoder. */\n"
         "  readonly name: string;\n"
         "  /** Name in commands.def. */\n"
         "  readonly schemaName: string;\n"
         "  /** Bytes of the record. */\n"
         "  readonly size: number;\n"
         "  /** Condition across the fields that a valid command meets, or null. */\n"
         "  readonly rule: string | null;\n"
         "  readonly doc: string;\n"
         "  /** In wire order, after the header. */\n"
         "  readonly fields: readonly FieldInfo[];\n"
         "}\n");
}

static void print_interfaces(void)
{
    for (uint32_t i = 0; i < CMD_COUNT; i++) {
        const CmdInfo *info = cmd_info_at(i);
        printf("/** %s */\nexport interface %sCommand {\n", info->doc, info->title);
        printf("  readonly type: CommandType.%s;\n", info->title);
        puts("  /** Engine sample time at which the command takes effect (i64, 0..TIME_MAX). */\n"
             "  readonly time: number;");
        for (uint32_t k = 0; k < info->field_count; k++) {
            const CmdField *f = &info->fields[k];
            char name[NAME_MAX_LEN];
            check_text(f->doc);
            printf("  /** %s", f->doc);
            print_kind_range(f->kind, f->min, f->max);
            printf(" */\n  readonly %s: %s;\n", camel(f->name, 0, name), ts_type(f->kind));
        }
        puts("}\n");
    }
    puts("/** Any command, tagged by its type; encodeCommand writes one. */\n"
         "export type Command =");
    for (uint32_t i = 0; i < CMD_COUNT; i++)
        printf("  | %sCommand%s\n", cmd_info_at(i)->title, i + 1 == CMD_COUNT ? ";" : "");
    putchar('\n');
}

static void print_tables(void)
{
    puts("/** The schema of every command, by type. */\n"
         "export const commandInfo: Readonly<Record<CommandType, CommandInfo>> = {");
    for (uint32_t i = 0; i < CMD_COUNT; i++) {
        const CmdInfo *info = cmd_info_at(i);
        char name[NAME_MAX_LEN];
        printf("  [CommandType.%s]: {\n", info->title);
        printf("    type: CommandType.%s,\n", info->title);
        printf("    name: '%s',\n", camel(info->name, 0, name));
        printf("    schemaName: '%s',\n", info->name);
        printf("    size: %u,\n", info->size);
        fputs("    rule: ", stdout);
        if (has_rule(info))
            print_string(info->rule);
        else
            fputs("null", stdout);
        fputs(",\n    doc: ", stdout);
        print_string(info->doc);
        puts(",\n    fields: [");
        for (uint32_t k = 0; k < info->field_count; k++) {
            const CmdField *f = &info->fields[k];
            printf("      { name: '%s', schemaName: '%s', type: '%s', offset: %u, min: ",
                   camel(f->name, 0, name), f->name, kind_name(f->kind), f->offset);
            print_number(f->min);
            fputs(", max: ", stdout);
            print_number(f->max);
            fputs(",\n        doc: ", stdout);
            print_string(f->doc);
            puts(" },");
        }
        puts("    ],\n  },");
    }
    puts("};\n");
    puts("/** Bytes of each command's record, by type. */\n"
         "export const commandSize: Readonly<Record<CommandType, number>> = {");
    for (uint32_t i = 0; i < CMD_COUNT; i++)
        printf("  [CommandType.%s]: %u,\n", cmd_info_at(i)->title, cmd_info_at(i)->size);
    puts("};\n");
}

/* Which helpers the encoders need, so that none is left unused (the web
 * tsconfig has noUnusedLocals). */
static void print_helpers(void)
{
    int any_float = 0, any_double = 0, any_bool = 0, any_rule = 0;
    for (uint32_t i = 0; i < CMD_COUNT; i++) {
        const CmdInfo *info = cmd_info_at(i);
        any_rule |= has_rule(info);
        for (uint32_t k = 0; k < info->field_count; k++) {
            any_float |= info->fields[k].kind == CMD_FIELD_F32;
            any_double |= info->fields[k].kind == CMD_FIELD_F64;
            any_bool |= info->fields[k].kind == CMD_FIELD_BOOL;
        }
    }
    puts("function fail(command: string, message: string): never {\n"
         "  throw new RangeError(`${command}: ${message}`);\n"
         "}\n"
         "\n"
         "function checkInt(command: string, field: string, value: number, min: number, max: number): void {\n"
         "  if (!Number.isInteger(value) || value < min || value > max)\n"
         "    fail(command, `${field} = ${value} is not an integer in ${min}..${max}`);\n"
         "}\n");
    if (any_float)
        puts("// The check is on the value the record will hold: the nearest float.\n"
             "function checkFloat(command: string, field: string, value: number, min: number, max: number): void {\n"
             "  const stored = Math.fround(value);\n"
             "  if (!Number.isFinite(stored))\n"
             "    fail(command, `${field} = ${value} is not a finite float`);\n"
             "  if (stored < min || stored > max)\n"
             "    fail(command, `${field} = ${value} is outside ${min}..${max}`);\n"
             "}\n");
    if (any_double)
        puts("// An f64 holds the number itself.\n"
             "function checkDouble(command: string, field: string, value: number, min: number, max: number): void {\n"
             "  if (typeof value !== 'number' || !Number.isFinite(value))\n"
             "    fail(command, `${field} = ${value} is not a finite number`);\n"
             "  if (value < min || value > max)\n"
             "    fail(command, `${field} = ${value} is outside ${min}..${max}`);\n"
             "}\n");
    if (any_bool)
        puts("// For callers in plain JavaScript: TypeScript already demands a boolean.\n"
             "function checkBool(command: string, field: string, value: boolean): void {\n"
             "  if (typeof value !== 'boolean')\n"
             "    fail(command, `${field} is not a boolean`);\n"
             "}\n");
    if (any_rule)
        puts("function checkRule(command: string, holds: boolean, rule: string): void {\n"
             "  if (!holds)\n"
             "    fail(command, `the rule ${rule} does not hold`);\n"
             "}\n");
    puts("// Whether `size` bytes fit at `offset`; a bad offset is a programming error.\n"
         "function hasRoom(view: DataView, offset: number, size: number): boolean {\n"
         "  if (!Number.isInteger(offset) || offset < 0)\n"
         "    throw new RangeError(`offset ${offset} is not a byte offset`);\n"
         "  return offset + size <= view.byteLength;\n"
         "}\n"
         "\n"
         "// Zero the record first, so that its padding is zero as in C.\n"
         "function clear(view: DataView, offset: number, size: number): void {\n"
         "  for (let i = 0; i < size; i += 4) view.setUint32(offset + i, 0, true);\n"
         "}\n"
         "\n"
         "// Low word, then high word; exact for the safe integers checkInt lets by.\n"
         "function setInt64(view: DataView, offset: number, value: number): void {\n"
         "  view.setUint32(offset, value >>> 0, true);\n"
         "  view.setInt32(offset + 4, Math.floor(value / 4294967296), true);\n"
         "}\n");
}

static void print_check(const char *command, const CmdField *f)
{
    char name[NAME_MAX_LEN];
    camel(f->name, 0, name);
    if (f->kind == CMD_FIELD_BOOL) {
        printf("  checkBool('%s', '%s', %s);\n", command, name, name);
        return;
    }
    printf("  %s('%s', '%s', %s, ",
           f->kind == CMD_FIELD_F32 ? "checkFloat" : f->kind == CMD_FIELD_F64 ? "checkDouble" : "checkInt",
           command, name, name);
    print_number(f->min);
    fputs(", ", stdout);
    print_number(f->max);
    puts(");");
}

static void print_store(const CmdField *f)
{
    char name[NAME_MAX_LEN];
    camel(f->name, 0, name);
    switch (f->kind) {
    case CMD_FIELD_U8:   printf("  view.setUint8(offset + %u, %s);\n", f->offset, name); break;
    case CMD_FIELD_U16:  printf("  view.setUint16(offset + %u, %s, true);\n", f->offset, name); break;
    case CMD_FIELD_U32:  printf("  view.setUint32(offset + %u, %s, true);\n", f->offset, name); break;
    case CMD_FIELD_I32:  printf("  view.setInt32(offset + %u, %s, true);\n", f->offset, name); break;
    case CMD_FIELD_I64:  printf("  setInt64(view, offset + %u, %s);\n", f->offset, name); break;
    case CMD_FIELD_F32:  printf("  view.setFloat32(offset + %u, %s, true);\n", f->offset, name); break;
    case CMD_FIELD_F64:  printf("  view.setFloat64(offset + %u, %s, true);\n", f->offset, name); break;
    case CMD_FIELD_BOOL: printf("  view.setUint8(offset + %u, %s ? 1 : 0);\n", f->offset, name); break;
    }
}

static void print_encoder(const CmdInfo *info)
{
    char command[NAME_MAX_LEN], name[NAME_MAX_LEN];
    camel(info->name, 0, command);

    printf("/**\n * %s\n *\n", info->doc);
    puts(" * @param view - where the record goes\n"
         " * @param offset - byte offset of the record in view\n"
         " * @param time - engine sample time at which the command takes effect (i64, 0..TIME_MAX)");
    for (uint32_t k = 0; k < info->field_count; k++) {
        const CmdField *f = &info->fields[k];
        printf(" * @param %s - %s", camel(f->name, 0, name), f->doc);
        print_kind_range(f->kind, f->min, f->max);
        putchar('\n');
    }
    if (has_rule(info)) {
        fputs(" *\n * Rule: ", stdout);
        print_rule(info);
        putchar('\n');
    }
    printf(" * @returns bytes written (%u), or 0 when view has no room for them at offset\n"
           " * @throws RangeError for a value the engine would reject\n */\n", info->size);

    printf("export function encode%s(view: DataView, offset: number, time: number", info->title);
    for (uint32_t k = 0; k < info->field_count; k++) {
        const CmdField *f = &info->fields[k];
        camel(f->name, 0, name);
        if (!strcmp(name, "view") || !strcmp(name, "offset") || !strcmp(name, "time"))
            die("field %s.%s clashes with an encoder parameter", info->name, f->name);
        printf(", %s: %s", name, ts_type(f->kind));
    }
    puts("): number {");
    printf("  checkInt('%s', 'time', time, 0, TIME_MAX);\n", command);
    for (uint32_t k = 0; k < info->field_count; k++)
        print_check(command, &info->fields[k]);
    if (has_rule(info)) {
        printf("  checkRule('%s', ", command);
        print_rule(info);
        fputs(", ", stdout);
        print_string(info->rule);
        puts(");");
    }
    printf("  if (!hasRoom(view, offset, %u)) return 0;\n", info->size);
    printf("  clear(view, offset, %u);\n", info->size);
    printf("  view.setUint32(offset, CommandType.%s, true);\n", info->title);
    puts("  setInt64(view, offset + 8, time);");
    for (uint32_t k = 0; k < info->field_count; k++)
        print_store(&info->fields[k]);
    printf("  return %u;\n}\n\n", info->size);
}

static void print_encode_command(void)
{
    puts("/**\n"
         " * Encode any command: the encoder of its type, called with its fields.\n"
         " *\n"
         " * @returns bytes written, or 0 when view has no room for them at offset\n"
         " * @throws RangeError for a value the engine would reject\n"
         " */\n"
         "export function encodeCommand(view: DataView, offset: number, command: Command): number {\n"
         "  switch (command.type) {");
    for (uint32_t i = 0; i < CMD_COUNT; i++) {
        const CmdInfo *info = cmd_info_at(i);
        printf("    case CommandType.%s:\n      return encode%s(view, offset, command.time",
               info->title, info->title);
        for (uint32_t k = 0; k < info->field_count; k++) {
            char name[NAME_MAX_LEN];
            printf(", command.%s", camel(info->fields[k].name, 0, name));
        }
        puts(");");
    }
    puts("  }\n"
         "}");
}

int main(void)
{
    print_preamble();
    print_constants();
    print_statuses();
    print_enums();
    print_command_type();
    print_schema_types();
    print_interfaces();
    print_tables();
    print_helpers();
    for (uint32_t i = 0; i < CMD_COUNT; i++)
        print_encoder(cmd_info_at(i));
    print_encode_command();
    if (fflush(stdout) != 0 || ferror(stdout))
        die("cannot write the output");
    return 0;
}
