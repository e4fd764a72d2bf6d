/*
 * Options about the ferry process rather than the guest: -name, -uuid,
 * -no-reboot, -no-shutdown, -overcommit, -msg, -sandbox.
 */
#include <string.h>
#include "options-internal.h"
#include "util/error.h"

bool opt_name(MachineConfig *cfg, const char *opt, const char *arg,
              GError **errp)
{
    static const char *const known[] = {
        "guest", "process", "debug-threads", NULL
    };
    g_autoptr(Keyval) kv = option_parse(opt, arg, "guest", known, errp);
    const char *guest, *process;

    if (!kv || !option_str(opt, kv, "guest", &guest, errp)) {
        return false;
    }
    if (!keyval_get_str(kv, "process", &process, errp) ||
        !keyval_get_bool(kv, "debug-threads", false, &cfg->debug_threads,
                         errp)) {
        return option_error(opt, errp);
    }
    if (!*guest) {
        error_setg(errp, "%s: missing guest name in '%s'", opt, arg);
        return false;
    }
    option_set_str(&cfg->name, guest);
    option_set_str(&cfg->process_name, process);
    return true;
}

bool opt_uuid(MachineConfig *cfg, const char *opt, const char *arg,
              GError **errp)
{
    if (!g_uuid_string_is_valid(arg)) {
        error_setg(errp, "%s: invalid UUID '%s' (expected "
                   "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", opt, arg);
        return false;
    }
    option_set_str(&cfg->uuid, arg);
    return true;
}

bool opt_no_reboot(MachineConfig *cfg, const char *opt, const char *arg,
                   GError **errp)
{
    cfg->no_reboot = true;
    return true;
}

bool opt_no_shutdown(MachineConfig *cfg, const char *opt, const char *arg,
                     GError **errp)
{
    cfg->no_shutdown = true;
    return true;
}

/*
 * mem-lock=on is implemented (mlockall at start-up, as QEMU).  cpu-pm=on
 * would let the guest idle without exits, which ferry does not do.
 */
bool opt_overcommit(MachineConfig *cfg, const char *opt, const char *arg,
                    GError **errp)
{
    static const char *const known[] = { "mem-lock", "cpu-pm", NULL };
    g_autoptr(Keyval) kv = option_parse(opt, arg, NULL, known, errp);
    bool cpu_pm;

    if (!kv) {
        return false;
    }
    if (!keyval_get_bool(kv, "mem-lock", cfg->mem_lock, &cfg->mem_lock,
                         errp) ||
        !keyval_get_bool(kv, "cpu-pm", false, &cpu_pm, errp)) {
        return option_error(opt, errp);
    }
    if (cpu_pm) {
        error_setg(errp, "%s: cpu-pm=on is not supported (guest HLT always "
                   "exits to ferry)", opt);
        return false;
    }
    return true;
}

bool opt_msg(MachineConfig *cfg, const char *opt, const char *arg,
             GError **errp)
{
    static const char *const known[] = { "timestamp", NULL };
    g_autoptr(Keyval) kv = option_parse(opt, arg, NULL, known, errp);

    if (!kv) {
        return false;
    }
    if (!keyval_get_bool(kv, "timestamp", cfg->msg_timestamp,
                         &cfg->msg_timestamp, errp)) {
        return option_error(opt, errp);
    }
    return true;
}

/*
 * ferry installs no seccomp filter: "off" is the truth and accepted; "on"
 * would promise a protection that is not there.
 */
bool opt_sandbox(MachineConfig *cfg, const char *opt, const char *arg,
                 GError **errp)
{
    static const char *const known[] = {
        "enable", "obsolete", "elevateprivileges", "spawn",
        "resourcecontrol", NULL
    };
    static const char *const policy[] = { "allow", "deny", NULL };
    static const char *const privileges[] = {
        "allow", "deny", "children", NULL
    };
    g_autoptr(Keyval) kv = option_parse(opt, arg, "enable", known, errp);
    bool enable;
    int v;

    if (!kv) {
        return false;
    }
    if (!keyval_get_bool(kv, "enable", false, &enable, errp) ||
        !keyval_get_enum(kv, "obsolete", policy, 0, &v, errp) ||
        !keyval_get_enum(kv, "elevateprivileges", privileges, 0, &v, errp) ||
        !keyval_get_enum(kv, "spawn", policy, 0, &v, errp) ||
        !keyval_get_enum(kv, "resourcecontrol", policy, 0, &v, errp)) {
        return option_error(opt, errp);
    }
    if (enable) {
        error_setg(errp, "%s: 'on' is not supported: ferry has no seccomp "
                   "filter (use -sandbox off)", opt);
        return false;
    }
    return true;
}
