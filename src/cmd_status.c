/* tinmoi status [-c PATH]: each configured source's state from the store
 * (SPEC §3), one line a source, in the order of the source list:
 *
 *   huyen-nhu-thanh  ok  items=42  last_success=2022-05-31T03:55:00Z  failures=0
 *   bo-xay-dung  error  items=7  last_success=never  failures=3  last_error="HTTP 503"
 *
 * Fields are `name=value` so the lines can be grepped and split; last_error
 * is quoted (with \" and \\ escaped) because it is free text, and left out
 * when the source has none. Read-only apart from creating an empty store
 * in an existing state_dir on first use. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "cmd_common.h"
#include "tinmoi/config.h"
#include "tinmoi/date.h"
#include "tinmoi/error.h"
#include "tinmoi/source.h"
#include "tinmoi/store.h"

static void status_usage(FILE *out)
{
    fprintf(out, "usage: tinmoi status [-c PATH]\n\n"
                 "Print each configured source's state from the store, one line a source:\n"
                 "id, status (ok, error, never), items stored, last success, consecutive\n"
                 "failures and the last error.\n\n"
                 "options:\n"
                 "  -c, --config PATH  the configuration file (default " TM_DEFAULT_CONFIG ")\n"
                 "  -h, --help         show this help\n"
                 "      --version      show the version\n");
}

static void print_quoted(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static void print_source(FILE *out, const char *id, const struct tm_source_state *st)
{
    char when[TM_DATE_RFC3339_LEN] = "never";
    if (st->last_success_utc != TM_TIME_NONE &&
        tm_date_format_rfc3339(st->last_success_utc, when) != 0)
        snprintf(when, sizeof when, "%lld", (long long)st->last_success_utc);
    fprintf(out, "%s  %s  items=%lld  last_success=%s  failures=%d", id,
            tm_source_status_name(st->status), (long long)st->item_count, when,
            st->consecutive_failures);
    if (st->last_error != NULL) {
        fputs("  last_error=", out);
        print_quoted(out, st->last_error);
    }
    fputc('\n', out);
}

int tm_cmd_status(int argc, char **argv)
{
    const char *path = TM_DEFAULT_CONFIG;
    int code = tm_cmd_config_options(argc, argv, status_usage, &path, NULL);
    if (code != TM_CMD_GO)
        return code;

    struct tm_config *cfg = NULL;
    if (tm_cmd_load_config(path, &cfg) != 0)
        return TM_EXIT_FAIL;
    struct tm_error err = {0};
    struct tm_store *store = NULL;
    if (tm_store_open(cfg->state_dir, &store, &err) != 0) {
        fprintf(stderr, "tinmoi status: %s\n",
                err.msg[0] != '\0' ? err.msg : tm_strerror(err.code));
        tm_config_free(cfg);
        return TM_EXIT_FAIL;
    }
    code = TM_EXIT_OK;
    for (size_t i = 0; i < cfg->n_sources; i++) {
        struct tm_source_state st;
        int rc = tm_store_source_state(store, cfg->sources[i].id, &st, &err);
        if (rc != 0) {
            fprintf(stderr, "tinmoi status: %s\n", err.msg[0] != '\0' ? err.msg : tm_strerror(rc));
            code = TM_EXIT_FAIL;
            break;
        }
        print_source(stdout, cfg->sources[i].id, &st);
        tm_source_state_clear(&st);
    }
    if (fflush(stdout) != 0) {
        perror("tinmoi status: stdout");
        code = TM_EXIT_FAIL;
    }
    tm_store_close(store);
    tm_config_free(cfg);
    return code;
}
