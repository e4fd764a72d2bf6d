/*
 * Monitor clients in a live update: the predecessor freezes every client
 * at the cutover and hands over its socket with the session (QMP:
 * negotiated or not, requests read but not yet run, a partial request;
 * HMP: the line typed so far; both: output not yet written); the
 * successor rebuilds the client from that without a new greeting, so
 * the client sees one uninterrupted conversation, QMP events included.
 */
#include "monitor-internal.h"
#include "monitor/monitor.h"
#include "system/live-update.h"
#include "system/live-update/handoff-table.h"
#include "util/log.h"

#define QMP_CLIENT_PREFIX "qmp-client:"
#define HMP_CLIENT_PREFIX "hmp-client:"

static void set_base64(JsonObject *o, const char *member, const void *data,
                       size_t len)
{
    g_autofree char *text = g_base64_encode(data, len);

    json_object_set_string_member(o, member, text);
}

static GBytes *get_base64(JsonObject *o, const char *member)
{
    const char *text = json_object_get_string_member_with_default(o, member,
                                                                   "");
    gsize len;
    guchar *data = g_base64_decode(text, &len);

    return g_bytes_new_take(data, len);
}

/* The state of one client, for the successor. */
static JsonObject *client_state(const QmpClientState *st)
{
    JsonObject *o = json_object_new();
    JsonArray *queued = json_array_new();

    json_object_set_string_member(o, "name", st->name);
    json_object_set_boolean_member(o, "negotiated", st->negotiated);
    json_object_set_boolean_member(o, "oob", st->oob_enabled);
    json_object_set_boolean_member(o, "unix", st->unix_socket);
    if (st->chardev) {
        json_object_set_string_member(o, "chardev", st->chardev);
    }
    for (guint i = 0; i < st->queued->len; i++) {
        GBytes *b = g_ptr_array_index(st->queued, i);
        g_autofree char *text = g_base64_encode(g_bytes_get_data(b, NULL),
                                                g_bytes_get_size(b));
        json_array_add_string_element(queued, text);
    }
    json_object_set_array_member(o, "queued", queued);
    set_base64(o, "partial", g_bytes_get_data(st->partial, NULL),
               g_bytes_get_size(st->partial));
    set_base64(o, "output", g_bytes_get_data(st->output, NULL),
               g_bytes_get_size(st->output));
    return o;
}

static void add_client(void *opaque, int fd, const QmpClientState *st)
{
    HandoffTable *t = opaque;
    g_autofree char *name = g_strdup_printf(QMP_CLIENT_PREFIX "%u",
                                            handoff_table_size(t));

    handoff_table_add(t, name, fd, client_state(st));
}

void qmp_hand_over(HandoffTable *t)
{
    qmp_server_foreach_client(add_client, t);
}

static void add_hmp_client(void *opaque, int fd, const HmpClientState *st)
{
    HandoffTable *t = opaque;
    g_autofree char *name = g_strdup_printf(HMP_CLIENT_PREFIX "%u",
                                            handoff_table_size(t));
    JsonObject *o = json_object_new();

    json_object_set_string_member(o, "name", st->name);
    if (st->chardev) {
        json_object_set_string_member(o, "chardev", st->chardev);
    }
    json_object_set_string_member(o, "line", st->line);
    json_object_set_boolean_member(o, "discarding", st->discarding);
    set_base64(o, "output", g_bytes_get_data(st->output, NULL),
               g_bytes_get_size(st->output));
    handoff_table_add(t, name, fd, o);
}

static void adopt_hmp_client(const char *name)
{
    g_autoptr(JsonObject) o = NULL;
    int fd = live_update_take_fd(name, &o);
    HmpClientState st = { 0 };

    if (fd < 0 || !o) {
        ferry_log("live update: %s came without its socket or state", name);
        return;
    }
    st.name = json_object_get_string_member_with_default(o, "name", name);
    st.chardev = json_object_get_string_member_with_default(o, "chardev",
                                                            NULL);
    st.line = json_object_get_string_member_with_default(o, "line", "");
    st.discarding = json_object_get_boolean_member_with_default(
        o, "discarding", false);
    st.output = get_base64(o, "output");
    MonConn *c = hmp_client_adopt(fd, &st);
    if (st.chardev) {
        monitor_mon_adopt(st.chardev, c);
    }
    g_bytes_unref(st.output);
}

static void adopt_one(const char *name)
{
    g_autoptr(JsonObject) o = NULL;
    int fd = live_update_take_fd(name, &o);
    g_autoptr(GPtrArray) queued = g_ptr_array_new_with_free_func(
        (GDestroyNotify)g_bytes_unref);
    QmpClientState st = { 0 };

    if (fd < 0 || !o) {
        ferry_log("live update: %s came without its socket or state", name);
        return;
    }
    JsonArray *list = json_object_get_array_member(o, "queued");
    for (guint i = 0; list && i < json_array_get_length(list); i++) {
        gsize len;
        guchar *data = g_base64_decode(
            json_array_get_string_element(list, i), &len);
        g_ptr_array_add(queued, g_bytes_new_take(data, len));
    }
    st.name = json_object_get_string_member_with_default(o, "name", name);
    st.negotiated = json_object_get_boolean_member_with_default(
        o, "negotiated", false);
    st.oob_enabled = json_object_get_boolean_member_with_default(o, "oob",
                                                                 false);
    st.unix_socket = json_object_get_boolean_member_with_default(o, "unix",
                                                                 false);
    st.chardev = json_object_get_string_member_with_default(o, "chardev",
                                                            NULL);
    st.queued = queued;
    st.partial = get_base64(o, "partial");
    st.output = get_base64(o, "output");
    MonConn *c = qmp_client_adopt(fd, &st);
    if (st.chardev) {
        monitor_mon_adopt(st.chardev, c);
    }
    g_bytes_unref(st.partial);
    g_bytes_unref(st.output);
}

void qmp_adopt_clients(void)
{
    g_autoptr(GPtrArray) names = live_update_handed_names(QMP_CLIENT_PREFIX);
    g_autoptr(GPtrArray) hmp = live_update_handed_names(HMP_CLIENT_PREFIX);

    for (guint i = 0; i < names->len; i++) {
        adopt_one(g_ptr_array_index(names, i));
    }
    for (guint i = 0; i < hmp->len; i++) {
        adopt_hmp_client(g_ptr_array_index(hmp, i));
    }
}

void monitor_hand_over(HandoffTable *t, bool cutover)
{
    if (cutover) {
        qmp_hand_over(t);
        hmp_server_foreach_client(add_hmp_client, t);
    } else {
        mon_listeners_hand_over(t);
    }
}

void monitor_freeze(bool frozen)
{
    mon_listeners_freeze(frozen);
    qmp_server_freeze(frozen);
    hmp_server_freeze(frozen);
}

void monitor_adopt_clients(void)
{
    qmp_adopt_clients();
}
