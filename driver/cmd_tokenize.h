/* cmd_tokenize.h: `mgc tokenize` (to move into commands.h). */
#ifndef MGC_CMD_TOKENIZE_H
#define MGC_CMD_TOKENIZE_H

#include <stdio.h>

int mgc_cmd_tokenize(int argc, char **argv);
void mgc_help_tokenize(FILE *out);

#endif
