/* ring_stress.c — two threads hammer one ring; every record must arrive
 * once, in order, intact.
 *
 * A producer thread writes `records` records; each is an 8-byte head
 * {sequence number, checksum} and a body of 1..200 random bytes (so 9..208
 * bytes of payload), written alternately with rb_write (one buffer) and
 * rb_write2 (gather). When the ring is full the write is refused and the
 * producer retries; every refusal must show up in rb_dropped. The consumer
 * thread reads, checks the checksum (torn), the sequence number (lost,
 * reordered) and stops when the producer is done and the ring is empty.
 *
 * Built on its own under ThreadSanitizer (runtime/engine/engine.mk, `tsan-ring`)
 * with a 256-byte ring, so the indices wrap and the ring goes full and
 * empty all the time. tests/check_ring.c includes this file with
 * RING_STRESS_NO_MAIN defined to run the same stress under Check.
 */
#include "ring.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STRESS_HEAD 8u
#define STRESS_MAX_BODY 200u

typedef struct StressResult {
    uint64_t received;          /* records the consumer read */
    uint64_t lost;              /* sequence numbers never seen */
    uint64_t reordered;         /* records older than one already seen */
    uint64_t torn;              /* bad length, bad checksum, ring error */
    uint64_t refused;           /* writes the producer saw refused */
    uint32_t dropped;           /* rb_dropped at the end */
    double seconds;
} StressResult;

typedef struct Stress {
    void *ring;
    uint32_t records;
    uint32_t seed;
    atomic_bool producer_done;
    StressResult result;        /* producer writes `refused`, consumer the
                                   rest; read after both are joined */
} Stress;

