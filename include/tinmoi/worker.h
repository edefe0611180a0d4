/* tinmoi — one thread beside the loop that runs jobs in order.
 *
 * The harvester has two: one for the store's writes, one that parses
 * every second body, so the loop's work shares the cores. A job runs on
 * the worker's thread (`run`), then its `done`, if it has one, is called
 * on the loop's thread, jobs in the order they were submitted. The loop
 * stays alive while a submitted job's `done` has not been called. */
#ifndef TINMOI_WORKER_H
#define TINMOI_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "tinmoi/error.h"

struct tm_worker_job {
    void (*run)(struct tm_worker_job *job); /* on the worker's thread */
    /* On the loop's thread; may free the job. NULL: none, and `run` may
     * free the job (the worker forgets it once run). */
    void (*done)(struct tm_worker_job *job);
    struct tm_worker_job *next; /* the worker's own */
};

struct tm_worker;

/* Starts the worker's thread on `loop` (borrowed). At most `max_waiting`
 * submitted jobs wait to run: tm_worker_submit blocks beyond that, which
 * bounds what waiting jobs hold. Returns 0, TM_ENOMEM, or TM_EIO when the
 * thread could not be made (`err` says why). */
int tm_worker_new(uv_loop_t *loop, size_t max_waiting, struct tm_worker **out,
                  struct tm_error *err);

/* Queues `job` (the caller keeps it alive until its `done`), blocking while
 * max_waiting jobs wait. Call from the loop's thread, never while holding
 * something the jobs' `run` takes (it would wait for itself). */
void tm_worker_submit(struct tm_worker *w, struct tm_worker_job *job);

/* Runs every job still waiting, waits for the thread to end, and calls
 * `done` of each job not yet reported, in order, before returning. The
 * worker's memory goes when the loop runs next (its async handle closes).
 * May be called from a `done`; a call from a `done` that this close
 * reports does nothing. Accepts NULL. */
void tm_worker_close(struct tm_worker *w);

#endif
