/* commands.h: the subcommands of `mgc`.  Each takes the arguments after its
 * name (argv[0] is the command name) and returns the process exit status:
 * 0 success, 1 bad input (a diagnostic was printed), 2 bad usage. */
#ifndef MGC_COMMANDS_H
#define MGC_COMMANDS_H

#include <stdio.h>

enum { MGC_EXIT_OK = 0, MGC_EXIT_INPUT = 1, MGC_EXIT_USAGE = 2 };

typedef struct mgc_command {
    const char *name;
    const char *summary;                 /* one line for `mgc --help` */
    int (*run)(int argc, char **argv);
    void (*help)(FILE *out);             /* `mgc NAME --help` */
} mgc_command;

int mgc_cmd_check(int argc, char **argv);
void mgc_help_check(FILE *out);
int mgc_cmd_fmt(int argc, char **argv);
void mgc_help_fmt(FILE *out);
int mgc_cmd_compile(int argc, char **argv);
void mgc_help_compile(FILE *out);
int mgc_cmd_run(int argc, char **argv);
void mgc_help_run(FILE *out);
int mgc_cmd_eval(int argc, char **argv);
void mgc_help_eval(FILE *out);
int mgc_cmd_reference(int argc, char **argv);
void mgc_help_reference(FILE *out);
int mgc_cmd_tokenize(int argc, char **argv);
void mgc_help_tokenize(FILE *out);

/* The table main() dispatches on (driver/command_table.c). */
extern const mgc_command mgc_commands[];
extern const int mgc_ncommands;

/* True when `arg` is -h or --help. */
int mgc_is_help(const char *arg);
/* Whether diagnostics to `f` should be coloured (a terminal, NO_COLOR unset). */
int mgc_use_color(FILE *f);

#endif
