/* workers.c — the worker pool of workers.h.
 *
 * Threading contract: one mutex guards the queue (a ring of `capacity`
 * jobs), the count and the stopping flag; `ready` is signalled when a job
 * is queued or the pool stops. Jobs run outside the mutex, so a slow job
 * holds up only its own worker. A submitter never waits: a full queue is a
 * refusal (the caller answers 503), which keeps the connection loop free.
 * workers_stop lets the workers drain the queue before they exit, so every
 * accepted job runs and every suspended connection is resumed; the pool's
 * memory lives on until workers_free, so a late submitter is refused, not
 * crashed.
 */
#include "workers.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct WorkerJob {
    WorkerRun run;
    void *arg;
} WorkerJob;

typedef struct WorkerThread {
    WorkerPool *pool;
    pthread_t thread;
    unsigned index;
    void *context;         /* from hooks.start */
    bool started;          /* the thread exists (join it) */
} WorkerThread;

struct WorkerPool {
    pthread_mutex_t lock;
    pthread_cond_t ready;  /* a job was queued, or stopping was set */
    pthread_cond_t up;     /* a worker finished its start hook */
    WorkerJob *queue;      /* ring of `capacity` */
    unsigned capacity, head, count;
    unsigned threads, up_count;
    bool stopping;
    bool start_failed;     /* a start hook returned NULL */
    WorkerHooks hooks;
    WorkerThread *workers;
};

static void *worker_main(void *arg)
{
    WorkerThread *self = arg;
    WorkerPool *pool = self->pool;
    void *context = pool->hooks.start ? pool->hooks.start(pool->hooks.arg, self->index) : NULL;
    pthread_mutex_lock(&pool->lock);
    self->context = context;
    if (pool->hooks.start && !context)
        pool->start_failed = true;
    pool->up_count++;
    pthread_cond_broadcast(&pool->up);
    for (;;) {
        while (pool->count == 0 && !pool->stopping)
            pthread_cond_wait(&pool->ready, &pool->lock);
        if (pool->count == 0)
            break; /* stopping, and the queue is drained */
        WorkerJob job = pool->queue[pool->head];
        pool->head = (pool->head + 1) % pool->capacity;
        pool->count--;
        pthread_mutex_unlock(&pool->lock);
        job.run(context, job.arg);
        pthread_mutex_lock(&pool->lock);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

WorkerPool *workers_start(unsigned threads, unsigned capacity, const WorkerHooks *hooks)
{
    if (threads == 0 || capacity == 0)
        return NULL;
    WorkerPool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    pool->queue = calloc(capacity, sizeof *pool->queue);
    pool->workers = calloc(threads, sizeof *pool->workers);
    pool->capacity = capacity;
    pool->threads = threads;
    if (hooks)
        pool->hooks = *hooks;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->ready, NULL);
    pthread_cond_init(&pool->up, NULL);
    if (!pool->queue || !pool->workers) {
        workers_free(pool);
        return NULL;
    }
    unsigned created = 0;
    for (unsigned i = 0; i < threads; i++) {
        WorkerThread *w = &pool->workers[i];
        w->pool = pool;
        w->index = i;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
            break;
        w->started = true;
        created++;
    }
    pthread_mutex_lock(&pool->lock);
    while (pool->up_count < created)
        pthread_cond_wait(&pool->up, &pool->lock);
    bool failed = pool->start_failed || created < threads;
    pthread_mutex_unlock(&pool->lock);
    if (failed) {
        workers_free(pool);
        return NULL;
    }
    return pool;
}

bool workers_submit(WorkerPool *pool, WorkerRun run, void *arg)
{
    pthread_mutex_lock(&pool->lock);
    bool accepted = !pool->stopping && pool->count < pool->capacity;
    if (accepted) {
        pool->queue[(pool->head + pool->count) % pool->capacity] = (WorkerJob){run, arg};
        pool->count++;
        pthread_cond_signal(&pool->ready);
    }
    pthread_mutex_unlock(&pool->lock);
    return accepted;
}

void workers_stop(WorkerPool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->ready);
    pthread_mutex_unlock(&pool->lock);
    for (unsigned i = 0; pool->workers && i < pool->threads; i++) {
        WorkerThread *w = &pool->workers[i];
        if (!w->started)
            continue;
        pthread_join(w->thread, NULL);
        w->started = false;
        if (pool->hooks.stop && w->context)
            pool->hooks.stop(pool->hooks.arg, w->context);
        w->context = NULL;
    }
}

void workers_free(WorkerPool *pool)
{
    if (!pool)
        return;
    workers_stop(pool);
    pthread_cond_destroy(&pool->up);
    pthread_cond_destroy(&pool->ready);
    pthread_mutex_destroy(&pool->lock);
    free(pool->workers);
    free(pool->queue);
    free(pool);
}
