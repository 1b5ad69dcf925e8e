/* commands.h — the commands the UI sends to the engine, as C types.
 *
 * Everything here is expanded from runtime/engine/commands.def, the one schema of
 * the commands; the TypeScript encoder ($(B)/gen/web/commands.ts, printed
 * by runtime/gen/gen_commands_ts.c) comes from the same file. One command is
 * one record of the command ring (ring.h): the bytes cmd_encode writes and
 * cmd_decode reads, laid out as commands.def describes.
 *
 * Threading contract: none needed. Every function is pure over its
 * arguments (the tables are read-only), allocates nothing and takes no
 * lock, so the audio thread may call cmd_decode on whatever the page wrote,
 * and any thread may encode.
 *
 * Each struct below is the decoded form of one command and has the wire
 * layout itself on the targets we build for (little-endian, every field at
 * its natural alignment; commands.c checks both at compile time), but code
 * should still go through cmd_encode and cmd_decode: they write padding as
 * zero and validate.
 */
#ifndef AMP_COMMANDS_H
#define AMP_COMMANDS_H

#include <float.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* The header every command starts with. */
typedef struct CmdHeader {
    uint32_t type;      /* a CmdType */
    uint32_t flags;     /* reserved, 0 */
    int64_t time;       /* engine sample time at which it takes effect */
} CmdHeader;

#define CMD_HEADER_SIZE 16u

/* The C type of each field kind in the structs, and in the encoders'
 * parameter lists. A BOOL is one byte on the wire, so the struct holds the
 * byte as read (cmd_decode rejects anything but 0 and 1). */
#define CMD_CTYPE_U8   uint8_t
#define CMD_CTYPE_U16  uint16_t
#define CMD_CTYPE_U32  uint32_t
#define CMD_CTYPE_I32  int32_t
#define CMD_CTYPE_I64  int64_t
#define CMD_CTYPE_F32  float
#define CMD_CTYPE_F64  double
#define CMD_CTYPE_BOOL uint8_t
#define CMD_PTYPE_U8   uint8_t
#define CMD_PTYPE_U16  uint16_t
#define CMD_PTYPE_U32  uint32_t
#define CMD_PTYPE_I32  int32_t
#define CMD_PTYPE_I64  int64_t
#define CMD_PTYPE_F32  float
#define CMD_PTYPE_F64  double
#define CMD_PTYPE_BOOL bool

/* What cmd_decode and cmd_validate return: CMD_OK or a negative error. */
typedef enum CmdStatus {
#define CMD_STATUS(c_name, ts_name, value, doc) c_name = value,
#include "commands.def"
} CmdStatus;

/* Named field values (CmdTrackKind). */
#define CMD_ENUM_BEGIN(c_type, ts_name, doc) typedef enum c_type {
#define CMD_ENUM_VALUE(c_name, ts_name, value, doc) c_name = value,
#define CMD_ENUM_END(c_type) } c_type;
#include "commands.def"

/* Command type codes: CMD_PLAY, CMD_NOTE_ON, ... */
typedef enum CmdType {
#define CMD(upper, camel, lower, id, doc, fields, rule) CMD_##upper = id,
#include "commands.def"
} CmdType;

/* How many command types there are. */
enum {
    CMD_COUNT = 0
#define CMD(upper, camel, lower, id, doc, fields, rule) + 1
#include "commands.def"
};

/* One struct per command: CmdPlay, CmdNoteOn, ... */
#define CMD_STRUCT_FIELD(kind, name, min, max, doc) CMD_CTYPE_##kind name;
#define CMD(upper, camel, lower, id, doc, fields, rule) \
    typedef struct Cmd##camel { CmdHeader header; fields(CMD_STRUCT_FIELD) } Cmd##camel;
#include "commands.def"
#undef CMD_STRUCT_FIELD

