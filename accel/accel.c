#include <string.h>
#include "accel/accel.h"
#include "util/error.h"

static const AccelOps *current;

static const AccelOps *by_name(const char *name)
{
    return !strcmp(name, "kvm") ? &kvm_accel_ops :
           !strcmp(name, "soft") ? &soft_accel_ops : NULL;
}

/* A list ("kvm:soft", from -machine accel=kvm:tcg or several -accel)
 * takes the first usable one, as QEMU does. */
static const AccelOps *first_usable(const char *list, GError **errp)
{
    g_auto(GStrv) names = g_strsplit(list, ":", -1);

    for (int i = 0; names[i]; i++) {
        const AccelOps *ops = by_name(names[i]);

        if (ops && ops->available()) {
            return ops;
        }
    }
    g_set_error(errp, FERRY_ERROR, FERRY_ERROR_KVM_MISSING_CAP,
                "-accel: none of '%s' is usable here", list);
    return NULL;
}

const AccelOps *accel_select(const char *name, GError **errp)
{
    const AccelOps *ops;

    if (!name) {
        ops = kvm_accel_ops.available() ? &kvm_accel_ops : &soft_accel_ops;
    } else if (strchr(name, ':')) {
        ops = first_usable(name, errp);
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
    if (ops) {
        current = ops;
    }
    return ops;
}

const AccelOps *accel_current(void)
{
    return current;
}
