/* commands.c — encode, decode and validate the commands of commands.def.
 *
 * Everything per command is expanded from runtime/engine/commands.def, so adding a
 * command there adds its struct, encoder, size, checks and field table
 * here with no other edit. The decoder is the engine's defence against
 * whatever the page writes into the command ring: it reads only the `len`
 * bytes it is given, copies them into a Command only once the length
 * matches the type exactly, and then checks the header, every field and
 * the command's rule. It is a plain function over bytes, so a fuzzer can
 * call it directly.
 *
 * Threading contract: none needed; see commands.h.
 */
#include "commands.h"

#include <stddef.h>
#include <string.h>

#include "pool.h"

/* The wire format is the structs' layout only where every type sits at its
 * natural alignment and bytes are little-endian: true of wasm32, x86-64
 * and aarch64, the targets we build for. */
_Static_assert(_Alignof(int64_t) == 8 && _Alignof(uint32_t) == 4 &&
               _Alignof(uint16_t) == 2 && _Alignof(float) == 4 &&
               _Alignof(double) == 8 && sizeof(float) == 4 && sizeof(double) == 8, "commands need natural alignment");
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "commands are little-endian on the wire and in memory"
#endif
_Static_assert(offsetof(CmdHeader, type) == 0 && offsetof(CmdHeader, flags) == 4 &&
               offsetof(CmdHeader, time) == 8 && sizeof(CmdHeader) == CMD_HEADER_SIZE,
               "header layout");
_Static_assert(CMD_HANDLE_MAX == POOL_MAX_COUNT - 1, "a handle is a pool slot index");

/* Every struct starts with its header (so the union's header aliases it)
 * and, holding an int64, is a multiple of 8 bytes long. */
#define CMD(upper, camel, lower, id, doc, fields, rule) \
    _Static_assert(offsetof(Cmd##camel, header) == 0 && sizeof(Cmd##camel) % 8 == 0, \
                   #camel " layout"); \
    _Static_assert((id) > 0, #camel " id");
#include "commands.def"

uint32_t cmd_size(uint32_t type)
{
    switch (type) {
#define CMD(upper, camel, lower, id, doc, fields, rule) \
    case CMD_##upper: return (uint32_t)sizeof(Cmd##camel);
#include "commands.def"
    }
    return 0;
}

/* ---- validation ----------------------------------------------------------- */

/* Integer kinds all fit in int64 (the schema has no u64), so one range
 * check serves them; taking the value as a parameter also keeps the
 * compiler from warning about bounds a narrow type always meets. */
static int check_int(int64_t v, int64_t min, int64_t max)
{
    return v >= min && v <= max ? CMD_OK : CMD_ERR_RANGE;
}

/* Finite-ness from the bits, so that no compiler flag can assume it away. */
static int check_f32(float v, double min, double max)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    if ((bits & 0x7f800000u) == 0x7f800000u)
        return CMD_ERR_NOT_FINITE;
    return (double)v >= min && (double)v <= max ? CMD_OK : CMD_ERR_RANGE;
}

static int check_f64(double v, double min, double max)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    if ((bits & UINT64_C(0x7ff0000000000000)) == UINT64_C(0x7ff0000000000000))
        return CMD_ERR_NOT_FINITE;
    return v >= min && v <= max ? CMD_OK : CMD_ERR_RANGE;
}

#define CHECK_U8(v, min, max)   check_int((v), (min), (max))
#define CHECK_U16(v, min, max)  check_int((v), (min), (max))
#define CHECK_U32(v, min, max)  check_int((v), (min), (max))
#define CHECK_I32(v, min, max)  check_int((v), (min), (max))
#define CHECK_I64(v, min, max)  check_int((v), (min), (max))
#define CHECK_BOOL(v, min, max) check_int((v), (min), (max))
#define CHECK_F32(v, min, max)  check_f32((v), (min), (max))
#define CHECK_F64(v, min, max)  check_f64((v), (min), (max))

#define CHECK_FIELD(kind, name, min, max, doc) { \
        int status = CHECK_##kind(cmd->name, min, max); \
        if (status != CMD_OK) \
            return status; \
    }
/* The rule sees each field as a local variable of its own name. */
#define RULE_LOCAL(kind, name, min, max, doc) \
    const CMD_CTYPE_##kind name = cmd->name; (void)name;

static int check_fields(const Command *c)
{
    switch (c->header.type) {
#define CMD(upper, camel, lower, id, doc, fields, rule) \
    case CMD_##upper: { \
        const Cmd##camel *cmd = &c->lower; \
        (void)cmd; \
        fields(CHECK_FIELD) \
        fields(RULE_LOCAL) \
        return (rule) ? CMD_OK : CMD_ERR_RULE; \
    }
#include "commands.def"
    }
    return CMD_ERR_TYPE;
}

