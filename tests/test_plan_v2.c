/* Plan version 2: every new weight and op field and the accuracy floors
 * survive write -> read -> write byte for byte, are left out at their
 * defaults, and each is refused when it is out of range or on the wrong
 * record (in memory by mgc_plan_validate, and in a file by the reader). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "plan.h"
#include "plan_sample.h"

#define LABEL "v2.plan.yaml"

static void *xcalloc(size_t n, size_t size)
{
    void *q = calloc(n, size);
    assert_non_null(q);
    return q;
}

/* memory.weights as the largest per-device sum (owned weights on their owner only) */
static void fix_memory(mgc_plan *p)
{
    uint64_t most = 0;
    for (int d = 0; d < p->ndevices; d++) {
        uint64_t s = 0;
        for (size_t i = 0; i < p->nweights; i++)
            if (p->weights[i].shard != MGC_SHARD_OWNED || p->weights[i].owner == d)
                s += p->weights[i].bytes_per_device;
        most = s > most ? s : most;
    }
    p->memory.weights = most;
    p->memory.total = p->memory.weights + p->memory.kv_cache + p->memory.activations;
}

/* The sample plan (2 devices) using every field of version 2:
 *   - the embedding table is owned by device 1, and the embedding op runs there;
 *   - the fused qkv tensor is stored transposed ([in, out] = [64, 128]);
 *   - the input norm is derived (1 + w);
 *   - prefill's norm is a layer_norm with a bias split into 1 piece with 2 replicas;
 *   - both attentions have a window and a softcap;
 *   - prefill's residual add becomes an expert_scale (expert 3), decode's a
 *     shard (2 replicas), decode's scale a route (top 2);
 *   - accuracy floors. */
static void v2_plan(mgc_plan *p)
{
    mgc_test_sample_plan(p);
    mgc_plan_weight *emb = &p->weights[0];
    emb->shard = MGC_SHARD_OWNED;
    emb->owner = 1;
    emb->slices[0] = (mgc_weight_slice){ { { 0, 0 }, { 0, 0 } }, { 0, 0 } };
    for (int i = 2; i <= 4; i++) {
        p->weights[i].transposed = 1;
        p->weights[i].hf_shape[0] = 64;
        p->weights[i].hf_shape[1] = 128;
    }
    p->weights[1].derive_scale = 1.0;
    p->weights[1].derive_offset = 1.0;
    /* a new weight 7: the layer norm's bias */
    mgc_plan_weight *ws = realloc(p->weights, 8 * sizeof *ws);
    assert_non_null(ws);
    p->weights = ws;
    mgc_plan_weight *b = &p->weights[p->nweights++];
    memset(b, 0, sizeof *b);
    b->id = strdup("model.layers.0.input_layernorm.bias");
    b->hf_name = strdup("model.layers.0.input_layernorm.bias");
    b->rank = 1;
    b->hf_shape[0] = b->shape[0] = 64;
    b->role = MGC_W_BIAS;
    b->dtype = MGC_F32;
    b->shard = MGC_SHARD_SPLIT;
    b->dim = 0;
    b->padded = 64;
    b->replicas = 2;
    b->owner = -1;
    b->derive_scale = 1.0;
    b->slices = xcalloc(2, sizeof *b->slices);
    for (int d = 0; d < 2; d++)
        b->slices[d] = (mgc_weight_slice){ { { 0, 64 }, { 0, 0 } }, { 64, 0 } };
    b->bytes_per_device = 256;

    for (int en = 0; en < 2; en++) {
        mgc_plan_entry *E = en ? &p->decode : &p->prefill;
        E->ops[0].device = 1; /* embedding: where its table is */
        for (size_t i = 0; i < E->nops; i++) {
            mgc_plan_op *o = &E->ops[i];
            if (o->kernel == MGC_K_SDPA || o->kernel == MGC_K_SDPA_DECODE) {
                o->window = 4096;
                o->softcap = 50.0;
            }
        }
    }
    mgc_plan_op *o = &p->prefill.ops[1];
    o->kernel = MGC_K_LAYER_NORM;
    o->weight2 = 7;
    o = &p->prefill.ops[11]; /* add(1, 10) -> expert_scale */
    assert_int_equal(o->kernel, MGC_K_ADD);
    o->kernel = MGC_K_EXPERT_SCALE;
    o->expert = 3;
    o = &p->decode.ops[11];
    assert_int_equal(o->kernel, MGC_K_ADD);
    o->kernel = MGC_K_SHARD;
    o->in[1] = -1;
    o->replicas = 2;
    o = &p->decode.ops[13];
    assert_int_equal(o->kernel, MGC_K_SCALE);
    o->kernel = MGC_K_ROUTE;
    o->scale = 0;
    o->top_k = 2;
    p->expect_top1 = 1.0;
    p->expect_top5 = 0.95;
    p->expect_pcc = 0.99999;
    fix_memory(p);
}

