/* check_commands.c — the command schema (runtime/engine/commands.def, commands.h).
 *
 * "layout": sizes and offsets match the structs and natural alignment, the
 * ids and tables agree, and four records are pinned byte for byte.
 * "core": every test vector (each command type at its lows, its highs, a
 * middle, and hand-picked edges) encodes, decodes to the same fields and
 * re-encodes to the same bytes; the typed encoders agree with cmd_encode.
 * "reject": short records, unknown types, every wrong length, flags, times,
 * NaN and infinities, each field just outside its range, broken rules,
 * each with its own status; and the invalid vectors (one value off a
 * valid vector) the TypeScript encoder is held to.
 * "random": 100,000 records of random and mutated bytes through the
 * decoder, each in a heap block of exactly its length.
 *
 * The same binary is the C half of the TypeScript round trip (make
 * test-commands-ts, runtime/gen/gen.mk):
 *   check_commands --write-vectors FILE   the valid and the invalid
 *       vectors, as JSON
 *   check_commands --check-encoded FILE   compare what the generated
 *       TypeScript encoder wrote for them (records: u32 length, then the
 *       bytes) with cmd_encode, byte for byte, and decode every field
 */
#include "commands.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- fields by their schema ------------------------------------------------ */

static uint32_t kind_size(CmdFieldKind kind)
{
    switch (kind) {
    case CMD_FIELD_U8: case CMD_FIELD_BOOL: return 1;
    case CMD_FIELD_U16: return 2;
    case CMD_FIELD_U32: case CMD_FIELD_I32: case CMD_FIELD_F32: return 4;
    case CMD_FIELD_I64: case CMD_FIELD_F64: return 8;
    }
    return 0;
}

/* The bounds of the kind's storage, to know which out-of-range values it
 * can hold at all. */
static double kind_low(CmdFieldKind kind)
{
    switch (kind) {
    case CMD_FIELD_I32: return INT32_MIN;
    case CMD_FIELD_I64: return -9223372036854775808.0;
    case CMD_FIELD_F32: case CMD_FIELD_F64: return -INFINITY;
    default: return 0;
    }
}

static double kind_high(CmdFieldKind kind)
{
    switch (kind) {
    case CMD_FIELD_U8: case CMD_FIELD_BOOL: return UINT8_MAX;
    case CMD_FIELD_U16: return UINT16_MAX;
    case CMD_FIELD_U32: return UINT32_MAX;
    case CMD_FIELD_I32: return INT32_MAX;
    case CMD_FIELD_I64: return 9223372036854775807.0;
    case CMD_FIELD_F32: case CMD_FIELD_F64: return INFINITY;
    }
    return 0;
}

static void field_set(Command *c, const CmdField *f, double v)
{
    uint8_t *p = (uint8_t *)c + f->offset;
    switch (f->kind) {
    case CMD_FIELD_U8: case CMD_FIELD_BOOL: { uint8_t x = (uint8_t)v; memcpy(p, &x, 1); break; }
    case CMD_FIELD_U16: { uint16_t x = (uint16_t)v; memcpy(p, &x, 2); break; }
    case CMD_FIELD_U32: { uint32_t x = (uint32_t)v; memcpy(p, &x, 4); break; }
    case CMD_FIELD_I32: { int32_t x = (int32_t)v; memcpy(p, &x, 4); break; }
    case CMD_FIELD_I64: { int64_t x = (int64_t)v; memcpy(p, &x, 8); break; }
    case CMD_FIELD_F32: { float x = (float)v; memcpy(p, &x, 4); break; }
    case CMD_FIELD_F64: { memcpy(p, &v, 8); break; }
    }
}

static double field_get(const Command *c, const CmdField *f)
{
    const uint8_t *p = (const uint8_t *)c + f->offset;
    switch (f->kind) {
    case CMD_FIELD_U8: case CMD_FIELD_BOOL: { uint8_t x; memcpy(&x, p, 1); return x; }
    case CMD_FIELD_U16: { uint16_t x; memcpy(&x, p, 2); return x; }
    case CMD_FIELD_U32: { uint32_t x; memcpy(&x, p, 4); return x; }
    case CMD_FIELD_I32: { int32_t x; memcpy(&x, p, 4); return x; }
    case CMD_FIELD_I64: { int64_t x; memcpy(&x, p, 8); return (double)x; }
    case CMD_FIELD_F32: { float x; memcpy(&x, p, 4); return x; }
    case CMD_FIELD_F64: { double x; memcpy(&x, p, 8); return x; }
    }
    return 0;
}

/* Same field, bit for bit (so 0 and -0, or two NaNs, differ). */
static bool field_same(const Command *a, const Command *b, const CmdField *f)
{
    return memcmp((const uint8_t *)a + f->offset, (const uint8_t *)b + f->offset,
                  kind_size(f->kind)) == 0;
}

static bool same_command(const Command *a, const Command *b)
{
    if (a->header.type != b->header.type || a->header.flags != b->header.flags ||
        a->header.time != b->header.time)
        return false;
    const CmdInfo *info = cmd_info(a->header.type);
    if (!info)
        return false;
    for (uint32_t k = 0; k < info->field_count; k++)
        if (!field_same(a, b, &info->fields[k]))
            return false;
    return true;
}

/* ---- the test vectors ------------------------------------------------------- */

#define VECTOR_MAX 512
static Command vectors[VECTOR_MAX];
static uint32_t vector_count;

static void add_vector(const Command *c)
{
    if (vector_count == VECTOR_MAX) {
        fprintf(stderr, "check_commands: raise VECTOR_MAX\n");
        abort();
    }
    vectors[vector_count++] = *c;
}

/* A hand-picked vector, written by a typed encoder into buf. */
static void add_encoded(const uint8_t *buf, uint32_t len)
{
    Command c;
    int status = cmd_decode(buf, len, &c);
    if (status != CMD_OK) {
        fprintf(stderr, "check_commands: hand vector %u is invalid: %s\n",
                vector_count, cmd_status_name(status));
        abort();
    }
    add_vector(&c);
}

#define HAND(encoder_call) do { \
        uint8_t buf[CMD_SIZE_MAX]; \
        add_encoded(buf, encoder_call); \
    } while (0)

enum { LOWS, HIGHS, MIDDLE };

#define STATUS_KINDS 9        /* CMD_OK .. CMD_ERR_RULE */

/* Field `index` of a vector: its min, its max, or somewhere between that
 * differs from field to field (so swapped fields show). */
static double variant_value(const CmdField *f, int variant, uint32_t index)
{
    if (variant == LOWS)
        return f->min;
    if (variant == HIGHS)
        return f->max;
    if (f->kind == CMD_FIELD_BOOL)
        return index % 2 == 0;
    double fraction = 0.3 + 0.07 * index;
    double v = f->min + (f->max - f->min) * fraction;
    return f->kind == CMD_FIELD_F32 ? (float)v : f->kind == CMD_FIELD_F64 ? v : floor(v);
}

/* Every command at its lows, its highs and a middle (those that break the
 * command's rule are left out), then edges picked by hand. */
