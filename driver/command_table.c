#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"

const mgc_command mgc_commands[] = {
    {"check", "parse and check graph specs (no config needed)", mgc_cmd_check, mgc_help_check},
    {"fmt", "print a spec in canonical formatting (--write rewrites it)", mgc_cmd_fmt, mgc_help_fmt},
    {"compile", "bind a spec to a config.json and lower it to a plan", mgc_cmd_compile, mgc_help_compile},
    {"run", "execute a plan: prefill a prompt, then generate", mgc_cmd_run, mgc_help_run},
    {"eval", "teacher-forced accuracy of a plan against a reference", mgc_cmd_eval, mgc_help_eval},
    {"reference", "write a reference file from an f32 one-device run of a spec", mgc_cmd_reference,
     mgc_help_reference},
    {"tokenize", "text to token ids and back through a model's tokenizer.json", mgc_cmd_tokenize,
     mgc_help_tokenize},
};
const int mgc_ncommands = (int)(sizeof mgc_commands / sizeof mgc_commands[0]);

int mgc_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int mgc_use_color(FILE *f)
{
    const char *nc = getenv("NO_COLOR");
    return isatty(fileno(f)) && !(nc && *nc);
}
