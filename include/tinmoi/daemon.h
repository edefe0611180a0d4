/* tinmoi — the daemon (`tinmoi run`, SPEC §3, §9, issue 4): one libuv loop
 * that fetches each source on its own schedule, publishes after changes,
 * serves the outputs, and talks to systemd.
 *
 * Wiring (left to right, STYLE.md): schedule decides when, the harvester
 * (fetch → parse → store) reports each outcome to the daemon, which stores
 * the next due time and arms ONE coalescing publish timer; the publish
 * (store → merge → publish, tm_refresh) hands the files to the server.
 *
 * Scheduling structure: one uv_timer armed for the earliest due source,
 * found by a linear scan of the sources each time it fires or an outcome
 * arrives. A heap would make that O(log n), but the scan is a few
 * microseconds at 10,000 sources and wake-ups are at most a few a second
 * (due times are whole seconds), so the simpler structure wins.
 *
 * Publishing: an item change publishes within TM_SCHEDULE_PUBLISH_COALESCE_MS
 * (coalesced); source status alone (and an idle loop) publishes once per
 * TM_SCHEDULE_STATUS_PUBLISH_S, so the snapshot's and the status page's
 * source status stay fresh and /healthz (stale after
 * TM_SCHEDULE_STALE_AFTER_S) sees a live loop through a quiet hour.
 *
 * Signals: SIGHUP re-reads the config and the source list (a config with
 * problems is logged and the old one kept); SIGTERM and SIGINT stop:
 * no new transfers, in-flight ones cancelled, every handle closed, the
 * store closed, and tm_daemon_run returns 0. */
#ifndef TINMOI_DAEMON_H
#define TINMOI_DAEMON_H

#include <stdint.h>

struct tm_daemon_opts {
    const char *config_path; /* tinmoi.conf */
    /* Floor of every polling interval, in seconds; 0 means
     * TM_SCHEDULE_MIN_INTERVAL_S. Only tests lower it (cmd_run reads
     * TINMOI_MIN_INTERVAL_S). */
    int64_t min_interval_s;
    /* Period of status-only and idle publishes, in seconds; 0 means
     * TM_SCHEDULE_STATUS_PUBLISH_S. Only tests lower it (cmd_run reads
     * TINMOI_STATUS_PUBLISH_S). */
    int64_t status_publish_s;
};

/* Runs the daemon in the foreground until SIGTERM or SIGINT. Logs every
 * event itself (tm_log). Returns 0 after a clean stop; TM_ECONFIG when the
 * config cannot be loaded (problems logged as FILE:LINE: message); TM_EBUSY
 * when another tinmoi holds the lock on state_dir (logged as "another
 * tinmoi is running on STATE_DIR (pid N)"); TM_EIO, TM_ESTORE, TM_ENOMEM,
 * TM_EFETCH for a fatal start-up failure (state_dir, store, first publish,
 * HTTP listen address, loop). Calls curl_global_init/cleanup itself: call
 * it before any thread exists. */
int tm_daemon_run(const struct tm_daemon_opts *opts);

#endif