static void make_vectors(void)
{
    static const int64_t times[] = { 0, CMD_TIME_MAX, 48000LL * 3600 + 17 };
    vector_count = 0;
    for (uint32_t i = 0; i < CMD_COUNT; i++) {
        const CmdInfo *info = cmd_info_at(i);
        for (int variant = LOWS; variant <= MIDDLE; variant++) {
            Command c;
            memset(&c, 0, sizeof c);
            c.header.type = info->type;
            c.header.time = times[variant];
            for (uint32_t k = 0; k < info->field_count; k++)
                field_set(&c, &info->fields[k], variant_value(&info->fields[k], variant, k));
            if (cmd_validate(&c) == CMD_OK)
                add_vector(&c);
        }
    }
    HAND(cmd_encode_play(buf, sizeof buf, 12345));
    HAND(cmd_encode_stop(buf, sizeof buf, 1));
    HAND(cmd_encode_seek(buf, sizeof buf, 7, 48000LL * 3600 * 24 * 365));
    HAND(cmd_encode_loop(buf, sizeof buf, 1000, 0, CMD_TIME_MAX, true));
    HAND(cmd_encode_loop(buf, sizeof buf, 0, 44100, 44101, true));
    HAND(cmd_encode_loop(buf, sizeof buf, 0, 44101, 44100, false));
    HAND(cmd_encode_tempo(buf, sizeof buf, 0, 120.0f));
    HAND(cmd_encode_tempo(buf, sizeof buf, 96000, 133.333333f));
    HAND(cmd_encode_time_signature(buf, sizeof buf, 0, 7, 8));
    HAND(cmd_encode_time_signature(buf, sizeof buf, 0, 3, 4));
    HAND(cmd_encode_note_on(buf, sizeof buf, 0, 1, 60, 60, FLT_TRUE_MIN));
    HAND(cmd_encode_note_on(buf, sizeof buf, 128, 5, 42, 61, 0.1f));
    HAND(cmd_encode_note_off(buf, sizeof buf, 129, 5, 42));
    HAND(cmd_encode_set_param(buf, sizeof buf, 0, 3, 16, 7, 0.1f));
    HAND(cmd_encode_set_param(buf, sizeof buf, 0, 3, 0, 0, -0.0f));
    HAND(cmd_encode_set_param(buf, sizeof buf, 0, 3, 1, 2, -1e-30f));
    HAND(cmd_encode_automation(buf, sizeof buf, 0, 7, 0, 0, 0, 0));
    HAND(cmd_encode_automation(buf, sizeof buf, 5, 7, 2, 9, 300, 12));
    HAND(cmd_encode_add_track(buf, sizeof buf, 0, 4, CMD_TRACK_AUDIO));
    HAND(cmd_encode_add_track(buf, sizeof buf, 0, 5, CMD_TRACK_BUS));
    HAND(cmd_encode_remove_track(buf, sizeof buf, 0, 4));
    HAND(cmd_encode_set_instrument(buf, sizeof buf, 0, 5, 0));
    HAND(cmd_encode_set_instrument(buf, sizeof buf, 0, 5, 77));
    HAND(cmd_encode_add_insert(buf, sizeof buf, 0, 5, 1, 8));
    HAND(cmd_encode_remove_insert(buf, sizeof buf, 0, 5, CMD_INSERT_LIMIT));
    HAND(cmd_encode_move_insert(buf, sizeof buf, 0, 5, CMD_INSERT_LIMIT, 1));
    HAND(cmd_encode_move_insert(buf, sizeof buf, 0, 5, 2, 2));
    HAND(cmd_encode_swap_patch(buf, sizeof buf, 0, 5, 0, 77));
    HAND(cmd_encode_swap_patch(buf, sizeof buf, 960, 0, CMD_INSERT_LIMIT, 1));
    HAND(cmd_encode_swap_node(buf, sizeof buf, 0, 5, 0, 3));
    HAND(cmd_encode_swap_node(buf, sizeof buf, 128, 1, 2, CMD_PARCEL_NONE));
    HAND(cmd_encode_set_send(buf, sizeof buf, 0, 0, CMD_TRACK_LIMIT - 1, 4.0f));
    HAND(cmd_encode_set_send(buf, sizeof buf, 0, CMD_TRACK_LIMIT - 1, 0, 0.0f));
    HAND(cmd_encode_set_gain(buf, sizeof buf, 0, 1, -6.0206f));
    HAND(cmd_encode_set_pan(buf, sizeof buf, 0, 2, -0.0f));
    HAND(cmd_encode_set_pan(buf, sizeof buf, 0, 2, 0.25f));
    HAND(cmd_encode_set_mute(buf, sizeof buf, 3, 2, true));
    HAND(cmd_encode_set_mute(buf, sizeof buf, 4, 2, false));
    HAND(cmd_encode_set_solo(buf, sizeof buf, 3, 9, true));
    HAND(cmd_encode_load_clip(buf, sizeof buf, 0, 44100, 3, 99, 0, 1));
    HAND(cmd_encode_load_sample(buf, sizeof buf, 0, 1, 2, 44100 * 60, 44100, 2));
    HAND(cmd_encode_tempo_change(buf, sizeof buf, 0, 96000, 140.0f));
    HAND(cmd_encode_tempo_change(buf, sizeof buf, 480, 0, 20.0f));
    HAND(cmd_encode_tempo_change(buf, sizeof buf, 7, CMD_TIME_MAX, 133.333333f));
    HAND(cmd_encode_all_notes_off(buf, sizeof buf, 0, 3, false));
    HAND(cmd_encode_all_notes_off(buf, sizeof buf, 99, 0, true));
    HAND(cmd_encode_set_voice_mode(buf, sizeof buf, 0, 2, CMD_VOICE_MONO, CMD_PRIORITY_LOW, 0.0f));
    HAND(cmd_encode_set_voice_mode(buf, sizeof buf, 0, 2, CMD_VOICE_LEGATO, CMD_PRIORITY_HIGH, 0.08f));
    HAND(cmd_encode_set_voice_mode(buf, sizeof buf, 5, 2, CMD_VOICE_POLY, CMD_PRIORITY_LAST, 10.0f));
    HAND(cmd_encode_set_master_gain(buf, sizeof buf, 0, -6.0206f));
    HAND(cmd_encode_set_master_gain(buf, sizeof buf, 48000, 0.0f));
    HAND(cmd_encode_set_master_gain(buf, sizeof buf, 1, -0.0f));
    HAND(cmd_encode_place_region(buf, sizeof buf, 0, 30001, 1, 5, 0, 100, 500, 0.0f));
    HAND(cmd_encode_place_region(buf, sizeof buf, 12, 0, 3, 0xfffffffeu, 7, 0, 0, -3.5f));
    HAND(cmd_encode_place_region(buf, sizeof buf, 12, 48000LL * 3600 * 24, 0, 9, 1, UINT32_MAX - 1,
                                 UINT32_MAX, -144.0f));
    HAND(cmd_encode_remove_region(buf, sizeof buf, 0, 5));
    HAND(cmd_encode_remove_region(buf, sizeof buf, 41000, UINT32_MAX));
    /* ring format 3: the project's own terms */
    HAND(cmd_encode_seek_beat(buf, sizeof buf, 0, 7.25));
    HAND(cmd_encode_loop_beats(buf, sizeof buf, 0, 2.0, 11.5, true));
    HAND(cmd_encode_tempo_bpm(buf, sizeof buf, 0, 132.5));
    HAND(cmd_encode_tempo_change_beat(buf, sizeof buf, 0, 10.0, 90.0));
    HAND(cmd_encode_fader_gain(buf, sizeof buf, 0, -1, -1.5f));
    HAND(cmd_encode_time_signature_change(buf, sizeof buf, 0, 6.0, 7, 8));
    HAND(cmd_encode_time_signature_change(buf, sizeof buf, 5, 0.0, 1, 1));
    HAND(cmd_encode_metronome(buf, sizeof buf, 0, -12.0f, true));
    HAND(cmd_encode_metronome(buf, sizeof buf, 0, 0.0f, false));
    HAND(cmd_encode_automation_lane(buf, sizeof buf, 0, 3, CMD_INSERT_LIMIT + 1, 1, 2));
    HAND(cmd_encode_automation_lane(buf, sizeof buf, 0, 3, 0, 7, 0));
    HAND(cmd_encode_automation_point(buf, sizeof buf, 0, 9.0, 3, 0, 7, 3000.0f));
    HAND(cmd_encode_automation_point(buf, sizeof buf, 0, 0.0, 3, CMD_INSERT_LIMIT + 1, 0, -150.0f));
    HAND(cmd_encode_settle(buf, sizeof buf, 0, 3, 0));
    HAND(cmd_encode_settle(buf, sizeof buf, 0, 3, 2));
    HAND(cmd_encode_set_track_position(buf, sizeof buf, 0, 63, 0));
    HAND(cmd_encode_set_track_position(buf, sizeof buf, 0, 0, 63));
    HAND(cmd_encode_set_send_db(buf, sizeof buf, 0, 0, 5, -6.0f, false));
    HAND(cmd_encode_set_send_db(buf, sizeof buf, 0, 4, 5, 0.0f, true));
    HAND(cmd_encode_clip_notes(buf, sizeof buf, 0, 17, 12));
    HAND(cmd_encode_clip_notes(buf, sizeof buf, 0, 17, 0));
    HAND(cmd_encode_clip_note(buf, sizeof buf, 0, 0.0, 3.9, 17, 0.7f, 57));
    HAND(cmd_encode_clip_note(buf, sizeof buf, 0, 1.25, 0.5, 17, 0.8f, 60));
    HAND(cmd_encode_place_clip_beats(buf, sizeof buf, 0, 0.5, 12.0, 2.5, 4, 2, 17));
    HAND(cmd_encode_place_clip_beats(buf, sizeof buf, 0, 16.0, 4.0, 0.0, 5, 2, 17));
    HAND(cmd_encode_remove_placement(buf, sizeof buf, 0, 4));
    HAND(cmd_encode_remove_placement(buf, sizeof buf, 9, 0));
    HAND(cmd_encode_place_region_beats(buf, sizeof buf, 0, 3.0, 0.1, 0.3, 6, 4, 0, -2.0f));
    HAND(cmd_encode_place_region_beats(buf, sizeof buf, 0, 8.0, 0.0, 0.0, 7, 4, 0, 0.0f));
    HAND(cmd_encode_place_clip(buf, sizeof buf, 0, 0.5, 12.0, 2.5, 1, 0, 3));
    HAND(cmd_encode_bind_sample(buf, sizeof buf, 0, 2, 0, 5));
    HAND(cmd_encode_bind_sample(buf, sizeof buf, 480, 1023, 7, -1));
}

