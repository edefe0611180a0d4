/* tinmoi — one writer per state_dir.
 *
 * `tinmoi run` and `tinmoi once` both write the store and out_dir, so each
 * holds an exclusive flock(2) on state_dir/TM_STATE_LOCK_FILENAME while it
 * runs. The kernel releases it when the process dies, so a crash never
 * leaves a stale lock; the file holds the owner's pid for the message the
 * refused one prints. Readers (`tinmoi status`) take no lock. */
#ifndef TINMOI_STATE_LOCK_H
#define TINMOI_STATE_LOCK_H

#include "tinmoi/error.h"

/* The lock file inside state_dir. */
#define TM_STATE_LOCK_FILENAME "tinmoi.lock"

/* Takes the lock of `state_dir` and sets *fd to the descriptor that holds
 * it (close it to release; it is O_CLOEXEC). Returns 0; TM_EBUSY when
 * another process holds it ("another tinmoi is running on DIR (pid N)");
 * TM_EINVAL for a path too long; TM_EIO when the file cannot be opened or
 * locked. `err` says which. */
int tm_state_lock(const char *state_dir, int *fd, struct tm_error *err);

#endif
