/* tinmoi — what several sub-commands share: loading the config with its
 * problems reported, checking output folders, printing the latest box. */
#ifndef TINMOI_CMD_COMMON_H
#define TINMOI_CMD_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "tinmoi/config.h"

/* tm_cmd_config_options' answer when the sub-command should carry on. */
#define TM_CMD_GO (-1)

/* The options of every sub-command that reads the config: -c/--config PATH
 * (sets *config_path; default TM_DEFAULT_CONFIG is the caller's), -h/--help
 * and --version, and -q/--quiet when `quiet` is not NULL. No operands.
 * Returns TM_CMD_GO, or the exit code to return at once: TM_EXIT_OK after
 * help or version, TM_EXIT_USAGE (usage printed on stderr) on a bad option. */
int tm_cmd_config_options(int argc, char **argv, void (*usage)(FILE *out), const char **config_path,
                          bool *quiet);

/* Loads the config; on problems prints each as "FILE:LINE: message" to
 * stderr and returns -1. On 0 the caller frees *out with tm_config_free. */
int tm_cmd_load_config(const char *path, struct tm_config **out);

/* Prints config problems, one "FILE:LINE: message" (or "FILE: message") a line. */
void tm_cmd_print_problems(FILE *out, const struct tm_config_problems *problems);

/* Checks that `path` (the config key `what`) is a folder this process can
 * write; logs a clear error and returns -1 when not. */
int tm_cmd_check_dir(const char *what, const char *path);

#endif
