/* tinmoi — helpers shared by the sub-commands. */
#include "cmd_common.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "tinmoi/error.h"
#include "tinmoi/log.h"

int tm_cmd_config_options(int argc, char **argv, void (*usage)(FILE *out), const char **config_path,
                          bool *quiet)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, quiet ? "c:qh" : "c:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            *config_path = optarg;
            break;
        case 'q':
            if (quiet == NULL) {
                usage(stderr);
                return TM_EXIT_USAGE;
            }
            *quiet = true;
            break;
        case 'h':
            usage(stdout);
            return TM_EXIT_OK;
        case 'V':
            printf("tinmoi %s\n", TINMOI_VERSION);
            return TM_EXIT_OK;
        default:
            usage(stderr);
            return TM_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "tinmoi %s: unexpected argument '%s'\n", argv[0], argv[optind]);
        usage(stderr);
        return TM_EXIT_USAGE;
    }
    return TM_CMD_GO;
}

void tm_cmd_print_problems(FILE *out, const struct tm_config_problems *problems)
{
    for (size_t i = 0; i < problems->n; i++) {
        const struct tm_config_problem *p = &problems->v[i];
        if (p->line > 0)
            fprintf(out, "%s:%d: %s\n", p->file, p->line, p->message);
        else
            fprintf(out, "%s: %s\n", p->file, p->message);
    }
}

int tm_cmd_load_config(const char *path, struct tm_config **out)
{
    struct tm_config_problems problems = {0};
    int rc = tm_config_load(path, out, &problems);
    if (rc < 0) {
        if (problems.n)
            tm_cmd_print_problems(stderr, &problems);
        else
            fprintf(stderr, "%s: %s\n", path, tm_strerror(rc));
        tm_config_problems_clear(&problems);
        return -1;
    }
    tm_config_problems_clear(&problems);
    return 0;
}

int tm_cmd_check_dir(const char *what, const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        tm_log(TM_LOG_ERR, "%s %s: %s", what, path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        tm_log(TM_LOG_ERR, "%s %s: not a directory", what, path);
        return -1;
    }
    if (access(path, W_OK | X_OK) < 0) {
        tm_log(TM_LOG_ERR, "%s %s: %s", what, path, strerror(errno));
        return -1;
    }
    return 0;
}