/* Encode `c` as it is (no validation) and decode it. */
static int decode_raw(const Command *c)
{
    uint8_t bytes[CMD_SIZE_MAX];
    Command out;
    uint32_t size = cmd_encode(c, bytes, sizeof bytes);
    return size ? cmd_decode(bytes, size, &out) : CMD_ERR_TYPE;
}

/* Commands the decoder must refuse, with the status it gives, each one
 * value away from a valid vector: a bad time, each field one step outside
 * each bound (where its storage can hold that value), NaN and infinities
 * in float fields, and broken rules. The TypeScript encoder must refuse
 * every one of them too. */
#define INVALID_MAX 1024
static Command invalid[INVALID_MAX];
static int invalid_status[INVALID_MAX];
static uint32_t invalid_count;

static void add_invalid(const Command *c)
{
    int status = decode_raw(c);
    if (status == CMD_OK || invalid_count == INVALID_MAX) {
        fprintf(stderr, "check_commands: invalid vector %u is valid, or too many\n",
                invalid_count);
        abort();
    }
    invalid[invalid_count] = *c;
    invalid_status[invalid_count++] = status;
}

static const Command *first_vector_of(uint32_t type)
{
    for (uint32_t v = 0; v < vector_count; v++)
        if (vectors[v].header.type == type)
            return &vectors[v];
    return NULL;
}

/* Values just outside [min, max] that the field's storage can hold. */
static uint32_t outside_values(const CmdField *f, double out[2])
{
    double below, above;
    uint32_t n = 0;
    if (f->kind == CMD_FIELD_F32) {
        below = nextafterf((float)f->min, -INFINITY);
        above = nextafterf((float)f->max, INFINITY);
    } else if (f->kind == CMD_FIELD_F64) {
        below = nextafter(f->min, -INFINITY);
        above = nextafter(f->max, INFINITY);
    } else {
        below = f->min - 1;
        above = f->max + 1;
    }
    if (below >= kind_low(f->kind) && !isinf(below))
        out[n++] = below;
    if (above <= kind_high(f->kind) && !isinf(above))
        out[n++] = above;
    return n;
}

static void make_invalid(void)
{
    static const int64_t bad_times[] = { -1, CMD_TIME_MAX + 1 };
    static const float not_finite[] = { NAN, INFINITY, -INFINITY };
    make_vectors();
    invalid_count = 0;
    for (uint32_t i = 0; i < CMD_COUNT; i++) {
        const CmdInfo *info = cmd_info_at(i);
        const Command *base = first_vector_of(info->type);
        if (!base)
            continue;       /* test_round_trip_every_vector reports it */
        for (size_t t = 0; t < sizeof bad_times / sizeof bad_times[0]; t++) {
            Command c = *base;
            c.header.time = bad_times[t];
            add_invalid(&c);
        }
        for (uint32_t k = 0; k < info->field_count; k++) {
            const CmdField *f = &info->fields[k];
            double outside[2];
            for (uint32_t o = outside_values(f, outside); o > 0; o--) {
                Command c = *base;
                field_set(&c, f, outside[o - 1]);
                add_invalid(&c);
            }
            for (size_t n = 0; (f->kind == CMD_FIELD_F32 || f->kind == CMD_FIELD_F64) && n < 3; n++) {
                Command c = *base;
                field_set(&c, f, not_finite[n]);
                add_invalid(&c);
            }
        }
    }
    Command c;
    uint8_t b[CMD_SIZE_MAX];
    cmd_decode(b, cmd_encode_loop(b, sizeof b, 0, 5, 5, true), &c);
    add_invalid(&c);
    cmd_decode(b, cmd_encode_time_signature(b, sizeof b, 0, 4, 3), &c);
    add_invalid(&c);
    cmd_decode(b, cmd_encode_set_send(b, sizeof b, 0, 9, 9, 1.0f), &c);
    add_invalid(&c);
    cmd_decode(b, cmd_encode_all_notes_off(b, sizeof b, 0, 5, true), &c);
    add_invalid(&c);
    cmd_decode(b, cmd_encode_all_notes_off(b, sizeof b, 0, CMD_TRACK_LIMIT - 1, true), &c);
    add_invalid(&c);
    cmd_decode(b, cmd_encode_time_signature_change(b, sizeof b, 0, 6.0, 7, 6), &c);
    add_invalid(&c);
    cmd_decode(b, cmd_encode_set_send_db(b, sizeof b, 0, 4, 4, -6.0f, false), &c);
    add_invalid(&c);
}

/* ---- layout ------------------------------------------------------------------- */

static const struct { uint32_t type; size_t size; } struct_sizes[] = {
#define CMD(upper, camel, lower, id, doc, fields, rule) { CMD_##upper, sizeof(Cmd##camel) },
#include "commands.def"
};

