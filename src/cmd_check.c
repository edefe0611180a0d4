/* tinmoi check [-c PATH]: validate the config and the source list (SPEC §3).
 *
 * Problems go to stdout, one "FILE:LINE: message" a line, like a compiler's,
 * so editors and CI can jump to them; the exit code says whether there were
 * any. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "cmd_common.h"
#include "tinmoi/config.h"
#include "tinmoi/error.h"

static void check_usage(FILE *out)
{
    fprintf(out, "usage: tinmoi check [-c PATH]\n\n"
                 "Validate the configuration and the OPML source list it names; print each\n"
                 "problem as FILE:LINE: message. Exit 0 when there is none, 1 otherwise.\n\n"
                 "options:\n"
                 "  -c, --config PATH  the configuration file (default " TM_DEFAULT_CONFIG ")\n"
                 "  -h, --help         show this help\n"
                 "      --version      show the version\n");
}

int tm_cmd_check(int argc, char **argv)
{
    const char *path = TM_DEFAULT_CONFIG;
    int code = tm_cmd_config_options(argc, argv, check_usage, &path, NULL);
    if (code != TM_CMD_GO)
        return code;

    struct tm_config *cfg = NULL;
    struct tm_config_problems problems = {0};
    int rc = tm_config_load(path, &cfg, &problems);
    if (rc == 0) {
        printf("%s: ok, %zu source%s\n", path, cfg->n_sources, cfg->n_sources == 1 ? "" : "s");
        tm_config_free(cfg);
        return TM_EXIT_OK;
    }
    if (rc != TM_ECONFIG) {
        fprintf(stderr, "tinmoi check: %s: %s\n", path, tm_strerror(rc));
        tm_config_problems_clear(&problems);
        return TM_EXIT_FAIL;
    }
    tm_cmd_print_problems(stdout, &problems);
    fprintf(stderr, "tinmoi check: %zu problem%s\n", problems.n, problems.n == 1 ? "" : "s");
    tm_config_problems_clear(&problems);
    return TM_EXIT_FAIL;
}
