/* emit.h — the back ends: C source + header (emit_c.c), JSON metadata
 * (emit_json.c), into growable text buffers. */
#ifndef AMP_EMIT_H
#define AMP_EMIT_H

#include <stddef.h>
#include "lower.h"
#include "plan.h"

typedef struct EmitText {
    char *text;            /* malloc'd, NUL-terminated */
    size_t len, cap;
} EmitText;

void text_printf(EmitText *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void text_puts(EmitText *t, const char *s);
/* n bytes of s, which need not be NUL-terminated; n == 0 still allocates,
 * so t->text is a string afterwards. */
void text_add(EmitText *t, const char *s, size_t n);

struct StateBudget;          /* budget.h */
/* The metadata; its "state" is `state`'s measure (budget.c), and the
 * state map ("state_map", state_map.h) is written when plan is given. */
void emit_json(const Lowered *u, const Plan *plan, const struct StateBudget *state, EmitText *out);
/* Print u as C, as plan (plan.h) says: four voices per vector, or one
 * voice per lane group (plan_unit's scalar). json is embedded in the
 * descriptor. */
void emit_c(const Lowered *u, const Plan *plan, const char *json, EmitText *c, EmitText *h);
/* Sample slot k's name as the descriptor and the metadata give it: its
 * instance path, or the name in the node for a node compiled alone. */
const char *emit_sample_name(const Lowered *u, int k);

/* The instance a node compiled alone is lowered as (budget.c, emit_c.c). */
#ifndef NODE_UNIT_INSTANCE
#define NODE_UNIT_INSTANCE "_unit"
#endif

#endif
