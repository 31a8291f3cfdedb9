/*
 * mgc.h: the public interface of libmgc, the model-graph compiler and runtime.
 *
 * This header is the manual.  Everything a program can do with mgc is declared
 * here and documented where it is declared; no other header is installed.
 *
 * THE WORKFLOW
 *
 *     mgc_compile_options co;
 *     mgc_compile_options_init(&co);
 *     co.spec = "graphs/meta-llama/Llama-3.2-1B/t3000.graph";
 *     co.model_dir = "tests/fixtures/llama32";       // or co.config = ".../config.json"
 *     mgc_status st;
 *     mgc_plan_t *plan;
 *     if (mgc_plan_compile(&co, &plan, &st) != MGC_OK) { puts(st.message); ... }
 *
 *     mgc_model_t *model;
 *     if (mgc_model_load(plan, "tests/fixtures/llama32", NULL, &model, &st)) ...
 *     mgc_plan_destroy(plan);                      // the model keeps what it needs
 *
 *     mgc_generate_options go;
 *     mgc_generate_options_init(&go);
 *     go.max_new_tokens = 16;
 *     int32_t prompt[] = {1, 2, 3}, out[16];
 *     int n_out;
 *     mgc_generate(model, prompt, 3, &go, out, &n_out, &st);
 *
 *     mgc_eval_metrics em;
 *     mgc_model_eval(model, "tests/fixtures/llama32/reference.safetensors", &em, &st);
 *     mgc_model_destroy(model);
 *
 * ERRORS
 *
 * Errors are values.  Every function that can fail returns an mgc_code
 * (MGC_OK, which is 0, on success) and takes an `mgc_status *` as its last
 * argument, which it fills on failure with the code and one human-readable
 * message naming the file and the cause (the same text the `mgc` command
 * prints).  The status pointer may be NULL when the caller does not want the
 * message.  On success the status is set to MGC_OK with an empty message.
 * Nothing in the library prints, exits or aborts on bad input.
 *
 * MEMORY
 *
 * Handles (mgc_plan_t, mgc_model_t, mgc_tokenizer_t) are opaque: create them
 * with their *_compile / *_load function and release them with their
 * *_destroy function (which accepts NULL).  Buffers the library allocates for
 * the caller (token ids, text, YAML) are released with mgc_free().  Buffers the
 * caller passes in are never kept after the call returns.
 *
 * THREADING
 *
 * libmgc has no global mutable state (the environment, MGC_DATADIR and
 * MGC_KERNELS, is read once, at first use).  Different handles may be used from
 * different threads at the same time.  One handle must not be used by two
 * threads at once, with these exceptions: an mgc_tokenizer_t (and the one a
 * model owns) is immutable after loading, so encoding and decoding may run
 * concurrently; and an mgc_plan_t may be read (saved, queried, loaded onto
 * models) from several threads at once.  A model runs its simulated devices on
 * threads of its own during every call; the call returns when they are done.
 * Callbacks run on the calling thread.
 *
 * STABILITY
 *
 * The shared library's soname carries MGC_ABI_VERSION (libmgc.so.1).  Options
 * structures are initialised with their *_init function, so fields added at
 * their end in later minor versions keep their defaults.
 */
#ifndef MGC_H
#define MGC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(MGC_BUILDING_LIBRARY)
#define MGC_API __attribute__((visibility("default")))
#else
#define MGC_API
#endif

/* ---- version ---------------------------------------------------------------------- */

#define MGC_VERSION "0.1.0"
#define MGC_VERSION_NUMBER 1000 /* major * 1000000 + minor * 1000 + patch */
#define MGC_ABI_VERSION 1       /* the soname: libmgc.so.MGC_ABI_VERSION */

/* The library's version string ("0.1.0"): that of the library actually
 * loaded, which may differ from the MGC_VERSION this program was built with. */
MGC_API const char *mgc_version(void);
/* The same as a number (MGC_VERSION_NUMBER of the loaded library). */
MGC_API int mgc_version_number(void);

/* ---- errors ----------------------------------------------------------------------- */

