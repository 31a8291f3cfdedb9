/* status.c: version, error values and buffers handed to the caller. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"

MGC_API const char *mgc_version(void)
{
    return MGC_VERSION;
}

MGC_API int mgc_version_number(void)
{
    return MGC_VERSION_NUMBER;
}

MGC_API const char *mgc_code_name(mgc_code code)
{
    switch (code) {
    case MGC_OK: return "ok";
    case MGC_ERR_INPUT: return "bad input";
    case MGC_ERR_ARGUMENT: return "bad argument";
    case MGC_ERR_NOMEM: return "out of memory";
    case MGC_ERR_UNSUPPORTED: return "unsupported";
    case MGC_ERR_CANCELLED: return "cancelled";
    }
    return "unknown error code";
}

MGC_API void mgc_free(void *p)
{
    free(p);
}

mgc_code api_ok(mgc_status *st)
{
    if (st) {
        st->code = MGC_OK;
        st->message[0] = 0;
    }
    return MGC_OK;
}

mgc_code api_fail(mgc_status *st, mgc_code code, const mgc_error *e)
{
    if (st) {
        st->code = code;
        snprintf(st->message, sizeof st->message, "%s", e && e->msg[0] ? e->msg : mgc_code_name(code));
    }
    return code;
}

mgc_code api_failf(mgc_status *st, mgc_code code, const char *fmt, ...)
{
    if (st) {
        st->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(st->message, sizeof st->message, fmt, ap);
        va_end(ap);
    }
    return code;
}
