#include "mgc_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int mgc_errorf(mgc_error *e, const char *fmt, ...)
{
    if (!e)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int mgc_error_prefix(mgc_error *e, const char *fmt, ...)
{
    if (!e)
        return -1;
    char head[512], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    snprintf(e->msg, sizeof e->msg, "%.400s: %.600s", head, old);
    return -1;
}

int mgc_path_errorf(mgc_error *e, const char *path, const char *fmt, ...)
{
    if (!e)
        return -1;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(e->msg, sizeof e->msg, "%.250s: %s", path, msg);
    return -1;
}