typedef enum mgc_code {
    MGC_OK = 0,
    MGC_ERR_INPUT = 1,    /* bad input: a file that is missing, malformed or inconsistent */
    MGC_ERR_ARGUMENT = 2, /* a bad argument: NULL where a value is needed, out of range */
    MGC_ERR_NOMEM = 3,    /* out of memory */
    MGC_ERR_UNSUPPORTED = 4, /* a feature this build does not have (e.g. the mpi mesh) */
    MGC_ERR_CANCELLED = 5 /* a callback asked to stop (mgc_generate); the output so far is valid */
} mgc_code;

typedef struct mgc_status {
    mgc_code code;
    char message[1024];   /* NUL-terminated; empty when code is MGC_OK */
} mgc_status;

/* A short name for a code: "ok", "bad input", "bad argument", ... */
MGC_API const char *mgc_code_name(mgc_code code);

/* Releases a buffer the library allocated for the caller (NULL is fine). */
MGC_API void mgc_free(void *p);

/* ---- compiling: spec -> plan ------------------------------------------------------ */

/* A plan: a compiled spec, scheduled for every device of one system.  Plans are
 * immutable; one plan may be loaded onto any number of models. */
typedef struct mgc_plan_t mgc_plan_t;

typedef struct mgc_compile_options {
    const char *spec;              /* the graph spec file (required) */
    const char *model_dir;         /* a HuggingFace model directory: its config.json, and
                                    * its checkpoint's tensors checked against the spec */
    const char *config;            /* or a config.json alone (sizes from spec + config) */
    const char *system;            /* "n150", "t3000", "cpu", ...; NULL = the spec's own */
    const char *systems_dir;       /* where NAME.yaml system files live; NULL = the
                                    * default (MGC_DATADIR, see mgc_data_dir) */
    int64_t max_seq_len;           /* KV-cache length; 0 = the spec's cache max_len */
    int64_t batch;                 /* decode users; 0 = the spec's */
    const char *weights_dtype;     /* "f32", "bf16", "bf8_b", "bf4_b"; NULL = the spec's */
    const char *activations_dtype; /* "f32", "bf16"; NULL = the spec's */
} mgc_compile_options;

/* Fills `o` with the defaults above (all NULL / 0). */
MGC_API void mgc_compile_options_init(mgc_compile_options *o);

/* Compiles o->spec against exactly one of o->model_dir or o->config.  On
 * failure the status message holds every diagnostic, each with its file, line
 * and column, as `mgc compile` prints them (without colour). */
MGC_API mgc_code mgc_plan_compile(const mgc_compile_options *o, mgc_plan_t **out, mgc_status *st);

/* Reads a plan file written by mgc_plan_save or `mgc compile` (validated in
 * full: a hand-edited plan that is inconsistent is refused with its line). */
MGC_API mgc_code mgc_plan_load(const char *path, mgc_plan_t **out, mgc_status *st);
/* The same from YAML text in memory; `label` names it in messages. */
MGC_API mgc_code mgc_plan_from_yaml(const char *label, const char *yaml, size_t len, mgc_plan_t **out,
                                mgc_status *st);
/* Writes the plan as YAML, atomically (an existing file is replaced only once
 * the new one is complete). */
MGC_API mgc_code mgc_plan_save(const mgc_plan_t *p, const char *path, mgc_status *st);
/* The plan's YAML in a buffer the caller releases with mgc_free. */
MGC_API mgc_code mgc_plan_yaml(const mgc_plan_t *p, char **yaml, size_t *len, mgc_status *st);
/* Releases the caller's reference (models loaded from it keep theirs). */
MGC_API void mgc_plan_destroy(mgc_plan_t *p);

/* Facts about a plan (strings live as long as the plan). */
MGC_API const char *mgc_plan_model_name(const mgc_plan_t *p);   /* the HF id, "meta-llama/Llama-3.2-1B" */
MGC_API const char *mgc_plan_system(const mgc_plan_t *p);       /* "t3000" */
MGC_API int mgc_plan_devices(const mgc_plan_t *p);              /* devices of the mesh */
MGC_API const char *mgc_plan_weights_dtype(const mgc_plan_t *p);    /* spec-wide default, "bf16" */
MGC_API const char *mgc_plan_activations_dtype(const mgc_plan_t *p);

/* Where the installed systems and common spec files are looked for: the
 * environment variable MGC_DATADIR if set; else graphs/ of the current
 * directory when it holds graphs/systems (a source tree); else share/mgc next
 * to the installed library (PREFIX/lib/../share/mgc, so an installed tree may
 * be moved); else the directory compiled in.  Systems are in
 * DATADIR/graphs/systems, the bundled specs in DATADIR/graphs. */
