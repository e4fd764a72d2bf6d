/*
 * -mon: a monitor on a chardev, as libvirt opens its own: "-chardev
 * socket,id=charmonitor,fd=N,server=on,wait=off -mon
 * chardev=charmonitor,id=monitor,mode=control".  The socket chardev hands
 * over one connection at a time; when it closes, the chardev takes the
 * next (a restarted libvirtd reconnects to the same socket).
 */
#include <string.h>
#include "monitor-internal.h"
#include "monitor/monitor.h"
#include "util/error.h"
#include "util/keyval.h"
#include "util/log.h"

typedef struct ChardevMonitor {
    Chardev *chr;
    bool qmp;                   /* mode=control; else readline (HMP) */
    unsigned seq;
} ChardevMonitor;

/* Each -mon lives as long as the process: they are few and never removed. */
static GPtrArray *chardev_monitors;

static void connection_gone(void *opaque)
{
    ChardevMonitor *m = opaque;

    chardev_connection_closed(m->chr);
}

static void connected(void *opaque, int fd)
{
    ChardevMonitor *m = opaque;
    g_autofree char *name = g_strdup_printf("%s#%u", chardev_id(m->chr),
                                            ++m->seq);
    MonConn *c = m->qmp ? qmp_client_new(fd, name, true)
                        : hmp_client_new(fd, name);

    mon_conn_on_close(c, connection_gone, m);
    mon_conn_set_chardev(c, chardev_id(m->chr));
}

void monitor_mon_adopt(const char *id, MonConn *c)
{
    for (guint i = 0; chardev_monitors && i < chardev_monitors->len; i++) {
        ChardevMonitor *m = g_ptr_array_index(chardev_monitors, i);

        if (!strcmp(chardev_id(m->chr), id)) {
            chardev_adopt_connection(m->chr);
            mon_conn_on_close(c, connection_gone, m);
            mon_conn_set_chardev(c, id);
            return;
        }
    }
}

static const ChardevFrontend monitor_frontend = {
    .connected = connected,
};

/* pretty= indents QMP's JSON in QEMU; ferry's compact JSON means the same */
static bool parse_mon(const char *spec, ChardevSet *set, Chardev **chr,
                      bool *qmp, GError **errp)
{
    static const char *const known[] = {
        "chardev", "mode", "id", "pretty", NULL
    };
    static const char *const modes[] = { "readline", "control", NULL };
    g_autoptr(Keyval) kv = keyval_parse(spec, "chardev", errp);
    const char *name, *id;
    bool pretty;
    int mode;

    if (!kv || !keyval_check_known(kv, known, errp) ||
        !keyval_get_str(kv, "chardev", &name, errp) ||
        !keyval_get_enum(kv, "mode", modes, 0, &mode, errp) ||
        !keyval_get_id(kv, "id", &id, errp) ||
        !keyval_get_bool(kv, "pretty", false, &pretty, errp)) {
        return false;
    }
    if (!name) {
        error_setg(errp, "chardev= is required");
        return false;
    }
    *chr = chardev_find(set, name);
    if (!*chr) {
        error_setg(errp, "chardev=%s: no such chardev", name);
        return false;
    }
    *qmp = mode == 1;
    return true;
}

bool monitor_mon_add(const char *spec, ChardevSet *set, GError **errp)
{
    ChardevMonitor *m = g_new0(ChardevMonitor, 1);

    if (!parse_mon(spec, set, &m->chr, &m->qmp, errp) ||
        !chardev_attach(m->chr, &monitor_frontend, m, errp)) {
        g_prefix_error(errp, "-mon: ");
        g_free(m);
        return false;
    }
    if (!chardev_monitors) {
        chardev_monitors = g_ptr_array_new_with_free_func(g_free);
    }
    g_ptr_array_add(chardev_monitors, m);
    ferry_log("%s: listening on chardev '%s'", m->qmp ? "qmp" : "hmp",
              chardev_id(m->chr));
    return true;
}

void monitor_mon_cleanup(void)
{
    g_clear_pointer(&chardev_monitors, g_ptr_array_unref);
}
