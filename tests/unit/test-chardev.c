/*
 * The chardev layer (chardev/): each backend with real files, terminals
 * and sockets; the socket's one-client-at-a-time accepting for a monitor
 * and for a device; query-chardev's filenames; and every refusal's exact
 * message.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "chardev/chardev.h"
#include "util/error.h"

typedef struct Fixture {
    char *dir;
    FdSets *fdsets;
    ChardevSet *set;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp("ferry-chardev-XXXXXX", NULL);
    f->fdsets = fdsets_new();
    f->set = chardev_set_new(f->fdsets);
}

static void teardown(Fixture *f, gconstpointer data)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->dir);

    chardev_set_free(f->set);
    fdsets_free(f->fdsets);
    g_assert_cmpint(system(cmd), ==, 0);
    g_free(f->dir);
}

static Chardev *add(Fixture *f, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static Chardev *add(Fixture *f, const char *fmt, ...)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *spec = NULL;
    va_list ap;
    Chardev *chr;

    va_start(ap, fmt);
    spec = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    chr = chardev_set_add(f->set, spec, &err);
    g_assert_no_error(err);
    g_assert_nonnull(chr);
    return chr;
}

static char *read_file(const char *path)
{
    char *text = NULL;

    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    return text;
}

static void expect_filename(Chardev *chr, const char *want)
{
    g_autofree char *name = chardev_filename(chr);

    g_assert_cmpstr(name, ==, want);
}

/* Runs the main loop until @done(@opaque) or 5 s. */
static void run_until(bool (*done)(void *), void *opaque)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    while (!done(opaque)) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
}

static void test_file(Fixture *f, gconstpointer data)
{
    g_autofree char *path = g_build_filename(f->dir, "a,b.log", NULL);
    g_autofree char *shorthand = g_strdup_printf("file:%s", path);
    g_auto(GStrv) parts = g_strsplit(path, ",", -1);
    g_autofree char *escaped = g_strjoinv(",,", parts);
    g_autofree char *text = NULL;
    Chardev *chr;

    g_assert_true(g_file_set_contents(path, "old\n", -1, NULL));
    /* The -serial shorthand: a comma in the path is no key separator */
    chr = chardev_set_add_shorthand(f->set, "serial0", shorthand, NULL);
    g_assert_nonnull(chr);
    g_assert_cmpstr(chardev_id(chr), ==, "serial0");
    expect_filename(chr, "file");
    g_assert_false(chardev_frontend_open(chr));
    chardev_write(chr, "line 1\n", 7);
    text = read_file(path);
    g_assert_cmpstr(text, ==, "line 1\n");       /* truncated at open */
    g_clear_pointer(&text, g_free);

    chr = add(f, "file,id=again,path=%s,append=on", escaped);
    chardev_write(chr, "line 2\n", 7);
    text = read_file(path);
    g_assert_cmpstr(text, ==, "line 1\nline 2\n");
}

/* libvirt's console log: a file it opened, passed in an fd set. */
static void test_file_fdset(Fixture *f, gconstpointer data)
{
    g_autofree char *path = g_build_filename(f->dir, "console.log", NULL);
    g_autofree char *text = NULL;
    g_autoptr(GError) err = NULL;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    Chardev *chr;

    g_assert_cmpint(write(fd, "libvirt\n", 8), ==, 8);
    g_assert_true(fdsets_add(f->fdsets, 3, fd, "serial0-source", &err));
    chr = add(f, "file,id=charserial0,path=/dev/fdset/3,append=on");
    chardev_write(chr, "guest\n", 6);
    text = read_file(path);
    g_assert_cmpstr(text, ==, "libvirt\nguest\n");
}

static void test_null_stdio(Fixture *f, gconstpointer data)
{
    Chardev *chr = add(f, "null,id=n0");

    expect_filename(chr, "null");
    chardev_write(chr, "gone\n", 5);
    g_assert_cmpstr(chardev_backend(chr), ==, "null");
    chr = add(f, "{\"backend\": \"stdio\", \"id\": \"s0\", \"signal\": false}");
    expect_filename(chr, "stdio");
    g_assert_true(chardev_find(f->set, "s0") == chr);
    g_assert_null(chardev_find(f->set, "nope"));
    g_assert_cmpuint(chardev_set_list(f->set)->len, ==, 2);
}