MGC_API const char *mgc_data_dir(void);

/* ---- models: a plan loaded onto a mesh -------------------------------------------- */

typedef struct mgc_model_t mgc_model_t;

typedef struct mgc_model_options {
    const char *mesh;   /* "local" (default): every device a thread of this process;
                         * "mpi": one process per device, when built with it
                         * (see mgc_model_load) */
    int n_cores;        /* host cores the devices share; 0 = all online cores
                         * (mesh "mpi": threads per rank; 0 = 1) */
    int progress;       /* nonzero: print loading progress to stderr */
} mgc_model_options;

MGC_API void mgc_model_options_init(mgc_model_options *o);

/* Loads `plan` with the checkpoint in `model_dir` (model.safetensors or an
 * index with shards; config.json, when present, is checked against the plan).
 * Every device reads and converts its own weight slices.  The directory's
 * tokenizer.json (if any) and its end-of-sequence ids (generation_config.json
 * or config.json `eos_token_id`, a number or a list) are loaded too.  o may be
 * NULL for the defaults.
 *
 * mesh "mpi": run the program under `mpirun -np DEVICES`; every rank calls
 * mgc_model_load with the same plan.  Rank r is device r.  Only rank 0
 * returns: every other rank serves rank 0's calls and, when rank 0 destroys
 * its model, ends its process with status 0 (a failure on any rank ends the
 * whole job).  A wrong rank count is an error on every rank.  MPI ends with
 * rank 0's model: one MPI model per process.  MGC_ERR_UNSUPPORTED when this
 * build of mgc has no MPI backend. */
MGC_API mgc_code mgc_model_load(const mgc_plan_t *plan, const char *model_dir, const mgc_model_options *o,
                                mgc_model_t **out, mgc_status *st);
MGC_API void mgc_model_destroy(mgc_model_t *m);

/* The plan the model runs (owned by the model; do not destroy it). */
MGC_API const mgc_plan_t *mgc_model_plan(const mgc_model_t *m);
MGC_API int64_t mgc_model_vocab(const mgc_model_t *m);       /* logits per row */
MGC_API int64_t mgc_model_max_seq_len(const mgc_model_t *m); /* KV-cache length */
MGC_API int64_t mgc_model_max_users(const mgc_model_t *m);   /* decode batch */
/* The model's end-of-sequence ids: their number, and up to `cap` of them in ids. */
MGC_API int mgc_model_eos_ids(const mgc_model_t *m, int32_t *ids, int cap);
/* The model directory's tokenizer, or NULL when it has no tokenizer.json
 * (owned by the model). */
typedef struct mgc_tokenizer_t mgc_tokenizer_t;
MGC_API const mgc_tokenizer_t *mgc_model_tokenizer(const mgc_model_t *m);

/* Prefill: runs `n` tokens of user `user` (0 <= user < max_users) at positions
 * start .. start+n-1, writing their keys and values into the user's cache.
 * logits, if not NULL, receives [n][vocab] floats: one row per position. */
MGC_API mgc_code mgc_model_prefill(mgc_model_t *m, int user, const int32_t *tokens, int n, int start,
                                   float *logits, mgc_status *st);

/* Decode: one token for each of `batch` users at once: users[i] gets
 * tokens[i] at position positions[i] (its current length).  logits, if not
 * NULL, receives [batch][vocab]. */
MGC_API mgc_code mgc_model_decode(mgc_model_t *m, int batch, const int *users, const int32_t *tokens,
                                  const int32_t *positions, float *logits, mgc_status *st);

/* ---- generation ------------------------------------------------------------------- */

/* Called once per generated token, on the calling thread.  `text` is the new
 * text this token completes (UTF-8, NUL-terminated; "" while a multi-byte
 * character is still incomplete, or when the model has no tokenizer).
 * Return 0 to go on, nonzero to stop (mgc_generate then returns
 * MGC_ERR_CANCELLED with the tokens so far).  When text was held back at the
 * end (an incomplete character), one last call passes token -1 and that text;
 * its return value is ignored.  Concatenating every `text` gives the decoded
 * output (as mgc_detokenize of all of them, special tokens kept). */
typedef int (*mgc_token_callback)(void *user_data, int32_t token, const char *text);

