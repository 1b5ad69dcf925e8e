/* workers.h — a small fixed pool of threads with a bounded job queue.
 *
 * The connection loop (libmicrohttpd's threads) must never wait for slow
 * work: argon2id hashing and verification, or a write that fsyncs. A
 * handler suspends its connection, hands a job to this pool and returns; a
 * worker runs the job and resumes the connection, whose next callback sends
 * the reply (api.c). The queue is bounded: when it is full, workers_submit
 * refuses at once and the caller answers 503.
 *
 * Each worker owns a context made by the `start` callback on that thread
 * before it takes any job (ampd gives each worker its own database
 * connection, store.h) and released by `stop` when the pool shuts down.
 */
#ifndef AMPD_WORKERS_H
#define AMPD_WORKERS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct WorkerPool WorkerPool;

/* A job: run(context of the worker that took it, arg). */
typedef void (*WorkerRun)(void *context, void *arg);

typedef struct WorkerHooks {
    /* Called once on each worker thread, index 0..threads-1, before any
     * job; NULL means failure and workers_start fails. */
    void *(*start)(void *hooks_arg, unsigned index);
    void (*stop)(void *hooks_arg, void *context);
    void *arg;
} WorkerHooks;

/* `threads` workers, a queue of `capacity` waiting jobs. NULL on failure
 * (a thread could not start, or a start hook failed). */
WorkerPool *workers_start(unsigned threads, unsigned capacity, const WorkerHooks *hooks);

/* Queue a job; false when the queue is full or the pool is stopping. The
 * job runs exactly once when true is returned, never when false is. */
bool workers_submit(WorkerPool *pool, WorkerRun run, void *arg);

/* Refuse new jobs from now on (workers_submit returns false), run every
 * queued one, join the threads, release the contexts. The pool stays
 * allocated, so submitters still running are refused safely. */
void workers_stop(WorkerPool *pool);
/* Free a stopped pool, once nothing can call workers_submit any more. */
void workers_free(WorkerPool *pool);

#endif
