/* tinmoi check [-c PATH]: validate the config and the source list (SPEC §3).
 *
 * Problems go to stdout, one "FILE:LINE: message" a line, like a compiler's,
 * so editors and CI can jump to them; the exit code says whether there were
 * any. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
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

/* Declared here as well as in cmd.h, so this file stands on its own. */
int tm_cmd_check(int argc, char **argv);

int tm_cmd_check(int argc, char **argv)
{
    const char *path = TM_DEFAULT_CONFIG;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            check_usage(stdout);
            return TM_EXIT_OK;
        }
        if (strcmp(a, "--version") == 0) {
            printf("tinmoi %s\n", TINMOI_VERSION);
            return TM_EXIT_OK;
        }
        if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "tinmoi check: %s needs a path\n", a);
                check_usage(stderr);
                return TM_EXIT_USAGE;
            }
            path = argv[++i];
            continue;
        }
        if (strncmp(a, "--config=", 9) == 0) {
            path = a + 9;
            continue;
        }
        fprintf(stderr, "tinmoi check: unexpected argument '%s'\n", a);
        check_usage(stderr);
        return TM_EXIT_USAGE;
    }

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
    for (size_t i = 0; i < problems.n; i++) {
        const struct tm_config_problem *p = &problems.v[i];
        if (p->line > 0)
            printf("%s:%d: %s\n", p->file, p->line, p->message);
        else
            printf("%s: %s\n", p->file, p->message);
    }
    fprintf(stderr, "tinmoi check: %zu problem%s\n", problems.n, problems.n == 1 ? "" : "s");
    tm_config_problems_clear(&problems);
    return TM_EXIT_FAIL;
}