START_TEST(test_sizes_match_structs)
{
    ck_assert_uint_eq(sizeof struct_sizes / sizeof struct_sizes[0], CMD_COUNT);
    uint32_t largest = 0;
    for (uint32_t i = 0; i < CMD_COUNT; i++) {
        uint32_t type = struct_sizes[i].type;
        ck_assert_uint_eq(cmd_size(type), struct_sizes[i].size);
        ck_assert_ptr_nonnull(cmd_info(type));
        ck_assert_uint_eq(cmd_info(type)->size, struct_sizes[i].size);
        ck_assert_ptr_eq(cmd_info_at(i), cmd_info(type));
        ck_assert_uint_eq(cmd_info(type)->type, type);
        ck_assert_uint_eq(struct_sizes[i].size % 8, 0);
        if (struct_sizes[i].size > largest)
            largest = (uint32_t)struct_sizes[i].size;
    }
    ck_assert_uint_eq(CMD_SIZE_MAX, largest);
    ck_assert_ptr_null(cmd_info_at(CMD_COUNT));
    ck_assert_uint_eq(cmd_size(CMD_PLAY), CMD_HEADER_SIZE);
    ck_assert_uint_eq(cmd_size(CMD_NOTE_ON), 32);
    ck_assert_uint_eq(cmd_size(CMD_LOOP), 40);
    ck_assert_uint_eq(cmd_size(CMD_LOAD_SAMPLE), 40);
    ck_assert_uint_eq(cmd_size(CMD_TEMPO_CHANGE), 32);
    ck_assert_uint_eq(cmd_size(CMD_ALL_NOTES_OFF), 24);
    ck_assert_uint_eq(cmd_size(CMD_SET_VOICE_MODE), 32);
    ck_assert_uint_eq(cmd_size(CMD_SET_MASTER_GAIN), 24);
    ck_assert_uint_eq(cmd_size(CMD_PLACE_REGION), 48);
    ck_assert_uint_eq(cmd_size(CMD_REMOVE_REGION), 24);
    ck_assert_uint_eq(cmd_size(CMD_SEEK_BEAT), 24);
    ck_assert_uint_eq(cmd_size(CMD_PLACE_CLIP), 56);   /* format 3: + loop */
    ck_assert_uint_eq(cmd_size(CMD_PLACE_REGION_SLOT), 56);
    ck_assert_uint_eq(cmd_size(CMD_TIME_SIGNATURE_CHANGE), 32);
    ck_assert_uint_eq(cmd_size(CMD_METRONOME), 24);
    ck_assert_uint_eq(cmd_size(CMD_AUTOMATION_LANE), 32);
    ck_assert_uint_eq(cmd_size(CMD_AUTOMATION_POINT), 40);
    ck_assert_uint_eq(cmd_size(CMD_SETTLE), 24);
    ck_assert_uint_eq(cmd_size(CMD_SET_TRACK_POSITION), 24);
    ck_assert_uint_eq(cmd_size(CMD_SET_SEND_DB), 32);
    ck_assert_uint_eq(cmd_size(CMD_CLIP_NOTES), 24);
    ck_assert_uint_eq(cmd_size(CMD_CLIP_NOTE), 48);
    ck_assert_uint_eq(cmd_size(CMD_PLACE_CLIP_BEATS), 56);
    ck_assert_uint_eq(cmd_size(CMD_REMOVE_PLACEMENT), 24);
    ck_assert_uint_eq(cmd_size(CMD_PLACE_REGION_BEATS), 56);
    ck_assert_uint_eq(cmd_size(CMD_BIND_SAMPLE), 32);
    ck_assert_uint_eq(CMD_SIZE_MAX, 56);                /* place_region_slot and others */
    ck_assert_int_eq(CMD_FORMAT_VERSION, 5);
}
END_TEST

/* The offsets are what natural alignment gives, computed here from the
 * kinds alone: the wire format does not depend on this compiler. */
START_TEST(test_offsets_are_natural)
{
    for (uint32_t i = 0; i < CMD_COUNT; i++) {
        const CmdInfo *info = cmd_info_at(i);
        uint32_t offset = CMD_HEADER_SIZE;
        for (uint32_t k = 0; k < info->field_count; k++) {
            uint32_t size = kind_size(info->fields[k].kind);
            offset = (offset + size - 1) / size * size;
            ck_assert_msg(info->fields[k].offset == offset, "%s.%s at %u, expected %u",
                          info->name, info->fields[k].name, info->fields[k].offset, offset);
            offset += size;
        }
        ck_assert_uint_eq(info->size, (offset + 7) / 8 * 8);
    }
}
END_TEST

START_TEST(test_ids_and_names)
{
    for (uint32_t i = 0; i < CMD_COUNT; i++) {
        const CmdInfo *a = cmd_info_at(i);
        ck_assert_uint_gt(a->type, 0);
        ck_assert_uint_gt(strlen(a->doc), 0);
        for (uint32_t j = i + 1; j < CMD_COUNT; j++) {
            ck_assert_uint_ne(a->type, cmd_info_at(j)->type);
            ck_assert_str_ne(a->name, cmd_info_at(j)->name);
        }
        for (uint32_t k = 0; k < a->field_count; k++) {
            const CmdField *f = &a->fields[k];
            ck_assert(f->min <= f->max);
            ck_assert(f->min >= kind_low(f->kind) && f->max <= kind_high(f->kind));
            ck_assert(fabs(f->min) <= 9007199254740991.0 || f->kind == CMD_FIELD_F32 || f->kind == CMD_FIELD_F64);
            ck_assert(fabs(f->max) <= 9007199254740991.0 || f->kind == CMD_FIELD_F32 || f->kind == CMD_FIELD_F64);
            ck_assert_uint_gt(strlen(f->doc), 0);
        }
    }
    ck_assert_str_eq(cmd_info(CMD_NOTE_ON)->name, "note_on");
    ck_assert_str_eq(cmd_info(CMD_NOTE_ON)->title, "NoteOn");
    ck_assert_str_eq(cmd_info(CMD_LOOP)->rule, "!enabled || end > start");
    ck_assert_str_eq(cmd_info(CMD_SEEK)->rule, "true");
    ck_assert_uint_eq(cmd_info(CMD_NOTE_ON)->field_count, 4);
    ck_assert_str_eq(cmd_info(CMD_NOTE_ON)->fields[2].name, "key");
    ck_assert_ptr_null(cmd_info(0));
    ck_assert_uint_eq(cmd_size(0), 0);
    ck_assert_str_eq(cmd_status_name(CMD_ERR_RANGE), "CMD_ERR_RANGE");
    ck_assert_str_eq(cmd_status_name(CMD_OK), "CMD_OK");
    ck_assert_str_eq(cmd_status_name(42), "?");
}
END_TEST

/* Four records spelled out byte by byte: the format as the engine and the
 * page see it, independent of the structs. */
