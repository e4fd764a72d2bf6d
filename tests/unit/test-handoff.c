/*
 * The live update's handoff socket (system/live-update/handoff-*.c) over
 * a real SOCK_SEQPACKET pair: messages and descriptors arrive together,
 * a table of more descriptors than one packet carries arrives whole,
 * and every malformed packet is refused with a reason.
 */
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "system/live-update/handoff-table.h"
#include "system/live-update/handoff-wire.h"
#include "util/error.h"

static void seqpacket_pair(int sv[2])
{
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
                               sv), ==, 0);
}

/* Two descriptors name the same open file when an offset moves on both. */
static void assert_same_file(int a, int b)
{
    off_t before = lseek(b, 0, SEEK_CUR);

    g_assert_cmpint(write(a, "x", 1), ==, 1);
    g_assert_cmpint(lseek(b, 0, SEEK_CUR), ==, before + 1);
}

static int temp_file(void)
{
    char path[] = "/tmp/ferry-handoff-XXXXXX";
    int fd = mkstemp(path);

    g_assert_cmpint(fd, >=, 0);
    unlink(path);
    return fd;
}

static void test_message_with_fd(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(HandoffMsg) msg = NULL;
    JsonObject *body = json_object_new();
    int sv[2], file = temp_file(), got;

    seqpacket_pair(sv);
    json_object_set_string_member(body, "runstate", "running");
    g_assert_true(handoff_send(sv[0], HANDOFF_CUTOVER, body, &file, 1, &err));
    json_object_unref(body);
    msg = handoff_recv(sv[1], 1000, &err);
    g_assert_no_error(err);
    g_assert_cmpint(msg->type, ==, HANDOFF_CUTOVER);
    g_assert_cmpint(msg->version, ==, HANDOFF_VERSION);
    g_assert_cmpstr(json_object_get_string_member(msg->body, "runstate"), ==,
                    "running");
    got = handoff_msg_steal_fd(msg, 0);
    g_assert_cmpint(got, >=, 0);
    g_assert_true(fcntl(got, F_GETFD) & FD_CLOEXEC);
    assert_same_file(file, got);
    g_assert_cmpint(handoff_msg_steal_fd(msg, 1), ==, -1);
    close(got);
    close(file);
    close(sv[0]);
    close(sv[1]);
}

static void test_table_larger_than_a_packet(void)
{
    g_autoptr(HandoffTable) out = handoff_table_new();
    g_autoptr(HandoffTable) in = handoff_table_new();
    g_autoptr(GError) err = NULL;
    const int n = HANDOFF_MAX_FDS * 2 + 5;
    int sv[2], files[HANDOFF_MAX_FDS * 2 + 5];
    guint received = 0;

    seqpacket_pair(sv);
    for (int i = 0; i < n; i++) {
        g_autofree char *name = g_strdup_printf("file:%d", i);
        JsonObject *state = json_object_new();

        files[i] = temp_file();
        json_object_set_int_member(state, "index", i);
        handoff_table_add(out, name, files[i], state);
    }
    handoff_table_add(out, "state-only", -1, NULL);
    g_assert_true(handoff_table_send(out, sv[0], &err));
    g_assert_no_error(err);
    while (received < (guint)n + 1) {
        g_autoptr(HandoffMsg) msg = handoff_recv(sv[1], 1000, &err);

        g_assert_no_error(err);
        g_assert_cmpint(msg->type, ==, HANDOFF_FDS);
        g_assert_cmpuint(msg->fds->len, <=, HANDOFF_MAX_FDS);
        g_assert_true(handoff_table_receive(in, msg, &err));
        received = handoff_table_size(in);
    }
    for (int i = n - 1; i >= 0; i--) {
        g_autofree char *name = g_strdup_printf("file:%d", i);
        g_autoptr(JsonObject) state = NULL;
        int fd = handoff_table_take(in, name, &state);

        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(json_object_get_int_member(state, "index"), ==, i);
        assert_same_file(files[i], fd);
        close(fd);
        close(files[i]);
    }
    g_assert_true(handoff_table_has(in, "state-only"));
    g_assert_cmpint(handoff_table_take(in, "state-only", NULL), ==, -1);
    g_assert_cmpint(handoff_table_take(in, "file:0", NULL), ==, -1);
    close(sv[0]);
    close(sv[1]);
}

/* Raw packets a broken or foreign peer might send. */
typedef struct BadPacket {
    const char *name;
    const void *data;
    size_t len;
    const char *error;
} BadPacket;

static const uint32_t wrong_magic[] = { 0x12345678, 0x00010001, 0 };
static const uint32_t bad_type[] = { HANDOFF_MAGIC, 0x00630001, 0 };
static const uint32_t short_json[] = { HANDOFF_MAGIC, 0x00010001, 40 };
static const uint32_t not_object[] = { HANDOFF_MAGIC, 0x00010001, 2,
                                       0x00005d5b };   /* "[]" */

static const BadPacket bad_packets[] = {
    { "tiny", "ab", 2, "not a handoff message" },
    { "magic", wrong_magic, sizeof(wrong_magic), "not a handoff message" },
    { "type", bad_type, sizeof(bad_type), "unknown message type 99" },
    { "length", short_json, sizeof(short_json), "says 40 bytes of JSON" },
    { "array", not_object, 14, "not a JSON object" },
};

static void test_bad_packet(gconstpointer opaque)
{
    const BadPacket *p = opaque;
    g_autoptr(GError) err = NULL;
    int sv[2];

    seqpacket_pair(sv);
    g_assert_cmpint(send(sv[0], p->data, p->len, 0), ==, (ssize_t)p->len);
    g_assert_null(handoff_recv(sv[1], 1000, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, p->error));
    close(sv[0]);
    close(sv[1]);
}

static void test_peer_gone_and_silent(void)
{
    g_autoptr(GError) silent = NULL, gone = NULL;
    int sv[2];

    seqpacket_pair(sv);
    g_assert_null(handoff_recv(sv[1], 50, &silent));
    g_assert_nonnull(strstr(silent->message, "within 50 ms"));
    close(sv[0]);
    g_assert_null(handoff_recv(sv[1], 1000, &gone));
    g_assert_nonnull(strstr(gone->message, "closed"));
    close(sv[1]);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/handoff/message-with-fd", test_message_with_fd);
    g_test_add_func("/handoff/table-larger-than-a-packet",
                    test_table_larger_than_a_packet);
    for (gsize i = 0; i < G_N_ELEMENTS(bad_packets); i++) {
        g_autofree char *path = g_strdup_printf("/handoff/bad/%s",
                                                bad_packets[i].name);
        g_test_add_data_func(path, &bad_packets[i], test_bad_packet);
    }
    g_test_add_func("/handoff/peer-gone-and-silent",
                    test_peer_gone_and_silent);
    return g_test_run();
}
