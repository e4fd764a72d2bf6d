#include <string.h>
#include <stdarg.h>
#include "util/error.h"

G_DEFINE_QUARK(ferry-error-quark, ferry_error)

const char *ferry_error_class(const GError *err)
{
    static const char *const names[] = {
        [FERRY_ERROR_GENERIC] = "GenericError",
        [FERRY_ERROR_COMMAND_NOT_FOUND] = "CommandNotFound",
        [FERRY_ERROR_DEVICE_NOT_ACTIVE] = "DeviceNotActive",
        [FERRY_ERROR_DEVICE_NOT_FOUND] = "DeviceNotFound",
        [FERRY_ERROR_KVM_MISSING_CAP] = "KVMMissingCap",
    };

    if (err && err->domain == FERRY_ERROR && err->code >= 0 &&
        (gsize)err->code < G_N_ELEMENTS(names)) {
        return names[err->code];
    }
    return "GenericError";
}

void error_setg_errno(GError **errp, int errnum, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(errp, FERRY_ERROR, FERRY_ERROR_GENERIC, "%s: %s", msg,
                g_strerror(errnum));
}