static void expect_valid(const mgc_plan *p)
{
    mgc_error e = { { 0 } };
    if (mgc_plan_validate(p, &e) != 0)
        fail_msg("refused: %s", e.msg);
}

static void test_roundtrip_every_field(void **state)
{
    (void)state;
    mgc_plan p;
    v2_plan(&p);
    expect_valid(&p);
    mgc_error e = { { 0 } };
    char *a = mgc_plan_to_string(&p, &e);
    assert_non_null(a);
    assert_non_null(strstr(a, "mgc_plan: 2\n"));
    const char *keys[] = { "shard: {owner: 1}", "transposed: true", "derive_offset: 1.0", "role: bias",
                           "replicas: 2}", "window: 4096", "softcap: 50.0", "weight2: 7", "expert: 3",
                           "top_k: 2", "device: 1", "expect: {top1: 1.0, top5: 0.95, pcc: 0.99999}",
                           "op: layer_norm", "op: route", "op: shard", "op: expert_scale" };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (!strstr(a, keys[i]))
            fail_msg("the plan text has no '%s'", keys[i]);
    assert_null(strstr(a, "derive_scale")); /* 1: the default */
    mgc_plan q;
    if (mgc_plan_parse(LABEL, a, strlen(a), &q, &e) != 0)
        fail_msg("does not read back: %s", e.msg);
    assert_int_equal(q.weights[0].shard, MGC_SHARD_OWNED);
    assert_int_equal(q.weights[0].owner, 1);
    assert_int_equal(q.weights[0].slices[0].local_shape[0], 0);
    assert_int_equal(q.weights[3].transposed, 1);
    assert_int_equal(q.weights[2].replicas, 1);
    assert_true(q.weights[1].derive_scale == 1.0 && q.weights[1].derive_offset == 1.0);
    assert_int_equal(q.weights[7].role, MGC_W_BIAS);
    assert_int_equal(q.weights[7].replicas, 2);
    assert_int_equal(q.weights[5].owner, -1);
    assert_int_equal(q.prefill.ops[0].device, 1);
    assert_int_equal(q.prefill.ops[1].weight2, 7);
    assert_int_equal(q.prefill.ops[2].weight2, -1);
    assert_int_equal(q.prefill.ops[2].device, -1);
    assert_int_equal(q.prefill.ops[11].expert, 3);
    assert_int_equal(q.decode.ops[11].replicas, 2);
    assert_int_equal(q.decode.ops[9].replicas, 1);
    assert_int_equal(q.decode.ops[13].top_k, 2);
    assert_true(q.expect_top1 == 1.0 && q.expect_top5 == 0.95 && q.expect_pcc == 0.99999);
    for (size_t i = 0; i < q.decode.nops; i++)
        if (q.decode.ops[i].kernel == MGC_K_SDPA_DECODE)
            assert_true(q.decode.ops[i].window == 4096 && q.decode.ops[i].softcap == 50.0);
    char *b = mgc_plan_to_string(&q, &e);
    assert_non_null(b);
    assert_string_equal(a, b);
    free(a);
    free(b);
    mgc_plan_free(&q);
    mgc_plan_free(&p);
}

