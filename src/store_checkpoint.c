/* tinmoi — the store's WAL checkpoints, on a thread of their own. */
#include "store_checkpoint_int.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "tinmoi/log.h"

/* How long the checkpointer's connection waits for a lock while it opens
 * the database. A PASSIVE checkpoint itself never waits: when another
 * connection is checkpointing (an operator's `PRAGMA wal_checkpoint`, a
 * backup) the run ends at once with SQLITE_BUSY, and the next poke tries
 * again. */
#define CHECKPOINT_BUSY_TIMEOUT_MS 1000

struct tm_checkpointer {
    sqlite3 *db;
    char *path; /* for messages */
    uv_thread_t thread;
    uv_mutex_t mu;  /* guards wanted, running, ending and stats */
    uv_cond_t wake; /* wanted or ending was set */
    uv_cond_t idle; /* a run ended with no poke waiting */
    bool wanted;    /* a poke came since the last run began */
    bool running;   /* a checkpoint is under way */
    bool ending;    /* tm_checkpointer_stop: finish and return */
    bool failing;   /* the last run failed (logged once until one succeeds) */
    struct tm_checkpointer_stats stats;
};

/* One PASSIVE checkpoint; logs the first failure of a run of them and the
 * recovery, not every poke's. Another connection's checkpoint (BUSY) is no
 * fault of the database: a notice. */
static void run_once(struct tm_checkpointer *c)
{
    int n_log = -1, n_copied = -1;
    int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &n_log, &n_copied);
    bool failed = rc != SQLITE_OK;
    if (failed && !c->failing)
        tm_log((rc & 0xff) == SQLITE_BUSY ? TM_LOG_NOTICE : TM_LOG_WARNING,
               "store: %s: WAL checkpoint: %s (the -wal file grows until one succeeds; nothing "
               "is lost)",
               c->path, sqlite3_errmsg(c->db));
    else if (!failed && c->failing)
        tm_log(TM_LOG_NOTICE, "store: %s: WAL checkpoints succeed again", c->path);
    c->failing = failed;
    uv_mutex_lock(&c->mu);
    c->stats.runs++;
    c->stats.failures += failed;
    /* A reader on an older snapshot (another process) keeps the frames
     * after its snapshot from being copied: the run succeeds, in part. */
    c->stats.last_failed = failed;
    c->stats.last_whole = !failed && n_log >= 0 && n_copied == n_log;
    c->stats.last_wal_pages = n_log;
    uv_mutex_unlock(&c->mu);
}

static void checkpointer_main(void *arg)
{
    struct tm_checkpointer *c = arg;
    uv_mutex_lock(&c->mu);
    for (;;) {
        while (!c->wanted && !c->ending)
            uv_cond_wait(&c->wake, &c->mu);
        if (c->ending)
            break; /* the closing connection checkpoints what is left */
        c->wanted = false;
        c->running = true;
        uv_mutex_unlock(&c->mu);
        run_once(c);
        uv_mutex_lock(&c->mu);
        c->running = false;
        if (!c->wanted)
            uv_cond_broadcast(&c->idle);
    }
    uv_mutex_unlock(&c->mu);
}

/* sqlite3_exec's row callback for PRAGMA journal_mode: copies the mode. */
static int on_mode_row(void *arg, int n_cols, char **values, char **names)
{
    (void)names;
    char *mode = arg;
    if (n_cols > 0 && values[0] != NULL)
        snprintf(mode, 16, "%s", values[0]);
    return 0;
}