typedef struct mgc_generate_options {
    int max_new_tokens;      /* at most this many new tokens (default 32) */
    float temperature;       /* 0 = greedy (default); > 0 samples */
    int top_k;               /* sample among the k most likely; 0 = all (default) */
    float top_p;             /* nucleus mass in (0, 1]; 1 = all (default) */
    uint64_t seed;           /* sampling seed (default 0): the same seed, the same tokens */
    const int32_t *stop_ids; /* extra token ids that end generation (may be NULL) */
    int n_stop_ids;
    int ignore_eos;          /* nonzero: do not stop at the model's own EOS ids */
    mgc_token_callback on_token; /* may be NULL */
    void *user_data;
} mgc_generate_options;

MGC_API void mgc_generate_options_init(mgc_generate_options *o);

/* Generates from `prompt` (n_prompt ids) as HuggingFace's generate() does: one
 * prefill pass, then one decode step per token, each drawn by the sampler.
 * Generation stops after max_new_tokens, or at a stop token (an EOS id of the
 * model unless ignore_eos, or one of stop_ids), which is included in the
 * output, as HF includes it.  out receives *n_out <= max_new_tokens ids (room
 * for max_new_tokens).  Uses user 0 of the model's cache. */
MGC_API mgc_code mgc_generate(mgc_model_t *m, const int32_t *prompt, int n_prompt, const mgc_generate_options *o,
                              int32_t *out, int *n_out, mgc_status *st);

/* ---- evaluation ------------------------------------------------------------------- */

/* The figures of `mgc eval`'s YT_METRICS line. */
typedef struct mgc_eval_metrics {
    int64_t tokens;          /* positions compared */
    int64_t prompt_len;      /* of which prefilled */
    double top1;             /* fraction whose argmax equals the reference's */
    double top5;             /* fraction whose argmax is among the reference's top five */
    double pcc_min;          /* Pearson correlation of the logits with the reference's: worst */
    double pcc_mean;         /* ... and mean over positions */
    double max_abs_err;      /* the largest logit difference */
    double kl_mean;          /* KL(reference || ours) per position, in nats */
    double perplexity;       /* of the teacher-forced decode tokens under our logits */
    double prefill_tok_s;    /* prompt tokens per second */
    double decode_tok_s_u;   /* decode steps per second per user */
} mgc_eval_metrics;

/* Teacher-forced evaluation against a reference file (safetensors with
 * input_ids, logits, top5 and prompt_len, as HuggingFace makes them; see
 * tests/fixtures/README.md): the prompt is prefilled in one pass, then each
 * later position is decoded from the reference's own previous token.
 * max_positions limits the positions compared (0 = all).  Uses user 0's cache. */
MGC_API mgc_code mgc_model_eval(mgc_model_t *m, const char *reference, int64_t max_positions,
                                mgc_eval_metrics *out, mgc_status *st);

/* ---- tokenizers ------------------------------------------------------------------- */

/* Loads a HuggingFace tokenizer.json (a path to the file, or to a model
 * directory holding one).  Unsupported components are refused with their JSON
 * path. */
MGC_API mgc_code mgc_tokenizer_load(const char *path, mgc_tokenizer_t **out, mgc_status *st);
MGC_API void mgc_tokenizer_destroy(mgc_tokenizer_t *t);

/* Text (len bytes of UTF-8) to ids, as HF's encode(text, add_special_tokens).
 * *ids is released with mgc_free. */
MGC_API mgc_code mgc_tokenize(const mgc_tokenizer_t *t, const char *text, size_t len, int add_special_tokens,
                              int32_t **ids, size_t *n, mgc_status *st);
/* Ids to text, as HF's decode(ids, skip_special_tokens).  *text (NUL-terminated
 * UTF-8) is released with mgc_free; len may be NULL. */
MGC_API mgc_code mgc_detokenize(const mgc_tokenizer_t *t, const int32_t *ids, size_t n, int skip_special_tokens,
                                char **text, size_t *len, mgc_status *st);
/* BOS / EOS ids, or -1 when the tokenizer files declare none. */
MGC_API int32_t mgc_tokenizer_bos(const mgc_tokenizer_t *t);
MGC_API int32_t mgc_tokenizer_eos(const mgc_tokenizer_t *t);
MGC_API int64_t mgc_tokenizer_vocab(const mgc_tokenizer_t *t);

#ifdef __cplusplus
}
#endif

#endif
