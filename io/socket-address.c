/*
 * Socket address strings, in the forms QEMU accepts for -qmp, -monitor
 * and migration URIs.
 */
#include <string.h>
#include "io/socket.h"
#include "util/error.h"

void socket_address_free(SocketAddress *addr)
{
    if (addr) {
        g_free(addr->path);
        g_free(addr->host);
        g_free(addr->port);
        g_free(addr);
    }
}

static SocketAddress *parse_inet(const char *str, const char *hostport,
                                 GError **errp)
{
    g_autofree char *host = NULL;
    const char *colon;

    if (hostport[0] == '[') {
        const char *end = strchr(hostport, ']');

        if (!end || end[1] != ':') {
            error_setg(errp, "'%s': expected tcp:[IPV6]:PORT", str);
            return NULL;
        }
        host = g_strndup(hostport + 1, end - hostport - 1);
        colon = end + 1;
    } else {
        colon = strrchr(hostport, ':');
        if (!colon) {
            error_setg(errp, "'%s': expected tcp:HOST:PORT", str);
            return NULL;
        }
        host = g_strndup(hostport, colon - hostport);
    }
    if (!colon[1]) {
        error_setg(errp, "'%s': missing port", str);
        return NULL;
    }
    SocketAddress *addr = g_new0(SocketAddress, 1);

    addr->type = SOCKET_ADDRESS_INET;
    /* QEMU reads an empty host as "any address" */
    addr->host = *host ? g_steal_pointer(&host) : g_strdup("0.0.0.0");
    addr->port = g_strdup(colon + 1);
    return addr;
}

SocketAddress *socket_address_parse(const char *str, GError **errp)
{
    if (g_str_has_prefix(str, "unix:")) {
        SocketAddress *addr;

        if (!str[5]) {
            error_setg(errp, "'%s': missing socket path", str);
            return NULL;
        }
        if (strlen(str + 5) >= 108) {   /* sizeof(sun_path) */
            error_setg(errp, "'%s': socket path too long", str);
            return NULL;
        }
        addr = g_new0(SocketAddress, 1);
        addr->type = SOCKET_ADDRESS_UNIX;
        addr->path = g_strdup(str + 5);
        return addr;
    }
    if (g_str_has_prefix(str, "tcp:")) {
        return parse_inet(str, str + 4, errp);
    }
    error_setg(errp, "'%s': unsupported address (expected unix:PATH or "
               "tcp:HOST:PORT)", str);
    return NULL;
}

char *socket_address_to_string(const SocketAddress *addr)
{
    if (addr->type == SOCKET_ADDRESS_UNIX) {
        return g_strdup_printf("unix:%s", addr->path);
    }
    if (strchr(addr->host, ':')) {
        return g_strdup_printf("tcp:[%s]:%s", addr->host, addr->port);
    }
    return g_strdup_printf("tcp:%s:%s", addr->host, addr->port);
}
