/* flush.h — where the emitted code flushes tiny values to zero (flush.c);
 * plan_flush (plan.h) puts them in the emitter's Plan. */
#ifndef AMP_FLUSH_H
#define AMP_FLUSH_H

#include "ir.h"

/* Per Val id (ir->vals.n + 1 entries, in the arena): 1 where the Val's
 * value is flushed (|x| < 1e-30 -> 0) as it is computed, so that every
 * feedback loop of live Vals passes through a flush. */
char *flush_points(Arena *a, const Ir *ir);

/* Does operand k (0: a, 1: b, 2: c) of v carry its magnitude into v's
 * value? (Not into a comparison, a select's condition or a floor.) */
int flush_data_edge(const Val *v, int k);

#endif
