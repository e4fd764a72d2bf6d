#include <string.h>
#include "accel/accel.h"
#include "util/error.h"

static const AccelOps *current;

const AccelOps *accel_select(const char *name, GError **errp)
{
    const AccelOps *ops;

    if (!name) {
        ops = kvm_accel_ops.available() ? &kvm_accel_ops : &soft_accel_ops;
    } else if (!strcmp(name, "kvm")) {
        ops = &kvm_accel_ops;
        if (!ops->available()) {
            g_set_error(errp, FERRY_ERROR, FERRY_ERROR_KVM_MISSING_CAP,
                        "-accel kvm: /dev/kvm is not usable here "
                        "(use -accel soft)");
            return NULL;
        }
    } else if (!strcmp(name, "soft")) {
        ops = &soft_accel_ops;
    } else {
        error_setg(errp, "-accel: unknown accelerator '%s' (kvm, soft)", name);
        return NULL;
    }
    current = ops;
    return ops;
}

const AccelOps *accel_current(void)
{
    return current;
}