/* A plan using nothing of version 2 has none of its keys, and reads back
 * with the defaults; its text with version 1 reads the same. */
static void test_defaults_left_out(void **state)
{
    (void)state;
    mgc_plan p;
    mgc_test_sample_plan(&p);
    mgc_error e = { { 0 } };
    char *a = mgc_plan_to_string(&p, &e);
    assert_non_null(a);
    const char *absent[] = { "replicas", "owner", "transposed", "derive", "expect", "window", "softcap",
                             "weight2", "top_k", "expert", ", device:" };
    for (size_t i = 0; i < sizeof absent / sizeof *absent; i++)
        if (strstr(a, absent[i]))
            fail_msg("a plan without version-2 fields writes '%s'", absent[i]);
    char *v1 = strdup(a);
    memcpy(strstr(v1, "mgc_plan: 2"), "mgc_plan: 1", 11);
    mgc_plan q;
    if (mgc_plan_parse(LABEL, v1, strlen(v1), &q, &e) != 0)
        fail_msg("a version-1 plan does not read: %s", e.msg);
    assert_true(q.expect_top1 < 0 && q.expect_top5 < 0 && q.expect_pcc < 0);
    for (size_t i = 0; i < q.nweights; i++) {
        assert_int_equal(q.weights[i].replicas, 1);
        assert_int_equal(q.weights[i].owner, -1);
        assert_true(q.weights[i].derive_scale == 1.0 && q.weights[i].derive_offset == 0.0);
    }
    for (size_t i = 0; i < q.prefill.nops; i++) {
        const mgc_plan_op *o = &q.prefill.ops[i];
        assert_true(o->weight2 == -1 && o->device == -1 && o->replicas == 1 && o->window == 0 && o->top_k == 0);
    }
    char *b = mgc_plan_to_string(&q, &e);
    assert_string_equal(a, b);
    free(a), free(b), free(v1);
    mgc_plan_free(&q);
    mgc_plan_free(&p);
}

/* ---- refusals in memory --------------------------------------------- */

typedef void (*mutation)(mgc_plan *p);

static void expect_refused(mutation m, const char *cause)
{
    mgc_plan p;
    v2_plan(&p);
    m(&p);
    mgc_error e = { { 0 } };
    if (mgc_plan_validate(&p, &e) == 0)
        fail_msg("accepted; want a refusal about '%s'", cause);
    if (!strstr(e.msg, cause))
        fail_msg("got \"%s\", want \"...%s...\"", e.msg, cause);
    mgc_plan_free(&p);
}

