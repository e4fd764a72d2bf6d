/* Named descriptors with their state (handoff-table.h). */
#include <string.h>
#include <unistd.h>
#include "system/live-update/handoff-table.h"
#include "util/error.h"

typedef struct HandoffEntry {
    char *name;
    int fd;                     /* P: borrowed; S: owned until taken */
    JsonObject *state;
} HandoffEntry;

struct HandoffTable {
    GPtrArray *entries;         /* HandoffEntry *, in order */
    bool owns_fds;              /* a received table closes what is left */
};

static void entry_free(HandoffTable *t, HandoffEntry *e)
{
    if (t->owns_fds && e->fd >= 0) {
        close(e->fd);
    }
    if (e->state) {
        json_object_unref(e->state);
    }
    g_free(e->name);
    g_free(e);
}

HandoffTable *handoff_table_new(void)
{
    HandoffTable *t = g_new0(HandoffTable, 1);

    t->entries = g_ptr_array_new();
    return t;
}

void handoff_table_free(HandoffTable *t)
{
    if (!t) {
        return;
    }
    for (guint i = 0; i < t->entries->len; i++) {
        entry_free(t, g_ptr_array_index(t->entries, i));
    }
    g_ptr_array_unref(t->entries);
    g_free(t);
}

void handoff_table_add(HandoffTable *t, const char *name, int fd,
                       JsonObject *state)
{
    HandoffEntry *e = g_new0(HandoffEntry, 1);

    e->name = g_strdup(name);
    e->fd = fd;
    e->state = state;
    g_ptr_array_add(t->entries, e);
}

guint handoff_table_size(HandoffTable *t)
{
    return t->entries->len;
}

/* One FDS message: entries [@from, @to), whose fds are at most MAX_FDS. */
static bool send_batch(HandoffTable *t, int sock, guint from, guint to,
                       GError **errp)
{
    JsonObject *body = json_object_new();
    JsonArray *list = json_array_new();
    int fds[HANDOFF_MAX_FDS];
    unsigned nfds = 0;

    for (guint i = from; i < to; i++) {
        HandoffEntry *e = g_ptr_array_index(t->entries, i);
        JsonObject *o = json_object_new();

        json_object_set_string_member(o, "name", e->name);
        json_object_set_int_member(o, "fd", e->fd >= 0 ? (gint64)nfds : -1);
        if (e->state) {
            json_object_set_object_member(o, "state",
                                          json_object_ref(e->state));
        }
        if (e->fd >= 0) {
            fds[nfds++] = e->fd;
        }
        json_array_add_object_element(list, o);
    }
    json_object_set_array_member(body, "entries", list);
    bool ok = handoff_send(sock, HANDOFF_FDS, body, fds, nfds, errp);
    json_object_unref(body);
    return ok;
}

bool handoff_table_send(HandoffTable *t, int sock, GError **errp)
{
    guint from = 0, nfds = 0;

    for (guint i = 0; i < t->entries->len; i++) {
        HandoffEntry *e = g_ptr_array_index(t->entries, i);

        if (e->fd >= 0 && nfds == HANDOFF_MAX_FDS) {
            if (!send_batch(t, sock, from, i, errp)) {
                return false;
            }
            from = i;
            nfds = 0;
        }
        nfds += e->fd >= 0;
    }
    return from == t->entries->len ||
           send_batch(t, sock, from, t->entries->len, errp);
}

static bool receive_entry(HandoffTable *t, HandoffMsg *msg, JsonNode *node,
                          GError **errp)
{
    JsonObject *o = JSON_NODE_HOLDS_OBJECT(node) ?
                    json_node_get_object(node) : NULL;
    const char *name = o ? json_object_get_string_member_with_default(
                               o, "name", NULL) : NULL;
    gint64 index = o ? json_object_get_int_member_with_default(o, "fd", -1)
                     : -1;
    JsonObject *state = o && json_object_has_member(o, "state") ?
                        json_object_get_object_member(o, "state") : NULL;
    int fd = -1;

    if (!name) {
        error_setg(errp, "handoff: an FDS entry without a name");
        return false;
    }
    if (index >= 0 && (fd = handoff_msg_steal_fd(msg, (guint)index)) < 0) {
        error_setg(errp, "handoff: entry '%s' names descriptor %" G_GINT64_FORMAT
                   " of %u", name, index, msg->fds->len);
        return false;
    }
    handoff_table_add(t, name, fd, state ? json_object_ref(state) : NULL);
    return true;
}

bool handoff_table_receive(HandoffTable *t, HandoffMsg *msg, GError **errp)
{
    JsonArray *list = json_object_has_member(msg->body, "entries") ?
                      json_object_get_array_member(msg->body, "entries") :
                      NULL;

    t->owns_fds = true;
    if (!list) {
        error_setg(errp, "handoff: an FDS message without entries");
        return false;
    }
    for (guint i = 0; i < json_array_get_length(list); i++) {
        if (!receive_entry(t, msg, json_array_get_element(list, i), errp)) {
            return false;
        }
    }
    return true;
}

static HandoffEntry *find(HandoffTable *t, const char *name, guint *index)
{
    for (guint i = 0; t && i < t->entries->len; i++) {
        HandoffEntry *e = g_ptr_array_index(t->entries, i);
        if (!strcmp(e->name, name)) {
            *index = i;
            return e;
        }
    }
    return NULL;
}

int handoff_table_take(HandoffTable *t, const char *name, JsonObject **state)
{
    guint i;
    HandoffEntry *e = find(t, name, &i);
    int fd;

    if (state) {
        *state = e && e->state ? json_object_ref(e->state) : NULL;
    }
    if (!e) {
        return -1;
    }
    fd = e->fd;
    e->fd = -1;
    g_ptr_array_remove_index(t->entries, i);
    entry_free(t, e);
    return fd;
}

bool handoff_table_has(HandoffTable *t, const char *name)
{
    guint i;

    return find(t, name, &i) != NULL;
}

GPtrArray *handoff_table_names(HandoffTable *t, const char *prefix)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);

    for (guint i = 0; t && i < t->entries->len; i++) {
        HandoffEntry *e = g_ptr_array_index(t->entries, i);
        if (g_str_has_prefix(e->name, prefix)) {
            g_ptr_array_add(names, g_strdup(e->name));
        }
    }
    return names;
}
