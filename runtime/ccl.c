/* ccl front end: argument checks shared by every backend, then the backend's op.
 *
 * A device whose own arguments are wrong aborts the communicator before it
 * returns -1, so its peers, which may already wait in the same collective,
 * return "aborted: device D failed" instead of waiting for it forever. */
#include "ccl.h"

#include <stdint.h>

static int check_ctx(rt_device_ctx *ctx, const char *op, mgc_error *e)
{
    if (!ctx || !ctx->comm)
        return mgc_errorf(e, "%s: no device context or communicator", op);
    if (ctx->device < 0 || ctx->device >= ctx->comm->n_devices)
        return mgc_errorf(e, "%s: device %d outside a communicator of %d devices", op,
                          ctx->device, ctx->comm->n_devices);
    return 0;
}

/* Reports a bad argument of this device and releases the peers. */
static int bad_arg(rt_device_ctx *ctx, mgc_error *e)
{
    ctx->comm->ops->abort(ctx->comm, ctx->device);
    return -1;
}

static int ranges_overlap(const float *a, size_t na, const float *b, size_t nb)
{
    uintptr_t a0 = (uintptr_t)a, a1 = a0 + na * sizeof(float);
    uintptr_t b0 = (uintptr_t)b, b1 = b0 + nb * sizeof(float);
    return na && nb && a0 < b1 && b0 < a1;
}

int rt_all_reduce_sum(rt_device_ctx *ctx, float *buf, size_t n, mgc_error *e)
{
    if (check_ctx(ctx, "all_reduce_sum", e))
        return -1;
    if (n && !buf) {
        mgc_errorf(e, "all_reduce_sum: NULL buffer for %zu elements", n);
        return bad_arg(ctx, e);
    }
    return ctx->comm->ops->all_reduce_sum(ctx->comm, ctx, buf, n, e);
}

int rt_all_gather(rt_device_ctx *ctx, const float *in, size_t n_per_device, float *out,
                  mgc_error *e)
{
    if (check_ctx(ctx, "all_gather", e))
        return -1;
    size_t nd = (size_t)ctx->comm->n_devices;
    if (n_per_device > SIZE_MAX / sizeof(float) / nd) {
        mgc_errorf(e, "all_gather: %zu elements per device times %zu devices overflows",
                   n_per_device, nd);
        return bad_arg(ctx, e);
    }
    if (n_per_device && (!in || !out)) {
        mgc_errorf(e, "all_gather: NULL %s buffer for %zu elements per device",
                   in ? "output" : "input", n_per_device);
        return bad_arg(ctx, e);
    }
    if (ranges_overlap(in, n_per_device, out, n_per_device * nd) &&
        in != out + (size_t)ctx->device * n_per_device) {
        mgc_errorf(e,
                   "all_gather: the input overlaps the output but is not this device's slice "
                   "of it (device %d)",
                   ctx->device);
        return bad_arg(ctx, e);
    }
    return ctx->comm->ops->all_gather(ctx->comm, ctx, in, n_per_device, out, e);
}

int rt_broadcast(rt_device_ctx *ctx, float *buf, size_t n, int root, mgc_error *e)
{
    if (check_ctx(ctx, "broadcast", e))
        return -1;
    if (root < 0 || root >= ctx->comm->n_devices) {
        mgc_errorf(e, "broadcast: root %d outside a mesh of %d devices", root,
                   ctx->comm->n_devices);
        return bad_arg(ctx, e);
    }
    if (n && !buf) {
        mgc_errorf(e, "broadcast: NULL buffer for %zu elements", n);
        return bad_arg(ctx, e);
    }
    return ctx->comm->ops->broadcast(ctx->comm, ctx, buf, n, root, e);
}

int rt_barrier(rt_device_ctx *ctx, mgc_error *e)
{
    if (check_ctx(ctx, "barrier", e))
        return -1;
    return ctx->comm->ops->barrier(ctx->comm, ctx, e);
}

void rt_device_idle_begin(rt_device_ctx *ctx)
{
    if (ctx && ctx->idle_begin)
        ctx->idle_begin(ctx);
}

void rt_device_idle_end(rt_device_ctx *ctx)
{
    if (ctx && ctx->idle_end)
        ctx->idle_end(ctx);
}

int rt_comm_size(const rt_comm *comm)
{
    return comm ? comm->n_devices : 0;
}

const char *rt_comm_backend_name(const rt_comm *comm)
{
    return comm ? comm->ops->name : "";
}

void rt_comm_abort(rt_comm *comm, int device)
{
    if (comm)
        comm->ops->abort(comm, device);
}

void rt_comm_device_done(rt_comm *comm, int device)
{
    if (comm)
        comm->ops->device_done(comm, device);
}

void rt_comm_reset(rt_comm *comm)
{
    if (comm)
        comm->ops->reset(comm);
}

void rt_comm_destroy(rt_comm *comm)
{
    if (comm)
        comm->ops->destroy(comm);
}