START_TEST(test_pinned_bytes)
{
    static const uint8_t note_on[32] = {
        0x10, 0, 0, 0,  0, 0, 0, 0,                           /* type 16, flags */
        0x10, 0x0f, 0x0e, 0x0d, 0x0c, 0x0b, 0x0a, 0x00,       /* time */
        3, 0, 0, 0,  0xdd, 0xcc, 0xbb, 0xaa,                  /* track, note_id */
        60, 0, 0, 0,  0x00, 0x00, 0x00, 0x3f,                 /* key, pad, 0.5f */
    };
    static const uint8_t loop[40] = {
        4, 0, 0, 0,  0, 0, 0, 0,
        0x40, 0x42, 0x0f, 0, 0, 0, 0, 0,                      /* time 1000000 */
        1, 0, 0, 0, 0, 0, 0, 0,                               /* start 1 */
        0, 0, 0, 0, 1, 0, 0, 0,                               /* end 2^32 */
        1, 0, 0, 0, 0, 0, 0, 0,                               /* enabled, pad */
    };
    uint8_t buf[CMD_SIZE_MAX];
    memset(buf, 0xee, sizeof buf);
    ck_assert_uint_eq(cmd_encode_note_on(buf, sizeof buf, 0x000a0b0c0d0e0f10LL, 3,
                                         0xaabbccddu, 60, 0.5f), 32);
    ck_assert_mem_eq(buf, note_on, 32);
    ck_assert_uint_eq(buf[32], 0xee);      /* nothing past the record */

    memset(buf, 0xee, sizeof buf);
    ck_assert_uint_eq(cmd_encode_loop(buf, sizeof buf, 1000000, 1, 1LL << 32, true), 40);
    ck_assert_mem_eq(buf, loop, 40);

    static const uint8_t place_region[48] = {
        82, 0, 0, 0,  0, 0, 0, 0,                             /* type 82, flags */
        0x20, 0, 0, 0, 0, 0, 0, 0,                            /* time 32 */
        0x31, 0x75, 0, 0, 0, 0, 0, 0,                         /* start 30001 */
        2, 0, 0, 0,  7, 0, 0, 0,                              /* track, region */
        1, 0, 0, 0,  0x64, 0, 0, 0,                           /* sample, first_frame 100 */
        0xf4, 0x01, 0, 0,  0x00, 0x00, 0xc0, 0xc0,            /* frames 500, -6.0f */
    };
    memset(buf, 0xee, sizeof buf);
    ck_assert_uint_eq(cmd_encode_place_region(buf, sizeof buf, 32, 30001, 2, 7, 1, 100, 500, -6.0f), 48);
    ck_assert_mem_eq(buf, place_region, 48);

    /* Format 3: one note of a clip, as the sync layer writes it. */
    static const uint8_t clip_note[48] = {
        89, 0, 0, 0,  0, 0, 0, 0,                             /* type 89, flags */
        0, 0, 0, 0, 0, 0, 0, 0,                               /* time 0 */
        0, 0, 0, 0, 0, 0, 0xf4, 0x3f,                         /* start 1.25 */
        0, 0, 0, 0, 0, 0, 0xe0, 0x3f,                         /* length 0.5 */
        17, 0, 0, 0,  0x00, 0x00, 0x40, 0x3f,                 /* clip 17, velocity 0.75f */
        60, 0, 0, 0, 0, 0, 0, 0,                              /* key 60, pad */
    };
    memset(buf, 0xee, sizeof buf);
    ck_assert_uint_eq(cmd_encode_clip_note(buf, sizeof buf, 0, 1.25, 0.5, 17, 0.75f, 60), 48);
    ck_assert_mem_eq(buf, clip_note, 48);

    Command c;
    ck_assert_int_eq(cmd_decode(clip_note, sizeof clip_note, &c), CMD_OK);
    ck_assert(c.clip_note.start == 1.25 && c.clip_note.length == 0.5);
    ck_assert_uint_eq(c.clip_note.key, 60);
    ck_assert_int_eq(cmd_decode(place_region, sizeof place_region, &c), CMD_OK);
    ck_assert_int_eq(c.place_region.start, 30001);
    ck_assert_uint_eq(c.place_region.frames, 500);
    ck_assert_float_eq(c.place_region.db, -6.0f);
    ck_assert_int_eq(cmd_decode(loop, sizeof loop, &c), CMD_OK);
    ck_assert_int_eq(c.loop.start, 1);
    ck_assert_int_eq(c.loop.end, 1LL << 32);
    ck_assert_uint_eq(c.loop.enabled, 1);
    ck_assert_int_eq(c.header.time, 1000000);
}
END_TEST

/* ---- core ----------------------------------------------------------------------- */

START_TEST(test_round_trip_every_vector)
{
    make_vectors();
    uint32_t per_type[CMD_COUNT] = { 0 };
    for (uint32_t v = 0; v < vector_count; v++) {
        const Command *want = &vectors[v];
        uint8_t bytes[CMD_SIZE_MAX], again[CMD_SIZE_MAX];
        Command got;
        uint32_t size = cmd_size(want->header.type);
        ck_assert_int_eq(cmd_validate(want), CMD_OK);
        ck_assert_uint_eq(cmd_encode(want, bytes, sizeof bytes), size);
        ck_assert_int_eq(cmd_decode(bytes, size, &got), CMD_OK);
        ck_assert_msg(same_command(want, &got), "vector %u (%s) changed in a round trip",
                      v, cmd_info(want->header.type)->name);
        ck_assert_uint_eq(cmd_encode(&got, again, sizeof again), size);
        ck_assert_mem_eq(bytes, again, size);
        for (uint32_t i = 0; i < CMD_COUNT; i++)
            if (cmd_info_at(i)->type == want->header.type)
                per_type[i]++;
    }
    for (uint32_t i = 0; i < CMD_COUNT; i++)
        ck_assert_msg(per_type[i] >= 2, "%s has %u test vectors; give it two",
                      cmd_info_at(i)->name, per_type[i]);
}
END_TEST

/* The bounds themselves are valid, field by field: lows and highs came
 * through the round trip above unless a rule dropped them, so check each
 * field at each bound on its own here. */
START_TEST(test_bounds_are_valid)
{
    make_vectors();
    uint32_t checked = 0;
    for (uint32_t i = 0; i < CMD_COUNT; i++) {
        const CmdInfo *info = cmd_info_at(i);
        const Command *base = NULL;
        for (uint32_t v = 0; v < vector_count && !base; v++)
            if (vectors[v].header.type == info->type)
                base = &vectors[v];
        ck_assert_ptr_nonnull(base);
        for (uint32_t k = 0; k < info->field_count; k++) {
            const CmdField *f = &info->fields[k];
            double bounds[2] = { f->min, f->max };
            for (int b = 0; b < 2; b++) {
                Command c = *base;
                field_set(&c, f, bounds[b]);
                int status = cmd_validate(&c);
                ck_assert_msg(status == CMD_OK || status == CMD_ERR_RULE,
                              "%s.%s = %g: %s", info->name, f->name, bounds[b],
                              cmd_status_name(status));
                ck_assert(field_get(&c, f) == bounds[b]);
                checked++;
            }
        }
    }
    ck_assert_uint_gt(checked, 100);
}
END_TEST

START_TEST(test_typed_encoders)
{
    uint8_t a[CMD_SIZE_MAX], b[CMD_SIZE_MAX];
    Command c;
    memset(&c, 0, sizeof c);
    c.note_on.header.type = CMD_NOTE_ON;
    c.note_on.header.time = 99;
    c.note_on.track = 7;
    c.note_on.note_id = 1234;
    c.note_on.key = 64;
    c.note_on.velocity = 0.75f;
    ck_assert_uint_eq(cmd_encode(&c, a, sizeof a), 32);
    ck_assert_uint_eq(cmd_encode_note_on(b, sizeof b, 99, 7, 1234, 64, 0.75f), 32);
    ck_assert_mem_eq(a, b, 32);

    /* Room: exactly the size is enough, one byte less writes nothing. */
    memset(b, 0xee, sizeof b);
    ck_assert_uint_eq(cmd_encode_note_on(b, 31, 99, 7, 1234, 64, 0.75f), 0);
    ck_assert_uint_eq(b[0], 0xee);
    ck_assert_uint_eq(cmd_encode_note_on(b, 32, 99, 7, 1234, 64, 0.75f), 32);
    ck_assert_uint_eq(cmd_encode_play(b, CMD_HEADER_SIZE, 0), CMD_HEADER_SIZE);

    /* An unknown type encodes to nothing. */
    c.header.type = 1000;
    ck_assert_uint_eq(cmd_encode(&c, a, sizeof a), 0);

    /* A bool parameter is stored as 0 or 1. */
    ck_assert_uint_eq(cmd_encode_set_mute(a, sizeof a, 0, 1, true), 24);
    ck_assert_uint_eq(a[20], 1);
}
END_TEST

/* ---- reject --------------------------------------------------------------------- */

static int decode_of(const Command *c)
{
    ck_assert_uint_gt(cmd_size(c->header.type), 0);
    return decode_raw(c);
}

static Command valid_of(uint32_t type)
{
    make_vectors();
    const Command *c = first_vector_of(type);
    ck_assert_msg(c != NULL, "no vector of type %u", type);
    return *c;
}

START_TEST(test_short)
{
    uint8_t bytes[CMD_HEADER_SIZE];
    Command out;
    ck_assert_uint_eq(cmd_encode_play(bytes, sizeof bytes, 0), CMD_HEADER_SIZE);
    for (uint32_t len = 0; len < CMD_HEADER_SIZE; len++)
        ck_assert_int_eq(cmd_decode(bytes, len, &out), CMD_ERR_SHORT);
    ck_assert_int_eq(cmd_decode(NULL, 0, &out), CMD_ERR_SHORT);
    ck_assert_int_eq(cmd_decode(bytes, CMD_HEADER_SIZE, &out), CMD_OK);
}
END_TEST

