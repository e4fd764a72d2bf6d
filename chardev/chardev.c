/*
 * The chardev layer: a table of backends, the set of a machine's
 * chardevs by id, frontends, and writes.  See include/chardev/chardev.h.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "chardev-internal.h"
#include "system/live-update.h"
#include "system/live-update/handoff-table.h"
#include "util/error.h"

struct ChardevSet {
    GPtrArray *chardevs;        /* Chardev *, in creation order */
    FdSets *fdsets;
};

static const ChardevClass *const backends[] = {
    &chardev_socket_class, &chardev_file_class, &chardev_pty_class,
    &chardev_null_class, &chardev_stdio_class,
};

static void chardev_free(Chardev *chr)
{
    if (chr->cls && chr->cls->close) {
        chr->cls->close(chr);
    }
    g_mutex_clear(&chr->lock);
    g_free(chr->id);
    g_free(chr);
}

ChardevSet *chardev_set_new(FdSets *fdsets)
{
    ChardevSet *set = g_new0(ChardevSet, 1);

    set->chardevs = g_ptr_array_new_with_free_func(
        (GDestroyNotify)chardev_free);
    set->fdsets = fdsets;
    return set;
}

void chardev_set_free(ChardevSet *set)
{
    if (set) {
        g_ptr_array_unref(set->chardevs);
        g_free(set);
    }
}

Chardev *chardev_find(ChardevSet *set, const char *id)
{
    for (guint i = 0; i < set->chardevs->len; i++) {
        Chardev *chr = g_ptr_array_index(set->chardevs, i);

        if (!strcmp(chr->id, id)) {
            return chr;
        }
    }
    return NULL;
}

GPtrArray *chardev_set_list(ChardevSet *set)
{
    return set->chardevs;
}

static const ChardevClass *find_backend(const char *name, GError **errp)
{
    for (gsize i = 0; i < G_N_ELEMENTS(backends); i++) {
        if (!strcmp(backends[i]->name, name)) {
            return backends[i];
        }
    }
    error_setg(errp, "unsupported backend '%s' (ferry has: socket, file, "
               "pty, null, stdio)", name);
    return NULL;
}

/* The backend and the id, checked before the backend opens anything. */
static const ChardevClass *parse_common(ChardevSet *set, const Keyval *kv,
                                        const char **id, GError **errp)
{
    const ChardevClass *cls;
    g_autoptr(GPtrArray) known = g_ptr_array_new();
    const char *name;

    if (!keyval_get_str(kv, "backend", &name, errp) ||
        !keyval_get_id(kv, "id", id, errp)) {
        return NULL;
    }
    if (!name) {
        error_setg(errp, "a backend is required (socket, file, pty, null, "
                   "stdio)");
        return NULL;
    }
    if (!(cls = find_backend(name, errp))) {
        return NULL;
    }
    g_ptr_array_add(known, (gpointer)"backend");
    g_ptr_array_add(known, (gpointer)"id");
    for (int i = 0; cls->keys[i]; i++) {
        g_ptr_array_add(known, (gpointer)cls->keys[i]);
    }
    g_ptr_array_add(known, NULL);
    if (!keyval_check_known(kv, (const char *const *)known->pdata, errp)) {
        return NULL;
    }
    if (!*id) {
        error_setg(errp, "id= is required");
        return NULL;
    }
    if (chardev_find(set, *id)) {
        error_setg(errp, "duplicate chardev id '%s'", *id);
        return NULL;
    }
    return cls;
}

Chardev *chardev_set_add(ChardevSet *set, const char *spec, GError **errp)
{
    g_autoptr(Keyval) kv = keyval_parse(spec, "backend", errp);
    const ChardevClass *cls;
    const char *id;
    Chardev *chr;

    if (!kv || !(cls = parse_common(set, kv, &id, errp))) {
        return NULL;
    }
    chr = g_new0(Chardev, 1);
    chr->id = g_strdup(id);
    chr->set = set;
    chr->out_fd = -1;
    g_mutex_init(&chr->lock);
    if (!cls->open(chr, kv, errp)) {
        g_prefix_error(errp, "'%s': ", chr->id);
        chardev_free(chr);
        return NULL;
    }
    chr->cls = cls;
    g_ptr_array_add(set->chardevs, chr);
    return chr;
}

/* A path as the value of a key=value option: ",," stands for a comma. */
static char *escape_commas(const char *s)
{
    g_auto(GStrv) parts = g_strsplit(s, ",", -1);

    return g_strjoinv(",,", parts);
}