static void owner_out_of_range(mgc_plan *p) { p->weights[0].owner = 2; }
static void owner_on_replicated(mgc_plan *p) { p->weights[1].owner = 0; }
static void non_owner_holds(mgc_plan *p) { p->weights[0].slices[0].local_shape[0] = 100; }
static void owner_partial(mgc_plan *p) { p->weights[0].slices[1].range[0].hi = 99; }
static void owned_everywhere(mgc_plan *p) { p->prefill.ops[0].device = -1; }
static void owned_elsewhere(mgc_plan *p) { p->decode.ops[0].device = 0; }
static void replicas_not_dividing(mgc_plan *p) { p->weights[7].replicas = 3; }
static void replicas_on_replicated(mgc_plan *p) { p->weights[1].replicas = 2; }
static void replica_differs(mgc_plan *p)
{
    /* 2 replicas of 1 piece: device 1 must read what device 0 reads */
    p->weights[7].slices[1].range[0].hi = 63;
}
static void window_negative(mgc_plan *p) { p->prefill.ops[8].window = -1; }
static void window_not_attention(mgc_plan *p) { p->prefill.ops[2].window = 8; }
static void softcap_negative(mgc_plan *p) { p->decode.ops[8].softcap = -30; }
static void softcap_nan(mgc_plan *p) { p->decode.ops[8].softcap = NAN; }
static void top_k_zero(mgc_plan *p) { p->decode.ops[13].top_k = 0; }
static void top_k_too_many(mgc_plan *p) { p->decode.ops[13].top_k = 65; }
static void expert_past(mgc_plan *p) { p->prefill.ops[11].expert = 64; }
static void op_replicas(mgc_plan *p) { p->decode.ops[11].replicas = 3; }
static void device_past(mgc_plan *p) { p->prefill.ops[2].device = 2; }
static void device_collective(mgc_plan *p) { p->prefill.ops[10].device = 0; }
static void weight2_not_bias(mgc_plan *p) { p->prefill.ops[1].weight2 = 1; }
static void weight2_not_layer_norm(mgc_plan *p) { p->decode.ops[1].weight2 = 7; }
static void transposed_vector(mgc_plan *p) { p->weights[1].transposed = 1; }
static void transposed_shape(mgc_plan *p) /* the checkpoint shape not swapped */
{
    p->weights[2].hf_shape[0] = 128;
    p->weights[2].hf_shape[1] = 64;
}
static void bias_bf16(mgc_plan *p) { p->weights[7].dtype = MGC_BF16; p->weights[7].bytes_per_device = 128; }
static void derive_nan(mgc_plan *p) { p->weights[1].derive_offset = NAN; }
static void expect_above_one(mgc_plan *p) { p->expect_pcc = 1.5; }
static void memory_undercount(mgc_plan *p) { p->memory.weights -= 1; p->memory.total -= 1; }
static void rope_wider_than_head(mgc_plan *p) { p->ropes[1].dim = 10; }

static void test_refusals(void **state)
{
    (void)state;
    expect_refused(owner_out_of_range, "owner 2 is not a device");
    expect_refused(owner_on_replicated, "not owned (must be -1)");
    expect_refused(non_owner_holds, "only its owner, device 1, holds it");
    expect_refused(owner_partial, "must read all of [0, 100)");
    expect_refused(owned_everywhere, "held by device 1 only, but the op runs on every device");
    expect_refused(owned_elsewhere, "held by device 1 only");
    expect_refused(replicas_not_dividing, "replicas 3 does not divide 2 devices");
    expect_refused(replicas_on_replicated, "only a split weight has replicas");
    expect_refused(replica_differs, "with 2 replicas it holds piece 0, the same as device 0");
    expect_refused(window_negative, "window -1");
    expect_refused(window_not_attention, "window 8 (attention only");
    expect_refused(softcap_negative, "softcap -30");
    expect_refused(softcap_nan, "softcap nan");
    expect_refused(top_k_zero, "top_k 0 of 64 experts");
    expect_refused(top_k_too_many, "top_k 65 of 64 experts");
    expect_refused(expert_past, "expert 64 of 64 routing weights");
    expect_refused(op_replicas, "replicas 3 (shard only, 1..2 devices)");
    expect_refused(device_past, "device 2 is not one of the 2 devices");
    expect_refused(device_collective, "a collective runs on every device");
    expect_refused(weight2_not_bias, "is not a bias");
    expect_refused(weight2_not_layer_norm, "weight2 7 is not a weight this kernel takes");
    expect_refused(transposed_vector, "only a rank-2 weight can be transposed");
    expect_refused(transposed_shape, "a part must span all 128 columns");
    expect_refused(bias_bf16, "a bias is stored as f32");
    expect_refused(derive_nan, "derive_scale and derive_offset must be finite");
    expect_refused(expect_above_one, "expect pcc 1.5");
    expect_refused(memory_undercount, "bytes of weights one device holds");
    expect_refused(rope_wider_than_head, "rope dim 10");
}

