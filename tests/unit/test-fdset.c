/*
 * -add-fd fd sets (util/fdset.c): what a set keeps, what /dev/fdset/N
 * opens, and the refusals, with real descriptors.
 */
#include <fcntl.h>
#include <unistd.h>
#include "util/error.h"
#include "util/fdset.h"

/* A pipe whose ends are inheritable, as a passed descriptor is. */
static void inheritable_pipe(int fds[2])
{
    g_assert_cmpint(pipe(fds), ==, 0);
}

static bool is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

static void test_open_dup(void)
{
    g_autoptr(FdSets) s = fdsets_new();
    g_autoptr(GError) err = NULL;
    int p[2], fd;
    char buf[8];

    inheritable_pipe(p);
    g_assert_true(fdsets_add(s, 0, p[1], "serial0-source", &err));
    g_assert_no_error(err);
    g_assert_false(is_open(p[1]));      /* the set keeps its own copy */

    fd = fdsets_open(s, "/dev/fdset/0", O_WRONLY | O_APPEND, &err);
    g_assert_no_error(err);
    g_assert_cmpint(fd, >=, 3);
    g_assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    g_assert_cmpint(write(fd, "hi", 2), ==, 2);
    close(fd);
    /* A second open gets another copy: the set still holds the file */
    fd = fdsets_open(s, "/dev/fdset/0", O_WRONLY, &err);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, "!", 1), ==, 1);
    close(fd);
    g_assert_cmpint(read(p[0], buf, sizeof(buf)), ==, 3);
    g_assert_cmpmem(buf, 3, "hi!", 3);
    close(p[0]);
}

/* The first member with a fitting access mode is the one opened. */
static void test_access_mode(void)
{
    g_autoptr(FdSets) s = fdsets_new();
    g_autoptr(GError) err = NULL;
    int p[2], fd;

    inheritable_pipe(p);
    g_assert_true(fdsets_add(s, 5, p[0], NULL, &err));     /* read end */
    g_assert_true(fdsets_add(s, 5, p[1], NULL, &err));     /* write end */
    fd = fdsets_open(s, "/dev/fdset/5", O_WRONLY, &err);
    g_assert_no_error(err);
    g_assert_cmpint(fcntl(fd, F_GETFL) & O_ACCMODE, ==, O_WRONLY);
    close(fd);
    fd = fdsets_open(s, "/dev/fdset/5", O_RDWR, &err);
    g_assert_cmpint(fd, ==, -1);
    g_assert_cmpstr(err->message, ==, "'/dev/fdset/5': fd set 5 has no "
                    "descriptor open for reading and writing");
}

static void test_refusals(void)
{
    static const struct {
        const char *path;
        const char *error;
    } opens[] = {
        { "/dev/fdset/1", "'/dev/fdset/1': there is no fd set 1 (see "
          "-add-fd)" },
        { "/dev/fdset/x", "'/dev/fdset/x' does not name an fd set "
          "(/dev/fdset/N)" },
        { "/dev/fdset/", "'/dev/fdset/' does not name an fd set "
          "(/dev/fdset/N)" },
        { "/tmp/x", "'/tmp/x' does not name an fd set (/dev/fdset/N)" },
    };
    g_autoptr(FdSets) s = fdsets_new();
    int p[2], cloexec;

    for (gsize i = 0; i < G_N_ELEMENTS(opens); i++) {
        g_autoptr(GError) err = NULL;

        g_assert_cmpint(fdsets_open(s, opens[i].path, O_WRONLY, &err), ==,
                        -1);
        g_assert_cmpstr(err->message, ==, opens[i].error);
    }
    {
        g_autoptr(GError) err = NULL;

        g_assert_false(fdsets_add(s, 0, 1000, NULL, &err));
        g_assert_cmpstr(err->message, ==,
                        "fd=1000 is not an open file descriptor");
    }
    {
        g_autoptr(GError) err = NULL;

        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        cloexec = p[1];
        g_assert_false(fdsets_add(s, 0, cloexec, NULL, &err));
        g_assert_true(g_str_has_suffix(err->message, "is close-on-exec: not "
                                       "one ferry inherited"));
        g_assert_true(is_open(cloexec));    /* refused: left alone */
        close(p[0]);
        close(p[1]);
    }
    g_assert_true(fdsets_is_path("/dev/fdset/0"));
    g_assert_false(fdsets_is_path("/dev/fd/0"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/fdset/open-dup", test_open_dup);
    g_test_add_func("/fdset/access-mode", test_access_mode);
    g_test_add_func("/fdset/refusals", test_refusals);
    return g_test_run();
}