static uint32_t xorshift32(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

/* FNV-1a over the body, seeded with the sequence number and length. */
static uint32_t checksum(uint32_t seq, const uint8_t *body, uint32_t len)
{
    uint32_t h = 2166136261u ^ seq ^ (len << 24);
    for (uint32_t i = 0; i < len; i++)
        h = (h ^ body[i]) * 16777619u;
    return h;
}

/* Give the other thread a chance; on 2 cores under TSan it needs one. */
static void backoff(unsigned *spins)
{
    if (++*spins < 64)
        return;
    *spins = 0;
    sched_yield();
}

static void *producer(void *arg)
{
    Stress *s = arg;
    uint32_t rng = s->seed;
    uint8_t record[STRESS_HEAD + STRESS_MAX_BODY];
    uint8_t *body = record + STRESS_HEAD;
    uint64_t refused = 0;
    for (uint32_t seq = 0; seq < s->records; seq++) {
        uint32_t len = 1 + xorshift32(&rng) % STRESS_MAX_BODY;
        for (uint32_t i = 0; i < len; i++)
            body[i] = (uint8_t)(xorshift32(&rng) >> 11);
        uint32_t head[2] = { seq, checksum(seq, body, len) };
        memcpy(record, head, sizeof head);
        unsigned spins = 0;
        for (;;) {
            bool ok = (seq & 1)
                ? rb_write2(s->ring, head, sizeof head, body, len)
                : rb_write(s->ring, record, STRESS_HEAD + len);
            if (ok)
                break;
            refused++;
            backoff(&spins);
        }
    }
    s->result.refused = refused;
    /* Release: every record written above is published before "done". */
    atomic_store_explicit(&s->producer_done, true, memory_order_release);
    return NULL;
}

/* Check one record and advance *expected. */
static void check_record(StressResult *res, const uint8_t *record,
                         int32_t len, uint32_t *expected)
{
    res->received++;
    if (len < (int32_t)(STRESS_HEAD + 1) ||
        len > (int32_t)(STRESS_HEAD + STRESS_MAX_BODY)) {
        res->torn++;
        return;
    }
    uint32_t head[2];
    memcpy(head, record, sizeof head);
    uint32_t body_len = (uint32_t)len - STRESS_HEAD;
    if (head[1] != checksum(head[0], record + STRESS_HEAD, body_len)) {
        res->torn++;
        return;
    }
    if (head[0] < *expected) {
        res->reordered++;
        return;
    }
    res->lost += head[0] - *expected;
    *expected = head[0] + 1;
}

static void *consumer(void *arg)
{
    Stress *s = arg;
    StressResult *res = &s->result;
    uint8_t record[STRESS_HEAD + STRESS_MAX_BODY];
    uint32_t expected = 0;
    unsigned spins = 0;
    for (;;) {
        int32_t len = rb_read(s->ring, record, sizeof record);
        if (len >= 0) {
            check_record(res, record, len, &expected);
            spins = 0;
            continue;
        }
        if (len != RB_EMPTY) {      /* too small or corrupt: cannot go on */
            res->torn++;
            break;
        }
        /* Acquire: pairs with the producer's release of "done"; after it,
         * one more look at an empty ring means nothing is left. */
        if (atomic_load_explicit(&s->producer_done, memory_order_acquire) &&
            rb_peek_size(s->ring) == RB_EMPTY)
            break;
        backoff(&spins);
    }
    if (expected < s->records)
        res->lost += s->records - expected;
    return NULL;
}

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Run the stress on a fresh ring of `capacity` bytes. False if the ring
 * could not be set up or a thread could not start. */
static bool stress_run(uint32_t capacity, uint32_t records, uint32_t seed,
                       StressResult *out)
{
    size_t bytes = rb_bytes_needed(capacity);
    size_t rounded = (bytes + RB_ALIGN - 1) / RB_ALIGN * RB_ALIGN;
    void *mem = bytes ? aligned_alloc(RB_ALIGN, rounded) : NULL;
    if (!mem || !rb_init(mem, capacity)) {
        free(mem);
        return false;
    }
    Stress s = { .ring = mem, .records = records, .seed = seed ? seed : 1 };
    atomic_init(&s.producer_done, false);
    double start = now_seconds();
    pthread_t tp, tc;
    if (pthread_create(&tc, NULL, consumer, &s) != 0) {
        free(mem);
        return false;
    }
    if (pthread_create(&tp, NULL, producer, &s) != 0) {
        atomic_store(&s.producer_done, true);
        pthread_join(tc, NULL);
        free(mem);
        return false;
    }
    pthread_join(tp, NULL);
    pthread_join(tc, NULL);
    s.result.seconds = now_seconds() - start;
    s.result.dropped = rb_dropped(mem);
    *out = s.result;
    free(mem);
    return true;
}

/* Whether a run is clean: all delivered, no refusal unaccounted for. */
static bool stress_ok(const StressResult *r, uint32_t records)
{
    return r->received == records && r->lost == 0 && r->reordered == 0 &&
           r->torn == 0 && r->dropped == (uint32_t)r->refused;
}

#ifndef RING_STRESS_NO_MAIN
int main(int argc, char **argv)
{
    uint32_t records = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 2000000;
    uint32_t capacity = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 0) : 256;
    StressResult r;
    if (!stress_run(capacity, records, 0x2545f491u, &r)) {
        fprintf(stderr, "ring stress: cannot set up a ring of %u bytes\n",
                capacity);
        return 2;
    }
    printf("ring stress: capacity %u, %.2f s, %llu writes refused while "
           "full, dropped counter %u\n", capacity, r.seconds,
           (unsigned long long)r.refused, r.dropped);
    printf("ring stress: %u records, %llu lost, %llu reordered, %llu torn\n",
           records, (unsigned long long)r.lost,
           (unsigned long long)r.reordered, (unsigned long long)r.torn);
    if (!stress_ok(&r, records)) {
        fprintf(stderr, "ring stress: FAILED (received %llu of %u, dropped "
                "counter %u vs %llu refusals)\n",
                (unsigned long long)r.received, records, r.dropped,
                (unsigned long long)r.refused);
        return 1;
    }
    return 0;
}
#endif