/* Partial rotary: a rope table narrower than the head is fine. */
static void test_partial_rope_allowed(void **state)
{
    (void)state;
    mgc_plan p;
    v2_plan(&p);
    p.ropes[0].dim = 4;
    p.ropes[1].dim = 6;
    expect_valid(&p);
    mgc_plan_free(&p);
}

/* ---- refusals in a file ------------------------------------------------- */

static char *v2_text(void)
{
    mgc_plan p;
    v2_plan(&p);
    mgc_error e = { { 0 } };
    char *a = mgc_plan_to_string(&p, &e);
    assert_non_null(a);
    mgc_plan_free(&p);
    return a;
}

/* Replaces the first `from` in the version-2 text and expects the reader to
 * refuse with `cause`. */
static void expect_text_refused(const char *from, const char *to, const char *cause)
{
    char *a = v2_text();
    char *at = strstr(a, from);
    if (!at)
        fail_msg("'%s' is not in the plan text", from);
    size_t n = strlen(a) + strlen(to) + 1;
    char *t = malloc(n);
    snprintf(t, n, "%.*s%s%s", (int)(at - a), a, to, at + strlen(from));
    mgc_plan q;
    mgc_error e = { { 0 } };
    if (mgc_plan_parse(LABEL, t, strlen(t), &q, &e) == 0)
        fail_msg("'%s' -> '%s' was accepted", from, to);
    if (strncmp(e.msg, LABEL ":", strlen(LABEL) + 1) != 0 || !strstr(e.msg, cause))
        fail_msg("'%s' -> '%s': got \"%s\", want \"...%s...\"", from, to, e.msg, cause);
    assert_null(q.weights);
    free(a);
    free(t);
}

static void test_text_refusals(void **state)
{
    (void)state;
    expect_text_refused("mgc_plan: 2", "mgc_plan: 1", "needs plan version 2");
    expect_text_refused("{owner: 1}", "{owner: 64}", "weight.shard.owner: 64 is outside 0..63");
    expect_text_refused("{owner: 1}", "{owner: 1, split: 0}", "an owned weight is not also split");
    expect_text_refused("replicas: 2}", "replicas: 0}", "weight.shard.replicas: 0 is outside");
    expect_text_refused("window: 4096", "window: -4", "op.window: -4 is outside");
    expect_text_refused("window: 4096", "window: 0", "op.window: 0 is outside");
    expect_text_refused("top_k: 2", "top_k: two", "expected an integer");
    expect_text_refused("transposed: true", "transposed: yes", "unknown value 'yes'");
    expect_text_refused("pcc: 0.99999", "pcc: 2.0", "expect.pcc: 2 is outside 0..1");
    expect_text_refused("pcc: 0.99999", "pcc: 0.9, r2: 1.0", "unknown key 'r2'");
    expect_text_refused("weight: 0, device: 1", "weight: 0, device: 5", "device 5 is not one of the 2 devices");
    expect_text_refused("role: bias", "role: biases", "unknown value 'biases'");
}

/* A version-1 file with a version-2 kernel is refused, whatever it holds. */
static void test_v1_refuses_new_kernels(void **state)
{
    (void)state;
    mgc_plan p;
    mgc_test_sample_plan(&p);
    p.decode.ops[13].kernel = MGC_K_SOFTCAP; /* scale 1/3 is a valid cap */
    mgc_error e = { { 0 } };
    char *a = mgc_plan_to_string(&p, &e);
    assert_non_null(a);
    memcpy(strstr(a, "mgc_plan: 2"), "mgc_plan: 1", 11);
    mgc_plan q;
    assert_int_not_equal(mgc_plan_parse(LABEL, a, strlen(a), &q, &e), 0);
    assert_non_null(strstr(e.msg, "op: needs plan version 2"));
    free(a);
    mgc_plan_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_every_field),
        cmocka_unit_test(test_defaults_left_out),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_partial_rope_allowed),
        cmocka_unit_test(test_text_refusals),
        cmocka_unit_test(test_v1_refuses_new_kernels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
