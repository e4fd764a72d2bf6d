/*
 * Options libvirt sends for things ferry's machine does not have.  Each
 * is parsed and its values checked, so a typo still fails; the values
 * that would ask for something ferry lacks are refused, and the rest is
 * accepted without effect because ignoring it changes nothing the guest
 * or the user can see (docs/libvirt.md lists why for each).
 */
#include <string.h>
#include "options-internal.h"
#include "util/error.h"

/* -nographic, -usb, -no-acpi, -nodefaults, -no-user-config */
bool opt_ignored_flag(MachineConfig *cfg, const char *opt, const char *arg,
                      GError **errp)
{
    return true;
}

bool opt_display(MachineConfig *cfg, const char *opt, const char *arg,
                 GError **errp)
{
    static const char *const known[] = { "type", NULL };
    g_autoptr(Keyval) kv = option_parse(opt, arg, "type", known, errp);
    const char *type;

    if (!kv || !option_str(opt, kv, "type", &type, errp)) {
        return false;
    }
    if (strcmp(type, "none")) {
        error_setg(errp, "%s: ferry has no display: only 'none' is accepted, "
                   "not '%s'", opt, type);
        return false;
    }
    return true;
}

/* No RTC: nothing in the guest reads a time of day. */
bool opt_rtc(MachineConfig *cfg, const char *opt, const char *arg,
             GError **errp)
{
    static const char *const known[] = { "base", "clock", "driftfix", NULL };
    static const char *const bases[] = { "utc", "localtime", NULL };
    static const char *const clocks[] = { "host", "rt", "vm", NULL };
    static const char *const driftfix[] = { "none", "slew", NULL };
    g_autoptr(Keyval) kv = option_parse(opt, arg, NULL, known, errp);
    int v;

    if (!kv) {
        return false;
    }
    if (!keyval_get_enum(kv, "base", bases, 0, &v, errp) ||
        !keyval_get_enum(kv, "clock", clocks, 0, &v, errp) ||
        !keyval_get_enum(kv, "driftfix", driftfix, 0, &v, errp)) {
        return option_error(opt, errp);
    }
    return true;
}

/* QEMU's boot devices: floppies a-b, disks c, CD-ROM d, network n-p. */
static bool check_drives(const Keyval *kv, const char *key, GError **errp)
{
    const char *v;

    if (!keyval_get_str(kv, key, &v, errp)) {
        return false;
    }
    if (v && (!*v || strspn(v, "abcdefghijklmnop") != strlen(v))) {
        error_setg(errp, "Parameter '%s' expects boot devices a to p, not "
                   "'%s'", key, v);
        return false;
    }
    return true;
}

/* ferry boots its -kernel directly: no firmware reads a boot order. */
bool opt_boot(MachineConfig *cfg, const char *opt, const char *arg,
              GError **errp)
{
    static const char *const known[] = {
        "order", "once", "menu", "strict", "splash-time", "reboot-timeout",
        NULL
    };
    g_autoptr(Keyval) kv = option_parse(opt, arg, "order", known, errp);
    uint64_t n;
    bool b;

    if (!kv) {
        return false;
    }
    if (!check_drives(kv, "order", errp) || !check_drives(kv, "once", errp) ||
        !keyval_get_bool(kv, "menu", false, &b, errp) ||
        !keyval_get_bool(kv, "strict", false, &b, errp) ||
        !keyval_get_u64(kv, "splash-time", 0, &n, errp) ||
        !keyval_get_u64(kv, "reboot-timeout", 0, &n, errp)) {
        return option_error(opt, errp);
    }
    return true;
}

/* No sound device: only the "none" backend, which plays nothing. */
bool opt_audiodev(MachineConfig *cfg, const char *opt, const char *arg,
                  GError **errp)
{
    static const char *const known[] = { "driver", "id", NULL };
    g_autoptr(Keyval) kv = option_parse(opt, arg, "driver", known, errp);
    const char *driver, *id;

    if (!kv || !option_str(opt, kv, "driver", &driver, errp)) {
        return false;
    }
    if (!keyval_get_id(kv, "id", &id, errp)) {
        return option_error(opt, errp);
    }
    if (strcmp(driver, "none")) {
        error_setg(errp, "%s: driver '%s' is not supported: ferry has no "
                   "sound device (only driver=none)", opt, driver);
        return false;
    }
    if (!id) {
        error_setg(errp, "%s: id= is required", opt);
        return false;
    }
    return true;
}
