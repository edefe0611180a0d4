/* tinmoi — the store's WAL checkpoints, on a thread of their own.
 *
 * In WAL mode every commit appends pages to the -wal file, and a
 * checkpoint copies them back into the database and ends in two fsyncs
 * (the WAL's, the database's). Run by the committing connection, as
 * SQLite's automatic checkpoint does, those fsyncs stall whoever commits:
 * the harvester's writer thread, and through its full queue the loop
 * (bench/cycle.sh, 10,000 sources: 16 checkpoints, 1.3 s of fsync on the
 * writer, the loop held up 1.7 s; docs/PERFORMANCE.md).
 *
 * The checkpointer is a second connection to the same database on its own
 * thread. The store's connection tells it when the WAL has grown
 * (tm_checkpointer_poke, from SQLite's WAL hook after a commit); it runs a
 * PASSIVE checkpoint, which takes no lock a writer or a reader waits for.
 *
 * SQLite starts the WAL over (and journal_size_limit trims the file) only
 * in a write transaction whose snapshot began after a checkpoint copied
 * the whole WAL. Commits that follow each other closely always begin
 * their next transaction while the checkpointer is still copying, so the
 * store waits for it (tm_checkpointer_wait) before a transaction once the
 * WAL has grown past a bound of its own. Internal to store.c. */
#ifndef TINMOI_STORE_CHECKPOINT_INT_H
#define TINMOI_STORE_CHECKPOINT_INT_H

#include <stdbool.h>

#include "tinmoi/error.h"

struct tm_checkpointer;

/* Opens a second connection to the WAL-mode database at `path` and starts
 * its thread. Caller stops it with tm_checkpointer_stop before closing its
 * own connection. */
int tm_checkpointer_start(const char *path, struct tm_checkpointer **out, struct tm_error *err);

/* Asks for a checkpoint (any thread; cheap: a flag and a signal). Pokes
 * while one runs make one more run after it. */
void tm_checkpointer_poke(struct tm_checkpointer *c);

/* Returns once every poke so far has had its checkpoint run. With no
 * commit in between, the last one copied the whole WAL. */
void tm_checkpointer_wait(struct tm_checkpointer *c);

/* Waits for the checkpoint under way, if any, ends the thread and closes
 * the connection. NULL does nothing. */
void tm_checkpointer_stop(struct tm_checkpointer *c);

/* Checkpoints run so far, those refused, and what the last one left. */
struct tm_checkpointer_stats {
    unsigned long runs;
    unsigned long failures;
    bool last_failed;   /* the last run was refused (logged by the checkpointer) */
    bool last_whole;    /* it copied the whole WAL (true before any run) */
    int last_wal_pages; /* the WAL's pages it saw (-1: it could not run) */
};
struct tm_checkpointer_stats tm_checkpointer_stats(struct tm_checkpointer *c);

#endif
