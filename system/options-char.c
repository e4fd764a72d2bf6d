/*
 * -serial and -add-fd.  (-chardev and -mon are kept as given, like
 * -device, by options.c: the chardev layer (chardev/) and the monitor
 * parse them when the machine is built, where their ids are resolved.)
 * -add-fd is parsed here and its descriptor checked at machine init
 * (util/fdset.h).
 */
#include <string.h>
#include "options-internal.h"
#include "util/error.h"

/* -serial shorthands (chardev/chardev.h makes each a chardev "serial0") */
static bool serial_spec_valid(const char *arg)
{
    static const char *const plain[] = { "stdio", "pty", "null", NULL };

    if (g_strv_contains(plain, arg)) {
        return true;
    }
    return (g_str_has_prefix(arg, "file:") && arg[strlen("file:")]) ||
           (g_str_has_prefix(arg, "chardev:") && arg[strlen("chardev:")]);
}

bool opt_serial(MachineConfig *cfg, const char *opt, const char *arg,
                GError **errp)
{
    if (!strcmp(arg, "none")) {
        g_clear_pointer(&cfg->serial, g_free);   /* NULL means none */
        return true;
    }
    if (!serial_spec_valid(arg)) {
        error_setg(errp, "%s: invalid serial spec '%s' (accepted: file:PATH, "
                   "stdio, pty, null, chardev:ID, none)", opt, arg);
        return false;
    }
    option_set_str(&cfg->serial, arg);
    return true;
}

void add_fd_config_free(AddFdConfig *a)
{
    g_free(a->opaque);
    g_free(a);
}

/* fd= and set= are required and non-negative; stdio is no fd to hand over */
bool opt_add_fd(MachineConfig *cfg, const char *opt, const char *arg,
                GError **errp)
{
    static const char *const known[] = { "fd", "set", "opaque", NULL };
    g_autoptr(Keyval) kv = option_parse(opt, arg, NULL, known, errp);
    const char *fd_str, *set_str, *opaque;
    uint64_t fd, set;
    AddFdConfig *a;

    if (!kv || !keyval_get_str(kv, "fd", &fd_str, errp) ||
        !keyval_get_str(kv, "set", &set_str, errp) ||
        !keyval_get_u64(kv, "fd", 0, &fd, errp) ||
        !keyval_get_u64(kv, "set", 0, &set, errp) ||
        !keyval_get_str(kv, "opaque", &opaque, errp)) {
        return kv ? option_error(opt, errp) : false;
    }
    if (!fd_str || !set_str) {
        error_setg(errp, "%s: %s= is required", opt, fd_str ? "set" : "fd");
        return false;
    }
    if (fd <= 2 || fd > G_MAXINT) {
        error_setg(errp, "%s: fd=%s is %s", opt, fd_str,
                   fd <= 2 ? "a standard stream" : "out of range");
        return false;
    }
    if (set > G_MAXINT64) {
        error_setg(errp, "%s: set=%s is out of range", opt, set_str);
        return false;
    }
    a = g_new0(AddFdConfig, 1);
    a->fd = (int)fd;
    a->set = (int64_t)set;
    a->opaque = g_strdup(opaque);
    g_ptr_array_add(cfg->add_fds, a);
    return true;
}