int cmd_validate(const Command *c)
{
    if (cmd_size(c->header.type) == 0)
        return CMD_ERR_TYPE;
    if (c->header.flags != 0)
        return CMD_ERR_FLAGS;
    if (c->header.time < 0 || c->header.time > CMD_TIME_MAX)
        return CMD_ERR_TIME;
    return check_fields(c);
}

/* ---- decoding ------------------------------------------------------------- */

int cmd_decode(const void *bytes, uint32_t len, Command *out)
{
    memset(&out->header, 0, sizeof out->header);
    if (len < CMD_HEADER_SIZE)
        return CMD_ERR_SHORT;
    memcpy(&out->header, bytes, CMD_HEADER_SIZE);
    uint32_t size = cmd_size(out->header.type);
    if (size == 0)
        return CMD_ERR_TYPE;
    if (len != size)
        return CMD_ERR_LENGTH;
    memcpy(out, bytes, size);     /* size <= sizeof *out: it is a member */
    return cmd_validate(out);
}

/* ---- encoding ------------------------------------------------------------- */

/* Field by field into the zeroed record, so padding is always zero (a
 * struct copy would carry whatever its padding bytes hold). */
#define PUT_FIELD(kind, name, min, max, doc) \
    memcpy(out + ((const uint8_t *)&cmd->name - (const uint8_t *)cmd), \
           &cmd->name, sizeof cmd->name);

uint32_t cmd_encode(const Command *c, void *dst, uint32_t cap)
{
    uint32_t size = cmd_size(c->header.type);
    if (size == 0 || cap < size)
        return 0;
    uint8_t *out = dst;
    memset(out, 0, size);
    memcpy(out + offsetof(CmdHeader, type), &c->header.type, sizeof c->header.type);
    memcpy(out + offsetof(CmdHeader, flags), &c->header.flags, sizeof c->header.flags);
    memcpy(out + offsetof(CmdHeader, time), &c->header.time, sizeof c->header.time);
    switch (c->header.type) {
#define CMD(upper, camel, lower, id, doc, fields, rule) \
    case CMD_##upper: { \
        const Cmd##camel *cmd = &c->lower; \
        (void)cmd; \
        fields(PUT_FIELD) \
        break; \
    }
#include "commands.def"
    }
    return size;
}

#define SET_FIELD(kind, name, min, max, doc) cmd->name = name;
#define PARAM(kind, name, min, max, doc) , CMD_PTYPE_##kind name
#define CMD(upper, camel, lower, id, doc, fields, rule) \
    uint32_t cmd_encode_##lower(void *dst, uint32_t cap, int64_t time fields(PARAM)) \
    { \
        Command c; \
        memset(&c, 0, sizeof c); \
        Cmd##camel *cmd = &c.lower; \
        cmd->header.type = CMD_##upper; \
        cmd->header.time = time; \
        fields(SET_FIELD) \
        return cmd_encode(&c, dst, cap); \
    }
#include "commands.def"

/* ---- the schema at run time ------------------------------------------------ */

/* Static tables inside each case, where a local typedef lets offsetof name
 * the struct; all of it is constant data. */
#define FIELD_INFO(kind, name, min, max, doc) \
    { #name, CMD_FIELD_##kind, (uint32_t)offsetof(S, name), (double)(min), (double)(max), doc },

const CmdInfo *cmd_info(uint32_t type)
{
    switch (type) {
#define CMD(upper, camel, lower, id, doc, fields, rule) \
    case CMD_##upper: { \
        typedef Cmd##camel S; \
        static const CmdField field_table[] = { \
            fields(FIELD_INFO) { NULL, CMD_FIELD_U8, 0, 0, 0, NULL } \
        }; \
        static const CmdInfo info = { \
            CMD_##upper, #lower, #camel, doc, (uint32_t)sizeof(S), #rule, field_table, \
            (uint32_t)(sizeof field_table / sizeof field_table[0] - 1) \
        }; \
        return &info; \
    }
#include "commands.def"
    }
    return NULL;
}

static const uint32_t command_types[CMD_COUNT] = {
#define CMD(upper, camel, lower, id, doc, fields, rule) CMD_##upper,
#include "commands.def"
};

const CmdInfo *cmd_info_at(uint32_t index)
{
    return index < CMD_COUNT ? cmd_info(command_types[index]) : NULL;
}

const char *cmd_status_name(int status)
{
    switch (status) {
#define CMD_STATUS(c_name, ts_name, value, doc) case c_name: return #c_name;
#include "commands.def"
    }
    return "?";
}
