/* tinmoi — one writer per state_dir (see state_lock.h). */
#include "tinmoi/state_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* Room for a state_dir path and the lock file's name. */
#define STATE_LOCK_MAX_PATH 4096

int tm_state_lock(const char *state_dir, int *fd_out, struct tm_error *err)
{
    *fd_out = -1;
    char path[STATE_LOCK_MAX_PATH];
    int n = snprintf(path, sizeof path, "%s/%s", state_dir, TM_STATE_LOCK_FILENAME);
    if (n < 0 || (size_t)n >= sizeof path)
        return tm_error_set(err, TM_EINVAL, "state_dir %s: path too long", state_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return tm_error_set(err, TM_EIO, "state_dir %s: %s", state_dir, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        char buf[32] = {0};
        ssize_t r = pread(fd, buf, sizeof buf - 1, 0);
        long pid = r > 0 ? strtol(buf, NULL, 10) : 0;
        close(fd);
        if (e == EWOULDBLOCK)
            return tm_error_set(err, TM_EBUSY, "another tinmoi is running on %s (pid %ld)",
                                state_dir, pid);
        return tm_error_set(err, TM_EIO, "lock %s: %s", path, strerror(e));
    }
    char buf[32];
    int len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
        int e = errno;
        close(fd);
        return tm_error_set(err, TM_EIO, "lock %s: writing the pid: %s", path, strerror(e));
    }
    *fd_out = fd;
    return 0;
}
