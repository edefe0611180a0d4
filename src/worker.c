/* tinmoi — one thread beside the loop that runs jobs in order. */
#include "tinmoi/worker.h"

#include <stdlib.h>

struct job_list {
    struct tm_worker_job *head, *tail;
};

static void list_push(struct job_list *l, struct tm_worker_job *job)
{
    job->next = NULL;
    if (l->tail)
        l->tail->next = job;
    else
        l->head = job;
    l->tail = job;
}

static struct tm_worker_job *list_pop(struct job_list *l)
{
    struct tm_worker_job *job = l->head;
    if (job) {
        l->head = job->next;
        if (l->head == NULL)
            l->tail = NULL;
        job->next = NULL;
    }
    return job;
}

struct tm_worker {
    uv_async_t ran_signal; /* the thread's "a job ran", to the loop */
    uv_thread_t thread;
    uv_mutex_t mu;           /* guards the two lists, n_waiting and ending */
    uv_cond_t work_ready;    /* a job waits, or the thread is to end */
    uv_cond_t room_ready;    /* a job left the waiting list */
    struct job_list waiting; /* submitted, not yet run */
    struct job_list ran;     /* run, `done` not yet called */
    size_t n_waiting;
    size_t max_waiting;
    bool ending; /* the thread ends once nothing waits */
    /* The loop's thread only. */
    size_t n_unreported; /* submitted, `done` not yet called: keeps the loop alive */
    bool closing;        /* tm_worker_close is under way */
    bool closed;
};

static void worker_main(void *arg)
{
    struct tm_worker *w = arg;
    uv_mutex_lock(&w->mu);
    for (;;) {
        while (w->waiting.head == NULL && !w->ending)
            uv_cond_wait(&w->work_ready, &w->mu);
        struct tm_worker_job *job = list_pop(&w->waiting);
        if (job == NULL)
            break; /* ending, and nothing waits */
        w->n_waiting--;
        uv_cond_signal(&w->room_ready);
        uv_mutex_unlock(&w->mu);
        bool report = job->done != NULL; /* else run may have freed the job */
        job->run(job);
        uv_mutex_lock(&w->mu);
        if (report) {
            list_push(&w->ran, job);
            /* Fails only for a closing handle, and close waits for this thread. */
            (void)uv_async_send(&w->ran_signal);
        }
    }
    uv_mutex_unlock(&w->mu);
}

/* Calls `done` of the jobs that ran, in order. A `done` may close the
 * worker: the close reports the rest, and this loop stops. */
static void report_ran(struct tm_worker *w)
{
    while (!w->closed) {
        uv_mutex_lock(&w->mu);
        struct tm_worker_job *job = list_pop(&w->ran);
        uv_mutex_unlock(&w->mu);
        if (job == NULL)
            return;
        if (--w->n_unreported == 0)
            uv_unref((uv_handle_t *)&w->ran_signal);
        job->done(job);
    }
}

static void on_ran(uv_async_t *a)
{
    report_ran(a->data);
}

static void on_closed(uv_handle_t *h)
{
    struct tm_worker *w = h->data;
    uv_cond_destroy(&w->room_ready);
    uv_cond_destroy(&w->work_ready);
    uv_mutex_destroy(&w->mu);
    free(w);
}

int tm_worker_new(uv_loop_t *loop, size_t max_waiting, struct tm_worker **out, struct tm_error *err)
{
    *out = NULL;
    struct tm_worker *w = calloc(1, sizeof *w);
    if (w == NULL)
        return tm_error_set(err, TM_ENOMEM, "%s", tm_strerror(TM_ENOMEM));
    w->max_waiting = max_waiting > 0 ? max_waiting : 1;
    int rc = uv_mutex_init(&w->mu);
    if (rc == 0 && (rc = uv_cond_init(&w->work_ready)) < 0)
        uv_mutex_destroy(&w->mu);
    if (rc == 0 && (rc = uv_cond_init(&w->room_ready)) < 0) {
        uv_cond_destroy(&w->work_ready);
        uv_mutex_destroy(&w->mu);
    }
    if (rc < 0) {
        free(w);
        return tm_error_set(err, TM_EIO, "worker: %s", uv_strerror(rc));
    }
    rc = uv_async_init(loop, &w->ran_signal, on_ran);
    if (rc < 0) {
        uv_cond_destroy(&w->room_ready);
        uv_cond_destroy(&w->work_ready);
        uv_mutex_destroy(&w->mu);
        free(w);
        return tm_error_set(err, TM_EIO, "worker: %s", uv_strerror(rc));
    }
    w->ran_signal.data = w;
    uv_unref((uv_handle_t *)&w->ran_signal); /* nothing to wait for yet */
    rc = uv_thread_create(&w->thread, worker_main, w);
    if (rc < 0) {
        w->closed = true;
        uv_close((uv_handle_t *)&w->ran_signal, on_closed);
        return tm_error_set(err, TM_EIO, "worker thread: %s", uv_strerror(rc));
    }
    *out = w;
    return 0;
}

void tm_worker_submit(struct tm_worker *w, struct tm_worker_job *job)
{
    if (job->done != NULL && w->n_unreported++ == 0)
        uv_ref((uv_handle_t *)&w->ran_signal);
    uv_mutex_lock(&w->mu);
    while (w->n_waiting >= w->max_waiting)
        uv_cond_wait(&w->room_ready, &w->mu);
    list_push(&w->waiting, job);
    w->n_waiting++;
    uv_cond_signal(&w->work_ready);
    uv_mutex_unlock(&w->mu);
}

void tm_worker_close(struct tm_worker *w)
{
    if (w == NULL || w->closing)
        return; /* called again from a done this close reports */
    w->closing = true;
    uv_mutex_lock(&w->mu);
    w->ending = true;
    uv_cond_signal(&w->work_ready);
    uv_mutex_unlock(&w->mu);
    (void)uv_thread_join(&w->thread); /* fails only for a thread that is not joinable */
    report_ran(w);
    w->closed = true;
    uv_close((uv_handle_t *)&w->ran_signal, on_closed);
}
