/* tinmoi run — the daemon in the foreground (systemd Type=notify). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "cmd_common.h"
#include "tinmoi/daemon.h"
#include "tinmoi/error.h"
#include "tinmoi/log.h"
#include "tinmoi/schedule.h"

/* The environment variable that lowers the polling floor, for tests only:
 * a config file can never poll more often than TM_SCHEDULE_MIN_INTERVAL_S. */
#define TM_RUN_MIN_INTERVAL_ENV "TINMOI_MIN_INTERVAL_S"
/* Likewise for the status publish period (TM_SCHEDULE_STATUS_PUBLISH_S), so
 * a test sees source status and /healthz move within seconds. */
#define TM_RUN_STATUS_PUBLISH_ENV "TINMOI_STATUS_PUBLISH_S"

static void usage(FILE *out)
{
    fprintf(out, "usage: tinmoi run [-c PATH]\n\n"
                 "Runs the daemon in the foreground: fetches each source on its own schedule,\n"
                 "publishes after changes, serves the outputs when [http] listen is set, and\n"
                 "notifies systemd (Type=notify). SIGHUP reloads the config and the source\n"
                 "list; SIGTERM or SIGINT stops.\n\n"
                 "  -c, --config PATH   configuration file (default " TM_DEFAULT_CONFIG ")\n"
                 "  -h, --help          this help\n"
                 "      --version       the program's version\n\n"
                 "Environment: " TM_RUN_MIN_INTERVAL_ENV "=N lowers the one-minute floor of every\n"
                 "polling interval to N seconds (1..60; for tests); " TM_RUN_STATUS_PUBLISH_ENV
                 "=N\npublishes source status every N seconds instead of every minute (1..60;\n"
                 "for tests).\n\n"
                 "Exit status: 0 stopped by a signal, 1 fatal error (config, lock, store,\n"
                 "output, listen address), 2 usage.\n");
}

/* Reads a number of seconds (1..60) from the environment variable `name`;
 * 0 when unset, -1 when malformed. */
static long seconds_from_env(const char *name)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0')
        return 0;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 1 || v > TM_SCHEDULE_MIN_INTERVAL_S)
        return -1;
    return v;
}

int tm_cmd_run(int argc, char **argv)
{
    const char *config_path = TM_DEFAULT_CONFIG;
    int code = tm_cmd_config_options(argc, argv, usage, &config_path, NULL);
    if (code != TM_CMD_GO)
        return code;
    long min_interval_s = seconds_from_env(TM_RUN_MIN_INTERVAL_ENV);
    long status_publish_s = seconds_from_env(TM_RUN_STATUS_PUBLISH_ENV);
    if (min_interval_s < 0 || status_publish_s < 0) {
        fprintf(stderr, "tinmoi: %s must be a number of seconds from 1 to %d\n",
                min_interval_s < 0 ? TM_RUN_MIN_INTERVAL_ENV : TM_RUN_STATUS_PUBLISH_ENV,
                TM_SCHEDULE_MIN_INTERVAL_S);
        return TM_EXIT_USAGE;
    }
    if (min_interval_s > 0)
        tm_log(TM_LOG_WARNING, "%s=%ld: polling floor lowered (tests only)",
               TM_RUN_MIN_INTERVAL_ENV, min_interval_s);
    if (status_publish_s > 0)
        tm_log(TM_LOG_WARNING, "%s=%ld: status published every %lds (tests only)",
               TM_RUN_STATUS_PUBLISH_ENV, status_publish_s, status_publish_s);
    struct tm_daemon_opts opts = {.config_path = config_path,
                                  .min_interval_s = min_interval_s,
                                  .status_publish_s = status_publish_s};
    return tm_daemon_run(&opts) == 0 ? TM_EXIT_OK : TM_EXIT_FAIL;
}