static void test_pty(Fixture *f, gconstpointer data)
{
    Chardev *chr = add(f, "pty,id=charserial0");
    g_autofree char *name = chardev_filename(chr);
    const char *path = name + strlen("pty:");
    struct pollfd pfd;
    char buf[64];
    int slave;

    g_assert_true(g_str_has_prefix(name, "pty:/dev/pts/"));
    /* Nobody has the terminal open: output is dropped, not kept */
    chardev_write(chr, "lost\n", 5);
    slave = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK);
    g_assert_cmpint(slave, >=, 0);
    pfd = (struct pollfd){ .fd = slave, .events = POLLIN };
    g_assert_cmpint(poll(&pfd, 1, 100), ==, 0);
    chardev_write(chr, "seen\r\n", 6);
    g_assert_cmpint(poll(&pfd, 1, 2000), ==, 1);
    /* Raw mode: the bytes as written */
    g_assert_cmpint(read(slave, buf, sizeof(buf)), ==, 6);
    g_assert_cmpmem(buf, 6, "seen\r\n", 6);
    close(slave);
}

static int connect_unix(const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
    g_assert_cmpint(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), ==, 0);
    return fd;
}

/* A monitor's view: the connections it was handed. */
typedef struct Taker {
    GArray *fds;
} Taker;

static void taker_connected(void *opaque, int fd)
{
    Taker *t = opaque;

    g_array_append_val(t->fds, fd);
}

static const ChardevFrontend taker_frontend = {
    .connected = taker_connected,
};

typedef struct Wait {
    Taker *t;
    guint n;
} Wait;

static bool has_n(void *opaque)
{
    Wait *w = opaque;

    return w->t->fds->len >= w->n;
}

/* libvirt's monitor: a socket it bound and listens on, passed as fd=N;
 * one client at a time, the next one accepted once the first left. */
static void test_socket_fd_monitor(Fixture *f, gconstpointer data)
{
    g_autofree char *path = g_build_filename(f->dir, "monitor.sock", NULL);
    g_autofree char *want = g_strdup_printf("unix:%s,server=on", path);
    g_autofree char *dis = g_strdup_printf("disconnected:%s", want);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0), c1, c2;
    Taker t = { g_array_new(FALSE, FALSE, sizeof(int)) };
    Wait w = { &t, 1 };
    Chardev *chr;

    g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
    g_assert_cmpint(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), ==, 0);
    g_assert_cmpint(listen(lfd, 4), ==, 0);
    chr = add(f, "socket,id=charmonitor,fd=%d,server=on,wait=off", lfd);
    g_assert_true(chardev_attach(chr, &taker_frontend, &t, NULL));
    g_assert_true(chardev_frontend_open(chr));
    expect_filename(chr, dis);

    c1 = connect_unix(path);
    run_until(has_n, &w);
    expect_filename(chr, want);
    c2 = connect_unix(path);            /* waits in the listen queue */
    for (int i = 0; i < 50; i++) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
    g_assert_cmpuint(t.fds->len, ==, 1);
    close(g_array_index(t.fds, int, 0));
    close(c1);
    chardev_connection_closed(chr);
    w.n = 2;
    run_until(has_n, &w);
    close(g_array_index(t.fds, int, 1));
    close(c2);
    g_array_unref(t.fds);
}

typedef struct Peer {
    int fd;
    char buf[64];
    size_t len;
} Peer;

static bool peer_got_line(void *opaque)
{
    Peer *p = opaque;
    ssize_t n = recv(p->fd, p->buf + p->len, sizeof(p->buf) - p->len,
                     MSG_DONTWAIT);

    p->len += n > 0 ? (size_t)n : 0;
    return p->len && p->buf[p->len - 1] == '\n';
}

static bool is_connected(void *opaque)
{
    g_autofree char *name = chardev_filename(opaque);

    return !g_str_has_prefix(name, "disconnected:");
}

static bool is_disconnected(void *opaque)
{
    return !is_connected(opaque);
}

/* A device on a socket: the backend keeps the client and writes to it. */
static void test_socket_path_device(Fixture *f, gconstpointer data)
{
    g_autofree char *path = g_build_filename(f->dir, "serial.sock", NULL);
    Chardev *chr = add(f, "socket,id=ser,path=%s,server=on,wait=off", path);
    Peer p = { .fd = connect_unix(path) };

    run_until(is_connected, chr);
    chardev_write(chr, "hello\n", 6);
    run_until(peer_got_line, &p);
    g_assert_cmpmem(p.buf, p.len, "hello\n", 6);
    close(p.fd);
    run_until(is_disconnected, chr);
    chardev_write(chr, "nobody\n", 7);      /* dropped, no error */
    p = (Peer){ .fd = connect_unix(path) };
    run_until(is_connected, chr);
    chardev_write(chr, "again\n", 6);
    run_until(peer_got_line, &p);
    g_assert_cmpmem(p.buf, p.len, "again\n", 6);
    close(p.fd);
}

