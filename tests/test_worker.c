/* Tests for worker.c: jobs run in order on the worker's thread, their
 * `done` on the loop's thread in the same order, the loop stays alive for
 * them, a full queue makes the submitter wait, and closing runs and
 * reports what is left (from a `done` too). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>
#include <uv.h>

#include "tinmoi/worker.h"

enum { N_JOBS = 200 };

struct fixture {
    uv_loop_t loop;
    struct tm_worker *w;
    uv_thread_t loop_thread;
    uv_mutex_t mu; /* guards ran_order and n_ran (the worker writes them) */
    int ran_order[N_JOBS];
    size_t n_ran;
    int done_order[N_JOBS];
    size_t n_done;
    size_t close_at_done; /* close the worker from the done of this job (0: never) */
    uv_sem_t *gate;       /* when set, a job's run waits on it */
};

struct job {
    struct tm_worker_job base;
    struct fixture *fx;
    int n;
    bool ran_off_loop;
};

static struct job *job_of(struct tm_worker_job *wj)
{
    return (struct job *)((char *)wj - offsetof(struct job, base));
}

static void on_run(struct tm_worker_job *wj)
{
    struct job *j = job_of(wj);
    struct fixture *fx = j->fx;
    if (fx->gate)
        uv_sem_wait(fx->gate);
    uv_thread_t self = uv_thread_self();
    j->ran_off_loop = !uv_thread_equal(&self, &fx->loop_thread);
    uv_mutex_lock(&fx->mu);
    fx->ran_order[fx->n_ran++] = j->n;
    uv_mutex_unlock(&fx->mu);
}

static void on_done(struct tm_worker_job *wj)
{
    struct job *j = job_of(wj);
    struct fixture *fx = j->fx;
    uv_thread_t self = uv_thread_self();
    assert_true(uv_thread_equal(&self, &fx->loop_thread));
    assert_true(j->ran_off_loop);
    fx->done_order[fx->n_done++] = j->n;
    if (fx->close_at_done != 0 && (size_t)j->n == fx->close_at_done) {
        tm_worker_close(fx->w);
        fx->w = NULL;
    }
    free(j);
}

/* The run of a job without a done: it frees itself. */
static void on_run_and_free(struct tm_worker_job *wj)
{
    on_run(wj);
    free(job_of(wj));
}

static struct job *new_job(struct fixture *fx, int n)
{
    struct job *j = calloc(1, sizeof *j);
    assert_non_null(j);
    j->base.run = on_run;
    j->base.done = on_done;
    j->fx = fx;
    j->n = n;
    return j;
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    assert_int_equal(uv_mutex_init(&fx->mu), 0);
    fx->loop_thread = uv_thread_self();
    struct tm_error err = {0};
    assert_int_equal(tm_worker_new(&fx->loop, 4, &fx->w, &err), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    tm_worker_close(fx->w);
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    uv_mutex_destroy(&fx->mu);
    free(fx);
    return 0;
}

static void assert_in_order(const int *order, size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_int_equal(order[i], (int)i + 1);
}

/* Many more jobs than the queue holds: the submitter waits for room (it
 * never loses a job), every job runs off the loop and is reported on it,
 * both in submission order, and uv_run returns only after the last done. */
static void test_jobs_in_order(void **state)
{
    struct fixture *fx = *state;
    for (int i = 1; i <= N_JOBS; i++) {
        tm_worker_submit(fx->w, &new_job(fx, i)->base);
        /* At most 4 wait, and one may be running: the rest have run. */
        uv_mutex_lock(&fx->mu);
        size_t ran = fx->n_ran;
        uv_mutex_unlock(&fx->mu);
        assert_true(ran + 4 + 1 >= (size_t)i);
    }
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(fx->n_done, N_JOBS);
    assert_int_equal(fx->n_ran, N_JOBS);
    assert_in_order(fx->ran_order, N_JOBS);
    assert_in_order(fx->done_order, N_JOBS);
}

/* An idle worker does not keep the loop alive. */
static void test_idle_loop_ends(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(fx->n_done, 0);
    tm_worker_submit(fx->w, &new_job(fx, 1)->base);
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(fx->n_done, 1);
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
}

/* Jobs without a done run in order among the others and free themselves
 * there; the loop does not wait for them (nothing is left to report), and
 * a close still runs the ones waiting. */
static void test_jobs_without_done(void **state)
{
    struct fixture *fx = *state;
    for (int n = 1; n <= 20; n++) {
        struct job *j = new_job(fx, n);
        if (n % 2 == 0) {
            j->base.run = on_run_and_free;
            j->base.done = NULL;
        }
        tm_worker_submit(fx->w, &j->base);
    }
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(fx->n_done, 10);
    for (size_t i = 0; i < fx->n_done; i++)
        assert_int_equal(fx->done_order[i], 2 * (int)i + 1);
    tm_worker_submit(fx->w, &new_job(fx, 21)->base);
    struct job *last = new_job(fx, 22);
    last->base.run = on_run_and_free;
    last->base.done = NULL;
    tm_worker_submit(fx->w, &last->base);
    tm_worker_close(fx->w);
    fx->w = NULL;
    assert_int_equal(fx->n_ran, 22);
    assert_in_order(fx->ran_order, 22);
    assert_int_equal(fx->n_done, 11);
}

static void open_gate_later(void *arg)
{
    uv_sleep(50);
    for (int i = 0; i < 4; i++)
        uv_sem_post(arg);
}

/* Closing with jobs waiting (the worker held at the first one): each
 * still runs and is reported, in order, before close returns. */
static void test_close_runs_what_waits(void **state)
{
    struct fixture *fx = *state;
    uv_sem_t gate;
    assert_int_equal(uv_sem_init(&gate, 0), 0);
    fx->gate = &gate;
    for (int i = 1; i <= 4; i++)
        tm_worker_submit(fx->w, &new_job(fx, i)->base);
    /* The gate opens only after close has begun: the jobs are waiting. */
    uv_thread_t opener;
    assert_int_equal(uv_thread_create(&opener, open_gate_later, &gate), 0);
    tm_worker_close(fx->w);
    fx->w = NULL;
    assert_int_equal(fx->n_done, 4);
    assert_in_order(fx->done_order, 4);
    assert_int_equal(uv_thread_join(&opener), 0);
    fx->gate = NULL;
    uv_sem_destroy(&gate);
}

/* A done that closes the worker: the rest are reported by the close, none
 * twice, and the loop then ends with the worker's handle closed. */
static void test_close_from_done(void **state)
{
    struct fixture *fx = *state;
    fx->close_at_done = 3;
    for (int i = 1; i <= 10; i++)
        tm_worker_submit(fx->w, &new_job(fx, i)->base);
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
    assert_null(fx->w);
    assert_int_equal(fx->n_done, 10);
    assert_in_order(fx->done_order, 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_jobs_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_loop_ends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_runs_what_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_from_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jobs_without_done, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