Chardev *chardev_set_add_shorthand(ChardevSet *set, const char *id,
                                   const char *shorthand, GError **errp)
{
    g_autofree char *spec = NULL;

    if (g_str_has_prefix(shorthand, "chardev:")) {
        Chardev *chr = chardev_find(set, shorthand + strlen("chardev:"));

        if (!chr) {
            error_setg(errp, "no chardev '%s'",
                       shorthand + strlen("chardev:"));
        }
        return chr;
    }
    if (g_str_has_prefix(shorthand, "file:")) {
        g_autofree char *path = escape_commas(shorthand + strlen("file:"));

        spec = g_strdup_printf("file,id=%s,path=%s", id, path);
    } else {
        spec = g_strdup_printf("%s,id=%s", shorthand, id);
    }
    return chardev_set_add(set, spec, errp);
}

bool chardev_attach(Chardev *chr, const ChardevFrontend *fe, void *opaque,
                    GError **errp)
{
    if (chr->fe) {
        error_setg(errp, "chardev '%s' is already in use", chr->id);
        return false;
    }
    if (fe->connected && !chr->cls->takes_connections) {
        error_setg(errp, "chardev '%s' is a %s chardev; a monitor needs a "
                   "socket chardev (server=on)", chr->id, chr->cls->name);
        return false;
    }
    chr->fe = fe;
    chr->fe_opaque = opaque;
    return true;
}

void chardev_connection_closed(Chardev *chr)
{
    if (chr->cls->connection_closed) {
        chr->cls->connection_closed(chr);
    }
}

void chardev_write_all(int fd, const void *buf, size_t len)
{
    size_t off = 0;

    while (fd >= 0 && off < len) {
        ssize_t n = write(fd, (const char *)buf + off, len - off);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;      /* a full or closed sink must not stall the guest */
        }
        off += (size_t)n;
    }
}

void chardev_write(Chardev *chr, const void *buf, size_t len)
{
    g_mutex_lock(&chr->lock);
    if (chr->cls->write) {
        chr->cls->write(chr, buf, len);
    } else {
        chardev_write_all(chr->out_fd, buf, len);
    }
    g_mutex_unlock(&chr->lock);
}

void chardev_set_out_fd(Chardev *chr, int fd)
{
    g_mutex_lock(&chr->lock);
    chr->out_fd = fd;
    g_mutex_unlock(&chr->lock);
}

FdSets *chardev_fdsets(const Chardev *chr)
{
    return chr->set->fdsets;
}

const char *chardev_id(const Chardev *chr)
{
    return chr->id;
}

const char *chardev_backend(const Chardev *chr)
{
    return chr->cls->name;
}

char *chardev_filename(Chardev *chr)
{
    return chr->cls->filename ? chr->cls->filename(chr)
                              : g_strdup(chr->cls->name);
}

bool chardev_frontend_open(const Chardev *chr)
{
    return chr->fe != NULL;
}

/* --- live update ----------------------------------------------------------- */

static char *handed_name(Chardev *chr, const char *what)
{
    return g_strdup_printf("chardev:%s:%s", chr->id, what);
}

int chardev_take_handed_fd(Chardev *chr, const char *what)
{
    g_autofree char *name = handed_name(chr, what);

    return live_update_take_fd(name, NULL);
}

void chardev_hand_over_fd(Chardev *chr, HandoffTable *t, const char *what,
                          int fd)
{
    g_autofree char *name = handed_name(chr, what);

    if (fd >= 0) {
        handoff_table_add(t, name, fd, NULL);
    }
}

void chardev_set_hand_over(ChardevSet *set, HandoffTable *t, bool cutover)
{
    for (guint i = 0; i < set->chardevs->len; i++) {
        Chardev *chr = g_ptr_array_index(set->chardevs, i);

        if (chr->cls->hand_over) {
            chr->cls->hand_over(chr, t, cutover);
        } else if (chr->cls != &chardev_stdio_class && !cutover) {
            chardev_hand_over_fd(chr, t, "out", chr->out_fd);
        }
    }
}

void chardev_set_take_clients(ChardevSet *set)
{
    for (guint i = 0; i < set->chardevs->len; i++) {
        Chardev *chr = g_ptr_array_index(set->chardevs, i);

        if (chr->cls->take_client) {
            chr->cls->take_client(chr);
        }
    }
}

void chardev_set_freeze(ChardevSet *set, bool frozen)
{
    for (guint i = 0; i < set->chardevs->len; i++) {
        Chardev *chr = g_ptr_array_index(set->chardevs, i);

        if (chr->cls->freeze) {
            chr->cls->freeze(chr, frozen);
        }
    }
}

void chardev_adopt_connection(Chardev *chr)
{
    if (chr->cls->adopt_connection) {
        chr->cls->adopt_connection(chr);
    }
}