START_TEST(test_unknown_type)
{
    static const uint32_t extra[] = { 1000, 0x80000000u, UINT32_MAX };
    uint8_t bytes[CMD_SIZE_MAX + 8] = { 0 };
    Command out;
    uint32_t unknown = 0;
    for (uint32_t type = 0; type < 256 + 3; type++) {
        uint32_t t = type < 256 ? type : extra[type - 256];
        if (cmd_info(t))
            continue;
        unknown++;
        memcpy(bytes, &t, 4);
        for (uint32_t len = CMD_HEADER_SIZE; len <= sizeof bytes; len++) {
            ck_assert_int_eq(cmd_decode(bytes, len, &out), CMD_ERR_TYPE);
            ck_assert_uint_eq(out.header.type, t);   /* kept for the report */
        }
    }
    ck_assert_uint_eq(unknown, 256 + 3 - CMD_COUNT);
}
END_TEST

START_TEST(test_wrong_length)
{
    uint8_t bytes[CMD_SIZE_MAX + 16];
    Command out;
    for (uint32_t i = 0; i < CMD_COUNT; i++) {
        Command c = valid_of(cmd_info_at(i)->type);
        uint32_t size = cmd_encode(&c, bytes, sizeof bytes);
        for (uint32_t len = CMD_HEADER_SIZE; len <= sizeof bytes; len++) {
            int status = cmd_decode(bytes, len, &out);
            ck_assert_int_eq(status, len == size ? CMD_OK : CMD_ERR_LENGTH);
        }
    }
}
END_TEST

START_TEST(test_flags_and_time)
{
    static const uint32_t flags[] = { 1, 0x100, 0x80000000u, UINT32_MAX };
    static const int64_t bad_times[] = { -1, INT64_MIN, CMD_TIME_MAX + 1, INT64_MAX };
    for (uint32_t i = 0; i < CMD_COUNT; i++) {
        Command c = valid_of(cmd_info_at(i)->type);
        for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++) {
            Command bad = c;
            bad.header.flags = flags[k];
            ck_assert_int_eq(decode_of(&bad), CMD_ERR_FLAGS);
        }
        for (size_t k = 0; k < sizeof bad_times / sizeof bad_times[0]; k++) {
            Command bad = c;
            bad.header.time = bad_times[k];
            ck_assert_int_eq(decode_of(&bad), CMD_ERR_TIME);
        }
        c.header.time = 0;
        ck_assert_int_eq(decode_of(&c), CMD_OK);
        c.header.time = CMD_TIME_MAX;
        ck_assert_int_eq(decode_of(&c), CMD_OK);
    }
}
END_TEST

/* Every float field refuses NaN (quiet, signalling, negative) and both
 * infinities with CMD_ERR_NOT_FINITE. */
START_TEST(test_not_finite)
{
    static const uint32_t patterns[] = {
        0x7fc00000u, 0xffc00000u, 0x7f800001u, 0x7fffffffu, 0x7f800000u, 0xff800000u,
    };
    uint32_t checked = 0;
    for (uint32_t i = 0; i < CMD_COUNT; i++) {
        const CmdInfo *info = cmd_info_at(i);
        Command c = valid_of(info->type);
        for (uint32_t k = 0; k < info->field_count; k++) {
            if (info->fields[k].kind != CMD_FIELD_F32)
                continue;
            for (size_t p = 0; p < sizeof patterns / sizeof patterns[0]; p++) {
                Command bad = c;
                memcpy((uint8_t *)&bad + info->fields[k].offset, &patterns[p], 4);
                ck_assert_int_eq(decode_of(&bad), CMD_ERR_NOT_FINITE);
                checked++;
            }
        }
    }
    ck_assert_uint_eq(checked, 18 * 6);   /* eighteen f32 fields */
}
END_TEST

/* Every field, one step outside each bound (where its storage can hold
 * that value), is refused with CMD_ERR_RANGE. */
START_TEST(test_out_of_range)
{
    uint32_t checked = 0;
    for (uint32_t i = 0; i < CMD_COUNT; i++) {
        const CmdInfo *info = cmd_info_at(i);
        Command c = valid_of(info->type);
        for (uint32_t k = 0; k < info->field_count; k++) {
            const CmdField *f = &info->fields[k];
            double outside[2];
            uint32_t count = outside_values(f, outside);
            for (uint32_t b = 0; b < count; b++) {
                Command bad = c;
                field_set(&bad, f, outside[b]);
                ck_assert_msg(decode_of(&bad) == CMD_ERR_RANGE, "%s.%s = %.17g accepted",
                              info->name, f->name, outside[b]);
                checked++;
            }
        }
    }
    ck_assert_uint_gt(checked, 40);

    /* Spelled out, the ones the brief names. */
    Command c = valid_of(CMD_NOTE_ON);
    c.note_on.key = 128;
    ck_assert_int_eq(decode_of(&c), CMD_ERR_RANGE);
    c = valid_of(CMD_NOTE_ON);
    c.note_on.velocity = 1.0001f;
    ck_assert_int_eq(decode_of(&c), CMD_ERR_RANGE);
    c = valid_of(CMD_SET_PAN);
    c.set_pan.pan = -1.5f;
    ck_assert_int_eq(decode_of(&c), CMD_ERR_RANGE);
    c = valid_of(CMD_SET_MUTE);
    c.set_mute.mute = 2;
    ck_assert_int_eq(decode_of(&c), CMD_ERR_RANGE);
    c = valid_of(CMD_ADD_TRACK);
    c.add_track.kind = 3;
    ck_assert_int_eq(decode_of(&c), CMD_ERR_RANGE);
    c = valid_of(CMD_LOAD_SAMPLE);
    c.load_sample.channels = 0;
    ck_assert_int_eq(decode_of(&c), CMD_ERR_RANGE);

    /* The commands added with the region, master, voice-mode, tempo-map and
     * all-notes-off gaps, each bound of each field. */
    c = valid_of(CMD_TEMPO_CHANGE);
    c.tempo_change.bpm = nextafterf(20.0f, 0.0f);
    ck_assert_int_eq(decode_of(&c), CMD_ERR_RANGE);
    c.tempo_change.bpm = nextafterf(999.0f, 1000.0f);
    ck_assert_int_eq(decode_of(&c), CMD_ERR_RANGE);
    c.tempo_change.bpm = 120.0f;
    c.tempo_change.position = -1;
    ck_assert_int_eq(decode_of(&c), CMD_ERR_RANGE);
    c.tempo_change.position = CMD_TIME_MAX + 1;
    ck_assert_int_eq(decode_of(&c), CMD_ERR_RANGE);
    c.tempo_change.position = CMD_TIME_MAX;
    ck_assert_int_eq(decode_of(&c), CMD_OK);

    c = valid_of(CMD_ALL_NOTES_OFF);
    c.all_notes_off.track = CMD_TRACK_LIMIT;
    ck_assert_int_eq(decode_of(&c), CMD_ERR_RANGE);
    c.all_notes_off.track = 0;
    c.all_notes_off.every_track = 2;
    ck_assert_int_eq(decode_of(&c), CMD_ERR_RANGE);

    c = valid_of(CMD_SET_VOICE_MODE);
    c.set_voice_mode.mode = 3;
    ck_assert_int_eq(decode_of(&c), CMD_ERR_RANGE);
    c = valid_of(CMD_SET_VOICE_MODE);
    c.set_voice_mode.priority = 3;
    ck_assert_int_eq(decode_of(&c), CMD_ERR_RANGE);
    c = valid_of(CMD_SET_VOICE_MODE);
    c.set_voice_mode.track = CMD_TRACK_LIMIT;
    ck_assert_int_eq(decode_of(&c), CMD_ERR_RANGE);
    c = valid_of(CMD_SET_VOICE_MODE);
    c.set_voice_mode.glide = 10.5f;
    ck_assert_int_eq(decode_of(&c), CMD_ERR_RANGE);
    c = valid_of(CMD_SET_VOICE_MODE);
    c.set_voice_mode.glide = -0.001f;
    ck_assert_int_eq(decode_of(&c), CMD_ERR_RANGE);

    c = valid_of(CMD_SET_MASTER_GAIN);
    c.set_master_gain.db = nextafterf(24.0f, 25.0f);
    ck_assert_int_eq(decode_of(&c), CMD_ERR_RANGE);
    c.set_master_gain.db = nextafterf(-144.0f, -145.0f);
    ck_assert_int_eq(decode_of(&c), CMD_ERR_RANGE);
    c.set_master_gain.db = -144.0f;
    ck_assert_int_eq(decode_of(&c), CMD_OK);

    c = valid_of(CMD_PLACE_REGION);
    c.place_region.first_frame = UINT32_MAX;
    ck_assert_int_eq(decode_of(&c), CMD_ERR_RANGE);
    c = valid_of(CMD_PLACE_REGION);
    c.place_region.track = CMD_TRACK_LIMIT;
    ck_assert_int_eq(decode_of(&c), CMD_ERR_RANGE);
    c = valid_of(CMD_PLACE_REGION);
    c.place_region.start = -1;
    ck_assert_int_eq(decode_of(&c), CMD_ERR_RANGE);
    c = valid_of(CMD_PLACE_REGION);
    c.place_region.db = 24.5f;
    ck_assert_int_eq(decode_of(&c), CMD_ERR_RANGE);
    c.place_region.db = -150.0f;
    ck_assert_int_eq(decode_of(&c), CMD_ERR_RANGE);
    c.place_region.db = NAN;
    ck_assert_int_eq(decode_of(&c), CMD_ERR_NOT_FINITE);
}
END_TEST

