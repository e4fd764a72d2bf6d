/*
 * Errors on the control plane: functions take GError **errp and return bool
 * (or a pointer).  The error code picks the QMP error class a client sees.
 */
#ifndef FERRY_UTIL_ERROR_H
#define FERRY_UTIL_ERROR_H

#include <glib.h>
#include <stdbool.h>

#define FERRY_ERROR ferry_error_quark()

typedef enum FerryErrorCode {
    FERRY_ERROR_GENERIC,            /* "GenericError" */
    FERRY_ERROR_COMMAND_NOT_FOUND,  /* "CommandNotFound" */
    FERRY_ERROR_DEVICE_NOT_ACTIVE,  /* "DeviceNotActive" */
    FERRY_ERROR_DEVICE_NOT_FOUND,   /* "DeviceNotFound" */
    FERRY_ERROR_KVM_MISSING_CAP,    /* "KVMMissingCap" */
} FerryErrorCode;

GQuark ferry_error_quark(void);

/* The QMP error class name for @err ("GenericError" for foreign domains). */
const char *ferry_error_class(const GError *err);

/* g_set_error with FERRY_ERROR / FERRY_ERROR_GENERIC, the common case. */
#define error_setg(errp, ...) \
    g_set_error((errp), FERRY_ERROR, FERRY_ERROR_GENERIC, __VA_ARGS__)

/* Like error_setg, appending ": strerror(errnum)". */
void error_setg_errno(GError **errp, int errnum, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

#endif
