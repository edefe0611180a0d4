/* tinmoi — the program's sub-commands (src/cmd_<name>.c).
 *
 * Each takes the arguments after its own name (argv[0] is the sub-command's
 * name) and returns the process exit code: 0 success, 1 failure, 2 usage. */
#ifndef TINMOI_CMD_H
#define TINMOI_CMD_H

/* Exit codes shared by the sub-commands (SPEC §3). */
#define TM_EXIT_OK 0
#define TM_EXIT_FAIL 1
#define TM_EXIT_USAGE 2

/* The default configuration path (SPEC §3). */
#define TM_DEFAULT_CONFIG "feeds/tinmoi.conf"

int tm_cmd_parse(int argc, char **argv);
int tm_cmd_once(int argc, char **argv);
int tm_cmd_run(int argc, char **argv);
int tm_cmd_check(int argc, char **argv);
int tm_cmd_status(int argc, char **argv);

#endif