START_TEST(test_rules)
{
    uint8_t b[CMD_SIZE_MAX];
    Command out;
    ck_assert_int_eq(cmd_decode(b, cmd_encode_loop(b, sizeof b, 0, 5, 5, true), &out), CMD_ERR_RULE);
    ck_assert_int_eq(cmd_decode(b, cmd_encode_loop(b, sizeof b, 0, 6, 5, true), &out), CMD_ERR_RULE);
    ck_assert_int_eq(cmd_decode(b, cmd_encode_loop(b, sizeof b, 0, 5, 5, false), &out), CMD_OK);
    ck_assert_int_eq(cmd_decode(b, cmd_encode_loop(b, sizeof b, 0, 5, 6, true), &out), CMD_OK);
    for (uint8_t den = 1; den <= 64; den++) {
        bool power = (den & (den - 1)) == 0;
        ck_assert_int_eq(cmd_decode(b, cmd_encode_time_signature(b, sizeof b, 0, 4, den), &out),
                         power ? CMD_OK : CMD_ERR_RULE);
    }
    ck_assert_int_eq(cmd_decode(b, cmd_encode_set_send(b, sizeof b, 0, 9, 9, 1.0f), &out),
                     CMD_ERR_RULE);
    /* every_track names no track: track must be 0 then. */
    ck_assert_int_eq(cmd_decode(b, cmd_encode_all_notes_off(b, sizeof b, 0, 0, true), &out), CMD_OK);
    ck_assert_int_eq(cmd_decode(b, cmd_encode_all_notes_off(b, sizeof b, 0, 1, true), &out), CMD_ERR_RULE);
    ck_assert_int_eq(cmd_decode(b, cmd_encode_all_notes_off(b, sizeof b, 0, 1, false), &out), CMD_OK);
    ck_assert_int_eq(cmd_decode(b, cmd_encode_all_notes_off(b, sizeof b, 0, CMD_TRACK_LIMIT, true), &out),
                     CMD_ERR_RANGE);
    /* Range comes before the rule, the header before the fields. */
    ck_assert_int_eq(cmd_decode(b, cmd_encode_set_send(b, sizeof b, 0, 9, 9, 5.0f), &out),
                     CMD_ERR_RANGE);
    ck_assert_int_eq(cmd_decode(b, cmd_encode_set_send(b, sizeof b, -1, 9, 9, 5.0f), &out),
                     CMD_ERR_TIME);
    ck_assert_int_eq(out.header.type, CMD_SET_SEND);
}
END_TEST

/* The refusals the TypeScript encoder is held to: one of each kind, and
 * one per field and bound. */
START_TEST(test_invalid_vectors)
{
    make_invalid();
    uint32_t by_status[STATUS_KINDS] = { 0 };
    for (uint32_t v = 0; v < invalid_count; v++) {
        ck_assert_int_eq(decode_raw(&invalid[v]), invalid_status[v]);
        by_status[-invalid_status[v]]++;
    }
    ck_assert_uint_eq(by_status[-CMD_ERR_TIME], 2 * CMD_COUNT);
    ck_assert_uint_eq(by_status[-CMD_ERR_NOT_FINITE], 3 * (18 + 20));   /* three per f32 and f64 field */
    ck_assert_uint_gt(by_status[-CMD_ERR_RANGE], 40);
    ck_assert_uint_eq(by_status[-CMD_ERR_RULE], 7);
}
END_TEST

/* ---- random ---------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t rng(void)    /* xorshift64*, fixed seed: a failure reproduces */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545f4914f6cdd1dULL) >> 32);
}

#define RANDOM_RECORDS 100000

/* Random bytes, bytes with a valid type, and valid records with a few
 * bytes changed or a length off, each in a heap block of exactly its
 * length so a sanitizer or valgrind would see any read past it. Whatever
 * decodes must validate, and re-encode to a record that decodes the same. */
START_TEST(test_random_records)
{
    make_vectors();
    uint32_t seen[STATUS_KINDS] = { 0 };
    for (uint32_t n = 0; n < RANDOM_RECORDS; n++) {
        uint8_t scratch[CMD_SIZE_MAX + 16];
        uint32_t len;
        uint32_t mode = rng() % 4;
        if (mode == 0) {
            len = rng() % sizeof scratch;
            for (uint32_t i = 0; i < len; i++)
                scratch[i] = (uint8_t)rng();
        } else {
            const Command *base = &vectors[rng() % vector_count];
            len = cmd_encode(base, scratch, sizeof scratch);
            if (mode == 1) {
                for (uint32_t i = 4; i < len; i++)
                    scratch[i] = (uint8_t)rng();
            } else if (mode == 2) {
                for (uint32_t flips = 1 + rng() % 3; flips > 0; flips--)
                    scratch[rng() % len] ^= (uint8_t)(1u << (rng() % 8));
            } else {
                len = rng() % sizeof scratch;
            }
        }
        uint8_t *record = malloc(len ? len : 1);
        ck_assert_ptr_nonnull(record);
        memcpy(record, scratch, len);
        Command out;
        int status = cmd_decode(record, len, &out);
        free(record);
        ck_assert_int_le(status, CMD_OK);
        ck_assert_int_ge(status, CMD_ERR_RULE);
        seen[-status]++;
        if (status != CMD_OK)
            continue;
        uint8_t again[CMD_SIZE_MAX];
        Command twice;
        ck_assert_int_eq(cmd_validate(&out), CMD_OK);
        ck_assert_uint_eq(cmd_encode(&out, again, sizeof again), len);
        ck_assert_int_eq(cmd_decode(again, len, &twice), CMD_OK);
        ck_assert(same_command(&out, &twice));
    }
    /* Every outcome happened, so every path of the decoder ran. */
    for (int s = 0; s < STATUS_KINDS; s++)
        ck_assert_msg(seen[s] > 0, "no record gave %s", cmd_status_name(-s));
    ck_assert_uint_gt(seen[0], 1000);
}
END_TEST

