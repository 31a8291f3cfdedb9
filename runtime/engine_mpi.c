/* engine_mpi.c: the engine's calls over an MPI mesh.
 *
 * Every rank holds one device (its own slices, cache and arena) and runs the
 * same op list; only rank 0 runs the program that decides what to compute
 * (reads the prompt, samples, scores).  So each prefill or decode call of
 * rank 0 is first broadcast to the others as one fixed-size message
 *
 *     [kind, rows, user, start, tokens[rows], pos[rows], seq_len[rows], users[rows]]
 *
 * (kind: prefill, prefill with the last row's logits only, decode, stop)
 *
 * (int32; sized for the plan's largest entry point, so every call is a single
 * MPI_Bcast), and every rank then runs it on the mesh, where the plan's
 * collectives meet.  The next tokens rank 0 samples reach the others this way.
 * kind STOP ends rt_engine_serve. */
#include <stdlib.h>
#include <string.h>

#include "ccl_mpi.h"
#include "engine_internal.h"

enum { CALL_STOP = 0, CALL_PREFILL = 1, CALL_DECODE = 2, CALL_PREFILL_LAST = 3 };
enum { HEADER = 4 };

static int64_t max_rows(const mgc_plan *p)
{
    return p->prefill.rows > p->decode.rows ? p->prefill.rows : p->decode.rows;
}

static size_t message_ints(const mgc_plan *p)
{
    return HEADER + 4 * (size_t)max_rows(p);
}

int rt_engine_local_device(const rt_engine *en)
{
    return en ? rt_mesh_local_device(en->mesh) : -1;
}

int rt_engine_mpi_forward(rt_engine *en, const rt_call *c, const int32_t *seq_len, mgc_error *e)
{
    size_t n = message_ints(en->plan);
    int32_t *m = calloc(n, sizeof *m);
    if (!m)
        return mgc_errorf(e, "out of memory");
    int rows = c->rows;
    m[0] = c->decode ? CALL_DECODE : c->last_only ? CALL_PREFILL_LAST : CALL_PREFILL;
    m[1] = rows;
    m[2] = c->user;
    m[3] = c->start;
    int32_t *tok = m + HEADER, *pos = tok + rows, *seq = pos + rows, *users = seq + rows;
    memcpy(tok, c->tokens, sizeof(int32_t) * (size_t)rows);
    memcpy(pos, c->pos, sizeof(int32_t) * (size_t)rows);
    memcpy(seq, seq_len, sizeof(int32_t) * (size_t)rows);
    for (int i = 0; c->users && i < rows; i++)
        users[i] = c->users[i];
    int rc = rt_mpi_bcast_bytes(m, n * sizeof *m, 0, e);
    free(m);
    return rc;
}

void rt_engine_mpi_stop(rt_engine *en)
{
    size_t n = message_ints(en->plan);
    int32_t *m = calloc(n, sizeof *m);
    mgc_error e;
    if (!m || rt_mpi_bcast_bytes(m, n * sizeof *m, 0, &e) != 0)
        rt_mpi_abort("cannot tell the other ranks to stop", 1);
    free(m);
}

int rt_engine_serve(rt_engine *en, mgc_error *e)
{
    if (rt_engine_local_device(en) <= 0)
        return mgc_errorf(e, "rt_engine_serve: only ranks other than 0 of an MPI mesh serve calls");
    const mgc_plan *p = en->plan;
    size_t n = message_ints(p);
    int32_t *m = calloc(n, sizeof *m);
    int *users = calloc((size_t)max_rows(p), sizeof *users);
    int rc = 0;
    if (!m || !users)
        rc = mgc_errorf(e, "out of memory");
    while (rc == 0) {
        if (rt_mpi_bcast_bytes(m, n * sizeof *m, 0, e) != 0) {
            rc = -1;
            break;
        }
        if (m[0] == CALL_STOP)
            break;
        int rows = m[1];
        if ((m[0] != CALL_PREFILL && m[0] != CALL_PREFILL_LAST && m[0] != CALL_DECODE) || rows < 1 ||
            rows > max_rows(p)) {
            rc = mgc_errorf(e, "a malformed call from rank 0 (kind %d, %d rows)", m[0], rows);
            break;
        }
        int32_t *tok = m + HEADER, *pos = tok + rows, *seq = pos + rows, *u = seq + rows;
        for (int i = 0; i < rows; i++)
            users[i] = u[i];
        rt_call c = {.entry = m[0] == CALL_DECODE ? &p->decode : &p->prefill, .decode = m[0] == CALL_DECODE,
                     .rows = rows, .tokens = tok, .pos = pos, .users = m[0] == CALL_DECODE ? users : NULL,
                     .user = m[2], .start = m[3], .last_only = m[0] == CALL_PREFILL_LAST};
        rc = rt_engine_run_call(en, &c, seq, e);
    }
    free(m);
    free(users);
    return rc;
}