int tm_checkpointer_start(const char *path, struct tm_checkpointer **out, struct tm_error *err)
{
    *out = NULL;
    struct tm_checkpointer *c = calloc(1, sizeof *c);
    if (c == NULL)
        return tm_error_set(err, TM_ENOMEM, "%s", tm_strerror(TM_ENOMEM));
    if (uv_mutex_init(&c->mu) != 0) {
        free(c);
        return tm_error_set(err, TM_ENOMEM, "cannot make the checkpointer's lock");
    }
    if (uv_cond_init(&c->wake) != 0) {
        uv_mutex_destroy(&c->mu);
        free(c);
        return tm_error_set(err, TM_ENOMEM, "cannot make the checkpointer's condition");
    }
    if (uv_cond_init(&c->idle) != 0) {
        uv_cond_destroy(&c->wake);
        uv_mutex_destroy(&c->mu);
        free(c);
        return tm_error_set(err, TM_ENOMEM, "cannot make the checkpointer's condition");
    }
    c->stats.last_whole = true; /* nothing asked yet: nothing left behind */
    /* No SQLITE_OPEN_CREATE: the store's own connection made the file. */
    int code;
    c->path = strdup(path);
    if (c->path == NULL) {
        code = tm_error_set(err, TM_ENOMEM, "%s", tm_strerror(TM_ENOMEM));
        goto fail;
    }
    int rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(c->db, CHECKPOINT_BUSY_TIMEOUT_MS);
    if (rc != SQLITE_OK) {
        code = tm_error_set(err, TM_ESTORE, "%s: checkpointer: %s", path,
                            c->db != NULL ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        goto fail;
    }
    /* A connection learns that the database is in WAL mode when it first
     * reads it; until then a checkpoint does nothing. Read it, then make
     * sure (the store's connection set the mode; this one never changes
     * it). */
    char mode[16] = "";
    if (sqlite3_exec(c->db, "PRAGMA schema_version", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(c->db, "PRAGMA journal_mode", on_mode_row, mode, NULL) != SQLITE_OK) {
        code = tm_error_set(err, TM_ESTORE, "%s: checkpointer: %s", path, sqlite3_errmsg(c->db));
        goto fail;
    }
    if (strcmp(mode, "wal") != 0) {
        code = tm_error_set(err, TM_ESTORE, "%s: checkpointer: the journal mode is %s, not wal",
                            path, mode[0] != '\0' ? mode : "unknown");
        goto fail;
    }
    /* This connection never checkpoints on its own, nor at close: the
     * store's connection closes last and checkpoints what is left. */
    if (sqlite3_wal_autocheckpoint(c->db, 0) != SQLITE_OK ||
        sqlite3_db_config(c->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL) != SQLITE_OK) {
        code = tm_error_set(err, TM_ESTORE, "%s: checkpointer: %s", path, sqlite3_errmsg(c->db));
        goto fail;
    }
    if (uv_thread_create(&c->thread, checkpointer_main, c) != 0) {
        code = tm_error_set(err, TM_ENOMEM, "%s: cannot start the checkpointer's thread", path);
        goto fail;
    }
    *out = c;
    return 0;
fail:
    sqlite3_close(c->db);
    free(c->path);
    uv_cond_destroy(&c->idle);
    uv_cond_destroy(&c->wake);
    uv_mutex_destroy(&c->mu);
    free(c);
    return code;
}

void tm_checkpointer_poke(struct tm_checkpointer *c)
{
    uv_mutex_lock(&c->mu);
    c->wanted = true;
    uv_cond_signal(&c->wake);
    uv_mutex_unlock(&c->mu);
}

void tm_checkpointer_wait(struct tm_checkpointer *c)
{
    uv_mutex_lock(&c->mu);
    while ((c->wanted || c->running) && !c->ending)
        uv_cond_wait(&c->idle, &c->mu);
    uv_mutex_unlock(&c->mu);
}

void tm_checkpointer_stop(struct tm_checkpointer *c)
{
    if (c == NULL)
        return;
    uv_mutex_lock(&c->mu);
    c->ending = true;
    uv_cond_signal(&c->wake);
    uv_cond_broadcast(&c->idle); /* a waiter returns: nothing more will run */
    uv_mutex_unlock(&c->mu);
    (void)uv_thread_join(&c->thread); /* fails only for a thread not joinable: ours is */
    (void)sqlite3_close(c->db);       /* no statement is open: cannot be refused */
    free(c->path);
    uv_cond_destroy(&c->idle);
    uv_cond_destroy(&c->wake);
    uv_mutex_destroy(&c->mu);
    free(c);
}

struct tm_checkpointer_stats tm_checkpointer_stats(struct tm_checkpointer *c)
{
    uv_mutex_lock(&c->mu);
    struct tm_checkpointer_stats s = c->stats;
    uv_mutex_unlock(&c->mu);
    return s;
}
