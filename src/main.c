/* tinmoi — the program: picks a sub-command and hands it the arguments. */
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>
#include <sqlite3.h>

#include "cmd.h"
#include "tinmoi/heap.h"
#include "tinmoi/log.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"run", tm_cmd_run, "the daemon, in the foreground (systemd Type=notify)"},
    {"once", tm_cmd_once, "one full cycle: fetch, store, merge, publish, then exit"},
    {"parse", tm_cmd_parse, "parse one feed document and print its normalised JSON"},
    {"check", tm_cmd_check, "validate the config and the source list"},
    {"status", tm_cmd_status, "per-source state from the store"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: tinmoi [--help] [--version] <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'tinmoi <command> --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    tm_heap_init();
    /* libxml2 2.9 wants its first initialisation on one thread, before any
     * other: feeds are parsed on the loop and the harvester's parser
     * thread, the Atom files written on the refresh's publish thread. */
    xmlInitParser();
    /* SQLite's memory statistics take a global mutex around every one of
     * its allocations, on the writer thread and the loop alike; nothing
     * here reads them. Set before SQLite initialises; refused after. */
    if (sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK)
        tm_log(TM_LOG_WARNING, "sqlite3_config: SQLite was initialised already; "
                               "its memory statistics stay on");
    if (argc < 2) {
        usage(stderr);
        return TM_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return TM_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("tinmoi %s\n", TINMOI_VERSION);
        return TM_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "tinmoi: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return TM_EXIT_USAGE;
}