static void test_attach(Fixture *f, gconstpointer data)
{
    static const ChardevFrontend device;
    g_autoptr(GError) err = NULL;
    Chardev *file = add(f, "null,id=n");

    g_assert_true(chardev_attach(file, &device, NULL, &err));
    g_assert_false(chardev_attach(file, &device, NULL, &err));
    g_assert_cmpstr(err->message, ==, "chardev 'n' is already in use");
    g_clear_error(&err);
    file = add(f, "null,id=m");
    g_assert_false(chardev_attach(file, &taker_frontend, NULL, &err));
    g_assert_cmpstr(err->message, ==, "chardev 'm' is a null chardev; a "
                    "monitor needs a socket chardev (server=on)");
    g_clear_error(&err);
    g_assert_null(chardev_set_add_shorthand(f->set, "serial0",
                                            "chardev:nope", &err));
    g_assert_cmpstr(err->message, ==, "no chardev 'nope'");
    g_assert_true(chardev_set_add_shorthand(f->set, "serial0", "chardev:m",
                                            NULL) == file);
}

/* Each spec is refused with exactly this message ("%s" is the test dir). */
static const struct {
    const char *spec;
    const char *error;
} refusals[] = {
    { "null", "id= is required" },
    { "id=x", "a backend is required (socket, file, pty, null, stdio)" },
    { "spicevmc,id=x", "unsupported backend 'spicevmc' (ferry has: socket, "
      "file, pty, null, stdio)" },
    { "null,id=1x", "Parameter 'id' expects an identifier (a letter, then "
      "letters, digits, '-', '.', '_'), not '1x'" },
    { "null,id=x,path=/p", "Unknown parameter 'path' (accepted: backend, "
      "id)" },
    { "pty,id=x,logfile=/l", "Unknown parameter 'logfile' (accepted: "
      "backend, id)" },
    { "file,id=x", "'x': path= is required" },
    { "file,id=x,path=/dev/fdset/7", "'x': path='/dev/fdset/7': there is no "
      "fd set 7 (see -add-fd)" },
    { "file,id=x,path=%s/f,append=sometimes", "'x': Parameter 'append' "
      "expects 'on' or 'off', not 'sometimes'" },
    { "socket,id=x,path=%s/s", "'x': server=on is required (ferry's socket "
      "chardevs only listen)" },
    { "socket,id=x,path=%s/s,server=on,wait=on", "'x': wait=on is not "
      "supported (ferry does not hold start-up for a client); use wait=off" },
    { "socket,id=x,server=on,wait=off", "'x': give path=, fd= or host= with "
      "port=" },
    { "socket,id=x,path=%s/s,fd=3,server=on", "'x': give only one of path=, "
      "fd= and host=" },
    { "socket,id=x,fd=1,server=on", "'x': fd=1 is not a descriptor number "
      "above 2" },
    { "socket,id=x,fd=999,server=on", "'x': fd=999 is not a listening stream "
      "socket" },
    { "socket,id=x,path=%s/s,server=on,telnet=on", "Unknown parameter "
      "'telnet' (accepted: backend, id, path, fd, host, port, server, "
      "wait)" },
    { "null,id=dup", "duplicate chardev id 'dup'" },
};

static void test_refusals(Fixture *f, gconstpointer data)
{
    g_assert_nonnull(chardev_set_add(f->set, "null,id=dup", NULL));
    for (gsize i = 0; i < G_N_ELEMENTS(refusals); i++) {
        g_autoptr(GError) err = NULL;
        g_auto(GStrv) parts = g_strsplit(refusals[i].spec, "%s", -1);
        g_autofree char *spec = g_strjoinv(f->dir, parts);

        g_assert_null(chardev_set_add(f->set, spec, &err));
        g_assert_nonnull(err);
        g_assert_cmpstr(err->message, ==, refusals[i].error);
    }
    g_assert_cmpuint(chardev_set_list(f->set)->len, ==, 1);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) \
    g_test_add("/chardev/" path, Fixture, NULL, setup, fn, teardown)
    ADD("file", test_file);
    ADD("file-fdset", test_file_fdset);
    ADD("null-stdio", test_null_stdio);
    ADD("pty", test_pty);
    ADD("socket-fd-monitor", test_socket_fd_monitor);
    ADD("socket-path-device", test_socket_path_device);
    ADD("attach", test_attach);
    ADD("refusals", test_refusals);
    return g_test_run();
}