/* Any command; header.type says which member is meaningful. */
typedef union Command {
    CmdHeader header;
#define CMD(upper, camel, lower, id, doc, fields, rule) Cmd##camel lower;
#include "commands.def"
} Command;

/* The largest command, in bytes: a buffer this big holds any record. */
#define CMD_SIZE_MAX ((uint32_t)sizeof(Command))

/* A zeroed record of `type` at `time`, for a caller to fill its fields
 * (the engine_* calls, the single-patch host). Zeroed whole, so that the
 * bytes between fields are 0 as cmd_encode writes them. */
static inline Command cmd_record(uint32_t type, int64_t time)
{
    Command c;
    memset(&c, 0, sizeof c);
    c.header.type = type;
    c.header.time = time;
    return c;
}

/* The schema at run time, for tools and tests (the TypeScript generator
 * prints from it). */
typedef enum CmdFieldKind {
    CMD_FIELD_U8, CMD_FIELD_U16, CMD_FIELD_U32, CMD_FIELD_I32,
    CMD_FIELD_I64, CMD_FIELD_F32, CMD_FIELD_F64, CMD_FIELD_BOOL
} CmdFieldKind;

typedef struct CmdField {
    const char *name;       /* as in commands.def and the struct */
    CmdFieldKind kind;
    uint32_t offset;        /* byte offset in the record */
    double min, max;        /* inclusive; exact (integers stay below 2^53) */
    const char *doc;
} CmdField;

typedef struct CmdInfo {
    uint32_t type;          /* CMD_* */
    const char *name;       /* "note_on" */
    const char *title;      /* "NoteOn" */
    const char *doc;
    uint32_t size;          /* bytes of the record */
    const char *rule;       /* the condition as written, "true" for none */
    const CmdField *fields; /* in wire order */
    uint32_t field_count;
} CmdInfo;

/* Bytes of a command of `type`, or 0 if there is no such type. */
uint32_t cmd_size(uint32_t type);

/* Decode and validate one record of `len` bytes (read no further). Returns
 * CMD_OK, or the first problem found, in this order: CMD_ERR_SHORT,
 * CMD_ERR_TYPE, CMD_ERR_LENGTH, CMD_ERR_FLAGS, CMD_ERR_TIME, then per field
 * in wire order CMD_ERR_NOT_FINITE or CMD_ERR_RANGE, then CMD_ERR_RULE.
 * out->header holds the header as read whenever len >= 16 (zeros
 * otherwise), and the fields whenever the length fits the type, so an
 * error can be reported with the command it came from. Safe on any bytes. */
int cmd_decode(const void *bytes, uint32_t len, Command *out);

/* The checks of cmd_decode after the length, on a command in memory. */
int cmd_validate(const Command *c);

/* Write `c` as a record into dst (room for `cap` bytes): the header and
 * fields as they are, padding as zero, nothing validated. Returns the bytes
 * written, or 0 if the type is unknown or cap is too small. */
uint32_t cmd_encode(const Command *c, void *dst, uint32_t cap);

/* One encoder per command, with flags 0: cmd_encode_play(dst, cap, time),
 * cmd_encode_note_on(dst, cap, time, track, note_id, key, velocity), ...
 * Same result as cmd_encode. */
#define CMD_PARAM(kind, name, min, max, doc) , CMD_PTYPE_##kind name
#define CMD(upper, camel, lower, id, doc, fields, rule) \
    uint32_t cmd_encode_##lower(void *dst, uint32_t cap, int64_t time fields(CMD_PARAM));
#include "commands.def"
#undef CMD_PARAM

/* The schema of `type`, or NULL if there is no such type. */
const CmdInfo *cmd_info(uint32_t type);

/* The schema of the index-th command in commands.def order, index <
 * CMD_COUNT; NULL past the end. */
const CmdInfo *cmd_info_at(uint32_t index);

/* "CMD_ERR_RANGE" for CMD_ERR_RANGE; "?" for a value that is no status. */
const char *cmd_status_name(int status);

#endif
