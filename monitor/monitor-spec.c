/*
 * "-qmp" and "-monitor" values.  QEMU reads them as chardev shorthand
 * ("unix:PATH,server=on,wait=off"); ferry accepts the server forms only,
 * and never waits for a client at start-up.  Commas in a path are written
 * ",," as in QEMU.
 */
#include <string.h>
#include "monitor-internal.h"
#include "util/error.h"

static bool parse_bool(const char *spec, const char *key, const char *val,
                       bool *out, GError **errp)
{
    if (!val || !strcmp(val, "on") || !strcmp(val, "yes") ||
        !strcmp(val, "true")) {
        *out = true;
    } else if (!strcmp(val, "off") || !strcmp(val, "no") ||
               !strcmp(val, "false")) {
        *out = false;
    } else {
        error_setg(errp, "'%s': option '%s' takes on or off, not '%s'",
                   spec, key, val);
        return false;
    }
    return true;
}

/* Splits at single commas; ",," stands for a literal comma. */
static GPtrArray *split_options(const char *spec)
{
    GPtrArray *parts = g_ptr_array_new_with_free_func(g_free);
    GString *cur = g_string_new(NULL);

    for (const char *p = spec; *p; p++) {
        if (*p == ',' && p[1] == ',') {
            g_string_append_c(cur, ',');
            p++;
        } else if (*p == ',') {
            g_ptr_array_add(parts, g_string_free(cur, FALSE));
            cur = g_string_new(NULL);
        } else {
            g_string_append_c(cur, *p);
        }
    }
    g_ptr_array_add(parts, g_string_free(cur, FALSE));
    return parts;
}

static bool parse_option(const char *spec, const char *opt, bool *server,
                         bool *wait, GError **errp)
{
    g_autofree char *key = g_strdup(opt);
    char *val = strchr(key, '=');

    if (val) {
        *val++ = '\0';
    }
    if (!strcmp(key, "server")) {
        return parse_bool(spec, key, val, server, errp);
    }
    if (!strcmp(key, "wait")) {
        return parse_bool(spec, key, val, wait, errp);
    }
    if (!strcmp(key, "nowait") && !val) {
        *wait = false;
        return true;
    }
    error_setg(errp, "'%s': unknown option '%s' (ferry supports server=on "
               "and wait=off)", spec, key);
    return false;
}

SocketAddress *monitor_spec_parse(const char *spec, bool allow_stdio,
                                  bool *is_stdio, GError **errp)
{
    g_autoptr(GPtrArray) parts = split_options(spec);
    bool server = false, wait = false;
    const char *addr = g_ptr_array_index(parts, 0);

    *is_stdio = false;
    if (!strcmp(addr, "stdio") && parts->len == 1) {
        if (!allow_stdio) {
            error_setg(errp, "'%s': stdio is not supported here (use "
                       "unix:PATH,server=on,wait=off)", spec);
            return NULL;
        }
        *is_stdio = true;
        return NULL;
    }
    for (guint i = 1; i < parts->len; i++) {
        if (!parse_option(spec, g_ptr_array_index(parts, i), &server, &wait,
                          errp)) {
            return NULL;
        }
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
