/* Fuzz target: tokenizer.json load + encode + decode (tokenizer/).  The input is the
 * tokenizer.json; an accepted tokenizer encodes a fixed set of texts (ASCII, accents,
 * CJK, emoji, digits, spaces, invalid UTF-8, control bytes), decodes the ids it gets
 * both with and without special tokens, and decodes every id below 300 one by one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support_files.h"
#include "tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const texts[] = {
    "Hello world",
    "  The quick brown fox, 12345 jumps!\n\tOver\r\n",
    "caf\xc3\xa9 na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80",
    "\xff\xfe invalid \xc3 utf8 \xed\xa0\x80",
    "<s></s><|endoftext|> [INST] x [/INST]",
    "",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/tokenizer.json", fuzz_scratch_dir());
    fuzz_write_file(path, data, size);
    mgc_error e = {{0}};
    tokenizer *t = tok_load(path, &e);
    if (!t)
        return 0;
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        int32_t *ids = NULL;
        size_t n = 0;
        if (tok_encode(t, texts[i], strlen(texts[i]), (int)(i & 1), &ids, &n, &e) == 0) {
            for (int skip = 0; skip < 2; skip++) {
                char *out = NULL;
                size_t len = 0;
                if (tok_decode(t, ids, n, skip, &out, &len, &e) == 0)
                    free(out);
            }
        }
        free(ids);
    }
    size_t nid = tok_vocab_size(t);
    for (int32_t id = 0; id < 300 && (size_t)id < nid + 2; id++) {
        char *out = NULL;
        if (tok_decode(t, &id, 1, 0, &out, NULL, &e) == 0)
            free(out);
        size_t len;
        const char *tokstr = tok_id_to_token(t, id, &len);
        if (tokstr)
            (void)tok_token_to_id(t, tokstr, len);
    }
    tok_free(t);
    return 0;
}