/* ---- the TypeScript round trip ------------------------------------------------------ */

/* The shortest decimal that reads back (through a double, as JSON.parse and
 * Math.fround do) as exactly v. */
static void print_float(FILE *out, float v)
{
    char buf[32];
    for (int precision = 1; precision <= 9; precision++) {
        snprintf(buf, sizeof buf, "%.*g", precision, (double)v);
        if ((float)strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, out);
}

/* One vector as a JSON object. A bool is true or false when it is 0 or 1,
 * else the number; a float that JSON cannot write is "NaN", "Infinity" or
 * "-Infinity". */
static void print_vector(FILE *out, const Command *c, int status, bool last)
{
    const CmdInfo *info = cmd_info(c->header.type);
    fprintf(out, "    {\"type\": %u, \"name\": \"%s\", \"time\": %lld, \"fields\": {",
            info->type, info->name, (long long)c->header.time);
    for (uint32_t k = 0; k < info->field_count; k++) {
        const CmdField *f = &info->fields[k];
        double value = field_get(c, f);
        fprintf(out, "%s\"%s\": ", k ? ", " : "", f->name);
        if (f->kind == CMD_FIELD_BOOL && (value == 0 || value == 1))
            fputs(value != 0 ? "true" : "false", out);
        else if ((f->kind == CMD_FIELD_F32 || f->kind == CMD_FIELD_F64) && isnan(value))
            fputs("\"NaN\"", out);
        else if ((f->kind == CMD_FIELD_F32 || f->kind == CMD_FIELD_F64) && isinf(value))
            fputs(value > 0 ? "\"Infinity\"" : "\"-Infinity\"", out);
        else if (f->kind == CMD_FIELD_F32)
            print_float(out, (float)value);
        else if (f->kind == CMD_FIELD_F64)
            fprintf(out, "%.17g", value);
        else
            fprintf(out, "%lld", (long long)value);
    }
    fputc('}', out);
    if (status != CMD_OK)
        fprintf(out, ", \"status\": \"%s\"", cmd_status_name(status));
    fprintf(out, "}%s\n", last ? "" : ",");
}

/* {"valid": [...], "invalid": [...]}; the invalid ones carry the status
 * cmd_decode gives them. */
static int write_vectors(const char *path)
{
    FILE *out = fopen(path, "w");
    if (!out) {
        perror(path);
        return 1;
    }
    make_invalid();     /* and the valid ones */
    fputs("{\n  \"valid\": [\n", out);
    for (uint32_t v = 0; v < vector_count; v++)
        print_vector(out, &vectors[v], CMD_OK, v + 1 == vector_count);
    fputs("  ],\n  \"invalid\": [\n", out);
    for (uint32_t v = 0; v < invalid_count; v++)
        print_vector(out, &invalid[v], invalid_status[v], v + 1 == invalid_count);
    fputs("  ]\n}\n", out);
    if (fclose(out) != 0) {
        perror(path);
        return 1;
    }
    return 0;
}

static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *in = fopen(path, "rb");
    if (!in)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    uint8_t *data = malloc(cap);
    size_t got;
    while (data && (got = fread(data + n, 1, cap - n, in)) > 0) {
        n += got;
        if (n == cap)
            data = realloc(data, cap *= 2);
    }
    fclose(in);
    *size = n;
    return data;
}

/* One vector against the record the TypeScript encoder wrote for it:
 * the same bytes as cmd_encode, and a decode that gives back every field. */
static bool check_record(uint32_t v, const uint8_t *record, uint32_t len)
{
    const Command *want = &vectors[v];
    const CmdInfo *info = cmd_info(want->header.type);
    uint8_t bytes[CMD_SIZE_MAX];
    uint32_t size = cmd_encode(want, bytes, sizeof bytes);
    if (len != size) {
        printf("vector %u (%s): %u bytes, C writes %u\n", v, info->name, len, size);
        return false;
    }
    bool ok = true;
    for (uint32_t i = 0; i < size; i++)
        if (record[i] != bytes[i]) {
            printf("vector %u (%s): byte %u is %02x, C writes %02x\n", v, info->name, i,
                   record[i], bytes[i]);
            ok = false;
        }
    Command got;
    int status = cmd_decode(record, len, &got);
    if (status != CMD_OK) {
        printf("vector %u (%s): decodes to %s\n", v, info->name, cmd_status_name(status));
        return false;
    }
    if (got.header.type != want->header.type || got.header.time != want->header.time) {
        printf("vector %u (%s): header differs\n", v, info->name);
        ok = false;
    }
    for (uint32_t k = 0; k < info->field_count; k++)
        if (!field_same(&got, want, &info->fields[k])) {
            printf("vector %u (%s): field %s is %.17g, expected %.17g\n", v, info->name,
                   info->fields[k].name, field_get(&got, &info->fields[k]),
                   field_get(want, &info->fields[k]));
            ok = false;
        }
    return ok;
}

static int check_encoded(const char *path)
{
    size_t size;
    uint8_t *data = read_file(path, &size);
    if (!data) {
        perror(path);
        return 1;
    }
    make_vectors();
    uint32_t passed = 0, failed = 0;
    size_t at = 0;
    for (uint32_t v = 0; v < vector_count; v++) {
        uint32_t len;
        if (size - at < 4) {
            printf("vector %u: missing from %s\n", v, path);
            failed += vector_count - v;
            break;
        }
        memcpy(&len, data + at, 4);
        at += 4;
        if (len > size - at) {
            printf("vector %u: record of %u bytes runs past the end\n", v, len);
            failed += vector_count - v;
            break;
        }
        if (check_record(v, data + at, len))
            passed++;
        else
            failed++;
        at += len;
    }
    if (at != size && failed == 0) {
        printf("%zu bytes after the last record\n", size - at);
        failed++;
    }
    free(data);
    printf("commands round trip: %u passed, %u failed\n", passed, failed);
    return failed ? 1 : 0;
}

/* ---- suite -------------------------------------------------------------------------- */

static Suite *commands_suite(void)
{
    Suite *s = suite_create("commands");
    TCase *layout = tcase_create("layout");
    tcase_add_test(layout, test_sizes_match_structs);
    tcase_add_test(layout, test_offsets_are_natural);
    tcase_add_test(layout, test_ids_and_names);
    tcase_add_test(layout, test_pinned_bytes);
    suite_add_tcase(s, layout);

    TCase *core = tcase_create("core");
    tcase_add_test(core, test_round_trip_every_vector);
    tcase_add_test(core, test_bounds_are_valid);
    tcase_add_test(core, test_typed_encoders);
    suite_add_tcase(s, core);

    TCase *reject = tcase_create("reject");
    tcase_add_test(reject, test_short);
    tcase_add_test(reject, test_unknown_type);
    tcase_add_test(reject, test_wrong_length);
    tcase_add_test(reject, test_flags_and_time);
    tcase_add_test(reject, test_not_finite);
    tcase_add_test(reject, test_out_of_range);
    tcase_add_test(reject, test_rules);
    tcase_add_test(reject, test_invalid_vectors);
    suite_add_tcase(s, reject);

    TCase *random = tcase_create("random");
    tcase_add_test(random, test_random_records);
    tcase_set_timeout(random, 60);
    suite_add_tcase(s, random);
    return s;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-vectors") == 0)
        return write_vectors(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--check-encoded") == 0)
        return check_encoded(argv[2]);
    if (argc != 1) {
        fprintf(stderr, "usage: %s [--write-vectors FILE | --check-encoded FILE]\n", argv[0]);
        return 2;
    }
    return testutil_run(commands_suite());
}
