/* tinmoi once — one full cycle: fetch every source, store, merge, publish. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "cmd.h"
#include "cmd_common.h"
#include "tinmoi/harvest.h"
#include "tinmoi/log.h"
#include "tinmoi/refresh.h"
#include "tinmoi/state_lock.h"

struct cycle {
    size_t n_ok;
    size_t n_failed;
    size_t n_gone;
    size_t n_new;
};

static void on_harvest_done(void *ud, const struct tm_harvest_outcome *o)
{
    struct cycle *c = ud;
    if (o->ok) {
        c->n_ok++;
        c->n_new += o->new_items;
    } else {
        c->n_failed++;
    }
}

static void on_fetcher_closed(void *ud)
{
    (void)ud;
}

/* Fetches every configured source on one loop and waits for all of them. */
static int harvest_all(const struct tm_config *cfg, struct tm_store *store, struct cycle *c)
{
    uv_loop_t loop;
    int rc = uv_loop_init(&loop);
    if (rc < 0) {
        tm_log(TM_LOG_ERR, "uv_loop_init: %s", uv_strerror(rc));
        return -1;
    }
    struct tm_fetch_limits limits = tm_fetch_limits_of(cfg);
    struct tm_error err = {0};
    struct tm_fetcher *fetcher = NULL;
    struct tm_harvester *harvester = NULL;
    int result = 0;
    if (tm_fetcher_new(&loop, &limits, &fetcher, &err) < 0) {
        tm_log(TM_LOG_ERR, "fetcher: %s", err.msg);
        result = -1;
        goto close_loop;
    }
    if (tm_harvester_new(&loop, fetcher, store, on_harvest_done, c, &harvester, &err) < 0) {
        tm_log(TM_LOG_ERR, "harvester: %s", err.msg);
        result = -1;
        goto close_fetcher;
    }
    for (size_t i = 0; i < cfg->n_sources; i++) {
        int rc_start = tm_harvest_start(harvester, &cfg->sources[i], &err);
        if (rc_start == TM_ENOENT) {
            c->n_gone++; /* stopped by a 410 for this URL: not polled */
            tm_log(TM_LOG_NOTICE, "source %s: %s", cfg->sources[i].id, err.msg);
        } else if (rc_start < 0) {
            c->n_failed++;
            tm_log(TM_LOG_WARNING, "source %s: error: %s", cfg->sources[i].id, err.msg);
        }
    }
    /* UV_RUN_DEFAULT returns once no handle is active: every transfer has
     * called back. It has no error to report; uv_loop_close below says
     * whether anything was left open. */
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    tm_harvester_free(harvester);
close_fetcher:
    tm_fetcher_close(fetcher, on_fetcher_closed, NULL);
    (void)uv_run(&loop, UV_RUN_DEFAULT);
close_loop:
    rc = uv_loop_close(&loop);
    if (rc < 0) {
        tm_log(TM_LOG_ERR, "uv_loop_close: %s", uv_strerror(rc));
        result = -1;
    }
    return result;
}

/* Prints where the outputs are and the "Tin mới nhất" box they now hold. */
static void print_summary(const struct tm_config *cfg, const struct tm_publish_result *res,
                          const struct cycle *c)
{
    printf("tinmoi: %zu sources ok, %zu failed, %zu gone (410, not polled), %zu new items; "
           "%zu of %zu files changed in %s\n",
           c->n_ok, c->n_failed, c->n_gone, c->n_new, res->n_changed, res->n_files, cfg->out_dir);
    for (size_t i = 0; i < res->n_files; i++)
        printf("  %s/%s%s\n", cfg->out_dir, res->files[i].name,
               res->files[i].changed ? "" : " (unchanged)");
    printf("\n%s\n", cfg->title);
    for (size_t i = 0; i < res->n_latest; i++) {
        const struct tm_published_headline *h = &res->latest[i];
        printf("  %s(%s)\n", h->title ? h->title : "", h->display_date ? h->display_date : "");
    }
}

static void usage(FILE *out)
{
    fprintf(out, "usage: tinmoi once [-c PATH]\n\n"
                 "Runs one full cycle: fetches every source, stores the items, merges the same\n"
                 "story from several sources, publishes the Atom feeds and the JSON snapshot.\n\n"
                 "  -c, --config PATH   configuration file (default " TM_DEFAULT_CONFIG ")\n"
                 "  -q, --quiet         print nothing on success\n"
                 "  -h, --help          this help\n"
                 "      --version       the program's version\n\n"
                 "Exit status: 0 published (even if some sources failed), 1 fatal error\n"
                 "(config, store, output), 2 usage.\n");
}

int tm_cmd_once(int argc, char **argv)
{
    const char *config_path = TM_DEFAULT_CONFIG;
    bool quiet = false;
    int code = tm_cmd_config_options(argc, argv, usage, &config_path, &quiet);
    if (code != TM_CMD_GO)
        return code;

    struct tm_config *cfg = NULL;
    if (tm_cmd_load_config(config_path, &cfg) < 0)
        return TM_EXIT_FAIL;
    /* Refuse before any fetch: a cycle that cannot publish must not change
     * the store either. */
    if (tm_cmd_check_dir("out_dir", cfg->out_dir) < 0) {
        tm_config_free(cfg);
        return TM_EXIT_FAIL;
    }
    /* One writer per state_dir: not beside a running daemon or another
     * once (they would interleave the store's writes and the outputs). */
    struct tm_error err = {0};
    int lock_fd = -1;
    if (tm_state_lock(cfg->state_dir, &lock_fd, &err) < 0) {
        tm_log(TM_LOG_ERR, "%s", err.msg);
        tm_config_free(cfg);
        return TM_EXIT_FAIL;
    }
    struct tm_store *store = NULL;
    if (tm_store_open(cfg->state_dir, &store, &err) < 0) {
        tm_log(TM_LOG_ERR, "%s", err.msg);
        close(lock_fd);
        tm_config_free(cfg);
        return TM_EXIT_FAIL;
    }
    code = TM_EXIT_FAIL;
    if (tm_store_sync_sources(store, cfg->sources, cfg->n_sources, &err) < 0) {
        tm_log(TM_LOG_ERR, "%s", err.msg);
        goto out;
    }
    CURLcode cc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (cc != CURLE_OK) {
        tm_log(TM_LOG_ERR, "curl_global_init: %s", curl_easy_strerror(cc));
        goto out;
    }
    struct cycle c = {0};
    if (harvest_all(cfg, store, &c) < 0)
        goto cleanup_curl;
    struct tm_publish_result res = {0};
    struct tm_refresh_stats stats = {0};
    if (tm_refresh(store, cfg, (int64_t)time(NULL), &res, &stats, &err) < 0) {
        tm_log(TM_LOG_ERR, "publish: %s", err.msg);
        goto cleanup_curl;
    }
    if (stats.merge_pairs_dropped > 0)
        tm_log(TM_LOG_WARNING,
               "merge: %zu similar-title pairs past the limit were not compared; some stories "
               "may be shown twice",
               stats.merge_pairs_dropped);
    tm_log(TM_LOG_INFO, "published %zu files (%zu changed): %zu stories from %zu items",
           res.n_files, res.n_changed, stats.n_stories, stats.n_items);
    if (!quiet)
        print_summary(cfg, &res, &c);
    tm_publish_result_clear(&res);
    code = TM_EXIT_OK;
cleanup_curl:
    curl_global_cleanup();
out:
    tm_store_close(store);
    close(lock_fd);
    tm_config_free(cfg);
    return code;
}
