/*
 * "-qmp" and "-monitor" values.  QEMU reads them as chardev shorthand
 * ("unix:PATH,server=on,wait=off"); ferry accepts the server forms only,
 * and never waits for a client at start-up.  The value is an option like
 * any other (util/keyval.h): the address is its implied key, so a comma
 * in a path is written ",,", and QEMU's older bare "server" and "nowait"
 * are refused as keyval refuses them.
 */
#include <string.h>
#include "monitor-internal.h"
#include "util/error.h"
#include "util/keyval.h"

static const char *const known[] = { "addr", "server", "wait", NULL };

/* The keys of @spec; errors quote @spec. */
static Keyval *spec_keys(const char *spec, const char **addr, bool *server,
                         bool *wait, GError **errp)
{
    g_autoptr(Keyval) kv = keyval_parse(spec, "addr", errp);

    if (!kv || !keyval_check_known(kv, known, errp) ||
        !keyval_get_str(kv, "addr", addr, errp) ||
        !keyval_get_bool(kv, "server", false, server, errp) ||
        !keyval_get_bool(kv, "wait", false, wait, errp)) {
        g_prefix_error(errp, "'%s': ", spec);
        return NULL;
    }
    *addr = *addr ? *addr : "";
    return g_steal_pointer(&kv);
}

SocketAddress *monitor_spec_parse(const char *spec, bool allow_stdio,
                                  bool *is_stdio, GError **errp)
{
    const char *addr;
    bool server, wait;
    g_autoptr(Keyval) kv = spec_keys(spec, &addr, &server, &wait, errp);

    *is_stdio = false;
    if (!kv) {
        return NULL;
    }
    if (!strcmp(addr, "stdio") && !server && !wait) {
        if (!allow_stdio) {
            error_setg(errp, "'%s': stdio is not supported here (use "
                       "unix:PATH,server=on,wait=off)", spec);
            return NULL;
        }
        *is_stdio = true;
        return NULL;
    }
    if (!server) {
        error_setg(errp, "'%s': ferry only listens for monitor clients; add "
                   "server=on", spec);
        return NULL;
    }
    if (wait) {
        error_setg(errp, "'%s': wait=on is not supported (ferry does not "
                   "hold start-up for a client); use wait=off", spec);
        return NULL;
    }
    return socket_address_parse(addr, errp);
}
