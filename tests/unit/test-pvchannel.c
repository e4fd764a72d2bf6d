/*
 * pvchannel (hw/char/pvchannel*.c) driven as the guest drives it:
 * registers through io_dispatch, bytes in two rings in guest RAM, a
 * doorbell; the host side is a real socket chardev and a real client.
 * The test thread plays the vCPU and runs the main loop (the chardev
 * accepts there); the channel's own I/O thread moves the bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "chardev/chardev.h"
#include "guest/pvchannel-dev.h"
#include "hw/pvchannel.h"
#include "system/ioport.h"
#include "mmio-test.h"
#include "system/memory.h"
#include "system/migration-vmm.h"
#include "util/fdset.h"

#define RAM_SIZE    (4ULL << 20)
#define G2H_GPA     0x10000ULL
#define H2G_GPA     0x40000ULL
#define RING        4096u
#define DEV         PVCHAN_DEV_ADDR(0)
#define TIMEOUT_US  (5 * G_USEC_PER_SEC)

typedef struct Fixture {
    char *dir;
    char *path;
    ChardevSet *set;
    RAMBlock *ram;
    uint32_t g2h_prod, h2g_cons;        /* the guest driver's indexes */
    uint32_t size;                      /* of each ring */
} Fixture;

/* --- the machine ------------------------------------------------------------ */

static void setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *chr = NULL;

    f->dir = g_dir_make_tmp("ferry-pvchan-XXXXXX", NULL);
    f->path = g_build_filename(f->dir, "ga.sock", NULL);
    f->set = chardev_set_new(NULL);
    chr = g_strdup_printf("socket,id=ga0,path=%s,server=on,wait=off",
                          f->path);
    g_assert_nonnull(chardev_set_add(f->set, chr, &err));
    f->ram = ram_block_new("pc.ram", RAM_SIZE, &err);
    g_assert_no_error(err);
    g_assert_nonnull(guest_region_add(0, f->ram, 0, RAM_SIZE, &err));
    g_assert_true(pvchannel_create(f->set, "pvchannel,chardev=ga0,"
                                   "name=org.qemu.guest_agent.0", &err));
    g_assert_no_error(err);
    pvchannel_set_running_all(true);
    f->g2h_prod = f->h2g_cons = 0;
}

static void teardown(Fixture *f, gconstpointer data)
{
    pvchannel_destroy_all();
    while (g_main_context_iteration(NULL, FALSE)) {
    }
    chardev_set_free(f->set);
    io_regions_reset();
    ram_blocks_destroy();
    rmdir(f->dir);
    g_free(f->path);
    g_free(f->dir);
}

static uint64_t reg_read(uint64_t reg)
{
    return mmio_test_read(DEV + reg);
}

static void reg_write(uint64_t reg, uint64_t v)
{
    mmio_test_write(DEV + reg, v);
}

static struct pvchan_ring_hdr *hdr(uint64_t gpa)
{
    return gpa_to_hva(gpa, sizeof(struct pvchan_ring_hdr));
}

static bool rings_up(Fixture *f, uint64_t g2h, uint64_t h2g, uint64_t size)
{
    reg_write(PVCHAN_REG_CONTROL, 0);
    reg_write(PVCHAN_REG_G2H_GPA, g2h);
    reg_write(PVCHAN_REG_G2H_SIZE, size);
    reg_write(PVCHAN_REG_H2G_GPA, h2g);
    reg_write(PVCHAN_REG_H2G_SIZE, size);
    reg_write(PVCHAN_REG_CONTROL, PVCHAN_CTL_ENABLE);
    f->g2h_prod = f->h2g_cons = 0;
    f->size = (uint32_t)size;
    return reg_read(PVCHAN_REG_STATUS) & PVCHAN_STATUS_ENABLED;
}

/* The guest writes @s into G2H and rings. */
static void guest_send(Fixture *f, const char *s)
{
    uint8_t *data = gpa_to_hva(G2H_GPA + sizeof(struct pvchan_ring_hdr),
                               f->size);

    for (size_t i = 0; s[i]; i++) {
        data[f->g2h_prod++ % f->size] = (uint8_t)s[i];
    }
    __atomic_store_n(&hdr(G2H_GPA)->prod, f->g2h_prod, __ATOMIC_RELEASE);
    reg_write(PVCHAN_REG_DOORBELL, 1);
}

/* The guest takes what H2G holds, appending to @out, and rings. */
static void guest_recv(Fixture *f, GString *out)
{
    const uint8_t *data = gpa_to_hva(H2G_GPA + sizeof(struct pvchan_ring_hdr),
                                     f->size);
    uint32_t prod = __atomic_load_n(&hdr(H2G_GPA)->prod, __ATOMIC_ACQUIRE);

    while (f->h2g_cons != prod) {
        g_string_append_c(out, (char)data[f->h2g_cons++ % f->size]);
    }
    __atomic_store_n(&hdr(H2G_GPA)->cons, f->h2g_cons, __ATOMIC_RELEASE);
    reg_write(PVCHAN_REG_DOORBELL, 1);
}

static int client_connect(Fixture *f)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_strlcpy(sun.sun_path, f->path, sizeof(sun.sun_path));
    g_assert_cmpint(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), ==, 0);
    return fd;
}

/* Runs the main loop until STATUS says connected (or not) */
static void wait_connected(bool connected)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;

    while (!!(reg_read(PVCHAN_REG_STATUS) & PVCHAN_STATUS_CONNECTED) !=
           connected) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
}

/* Reads exactly strlen(@want) bytes from @fd and compares. */
static void client_expect(int fd, const char *want)
{
    size_t len = strlen(want), got = 0;
    g_autofree char *buf = g_malloc0(len + 1);
    struct timeval tv = { .tv_sec = 5 };

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    while (got < len) {
        ssize_t n = recv(fd, buf + got, len - got, 0);
        g_assert_cmpint(n, >, 0);
        got += (size_t)n;
    }
    g_assert_cmpstr(buf, ==, want);
}

/* Nothing more arrives within a short while. */
static void client_expect_nothing(int fd)
{
    char c;

    g_assert_cmpint(recv(fd, &c, 1, MSG_DONTWAIT), ==, -1);
    g_assert_cmpint(errno, ==, EAGAIN);
}

/* The device publishes its index right after it sent the bytes. */
static void wait_index(uint32_t *idx, uint32_t want)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;

    while (__atomic_load_n(idx, __ATOMIC_ACQUIRE) != want) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(200);
    }
}

static void wait_guest_recv(Fixture *f, GString *out, size_t len)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;

    while (out->len < len) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        guest_recv(f, out);
        g_usleep(200);
    }
}

/* --- tests ------------------------------------------------------------------- */

static void test_registers(Fixture *f, gconstpointer data)
{
    char name[PVCHAN_NAME_MAX + 1] = { 0 };

    g_assert_cmphex(reg_read(PVCHAN_REG_ID), ==, PVCHAN_DEV_MAGIC);
    for (unsigned i = 0; i < PVCHAN_NAME_MAX; i += 8) {
        uint64_t v = reg_read(PVCHAN_REG_NAME + i);
        memcpy(name + i, &v, 8);
    }
    g_assert_cmpstr(name, ==, "org.qemu.guest_agent.0");
    g_assert_cmpuint(reg_read(PVCHAN_REG_STATUS), ==, 0);
    g_assert_true(rings_up(f, G2H_GPA, H2G_GPA, RING));
    g_assert_cmphex(reg_read(PVCHAN_REG_G2H_GPA), ==, G2H_GPA);
    g_assert_cmpuint(reg_read(PVCHAN_REG_H2G_SIZE), ==, RING);
}

static void test_roundtrip(Fixture *f, gconstpointer data)
{
    g_autoptr(GString) in = g_string_new("");
    int fd;

    g_assert_true(rings_up(f, G2H_GPA, H2G_GPA, RING));
    fd = client_connect(f);
    wait_connected(true);
    guest_send(f, "{\"return\": {}}\n");
    client_expect(fd, "{\"return\": {}}\n");
    wait_index(&hdr(G2H_GPA)->cons, f->g2h_prod);
    g_assert_cmpint(send(fd, "ping\n", 5, 0), ==, 5);
    wait_guest_recv(f, in, 5);
    g_assert_cmpstr(in->str, ==, "ping\n");
    close(fd);
}

/* What the guest writes with no client waits for the next one; a client
 * that leaves takes nothing with it that it did not read. */
static void test_reconnect(Fixture *f, gconstpointer data)
{
    int fd;

    g_assert_true(rings_up(f, G2H_GPA, H2G_GPA, RING));
    guest_send(f, "before-anyone\n");
    g_usleep(20000);
    g_assert_cmpuint(hdr(G2H_GPA)->cons, ==, 0);
    fd = client_connect(f);
    wait_connected(true);
    client_expect(fd, "before-anyone\n");
    close(fd);
    wait_connected(false);
    guest_send(f, "between\n");
    fd = client_connect(f);
    wait_connected(true);
    client_expect(fd, "between\n");
    g_usleep(20000);
    client_expect_nothing(fd);
    close(fd);
}

/* More than a ring from the host: it waits in the socket until the guest
 * makes room, and arrives whole and in order. */
static void test_backpressure(Fixture *f, gconstpointer data)
{
    g_autoptr(GString) want = g_string_new("");
    g_autoptr(GString) in = g_string_new("");
    int fd;

    g_assert_true(rings_up(f, G2H_GPA, H2G_GPA, 16));
    fd = client_connect(f);
    wait_connected(true);
    for (unsigned i = 0; want->len < 3 * 4096; i++) {
        g_string_append_printf(want, "%u,", i);
    }
    g_assert_cmpint(send(fd, want->str, want->len, 0), ==, (ssize_t)want->len);
    /* 16 bytes of ring: the guest must keep taking them */
    wait_guest_recv(f, in, want->len);
    g_assert_cmpuint(in->len, ==, want->len);
    g_assert_true(memcmp(in->str, want->str, want->len) == 0);
    close(fd);
}

/* A stopped VM's channel moves nothing, in either direction. */
static void test_stopped(Fixture *f, gconstpointer data)
{
    int fd;

    g_assert_true(rings_up(f, G2H_GPA, H2G_GPA, RING));
    fd = client_connect(f);
    wait_connected(true);
    pvchannel_set_running_all(false);
    guest_send(f, "held\n");
    g_assert_cmpint(send(fd, "in\n", 3, 0), ==, 3);
    g_usleep(50000);
    client_expect_nothing(fd);
    g_assert_cmpuint(hdr(G2H_GPA)->cons, ==, 0);
    g_assert_cmpuint(hdr(H2G_GPA)->prod, ==, 0);
    pvchannel_set_running_all(true);
    client_expect(fd, "held\n");
    close(fd);
}

/* A misprogrammed channel stops with STATUS_ERROR, ferry carries on. */
static void test_bad_rings(Fixture *f, gconstpointer data)
{
    static const struct { uint64_t g2h, h2g, size; } bad[] = {
        { 0, H2G_GPA, RING },                   /* no ring */
        { G2H_GPA + 1, H2G_GPA, RING },         /* unaligned */
        { G2H_GPA, H2G_GPA, 100 },              /* not a power of 2 */
        { G2H_GPA, H2G_GPA, 8 },                /* too small */
        { G2H_GPA, H2G_GPA, 1ull << 21 },       /* too large */
        { RAM_SIZE - 64, H2G_GPA, RING },       /* past the end of RAM */
        { G2H_GPA, ~0ull - 15, RING },          /* wraps */
    };

    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_false(rings_up(f, bad[i].g2h, bad[i].h2g, bad[i].size));
        g_assert_cmpuint(reg_read(PVCHAN_REG_STATUS), ==,
                         PVCHAN_STATUS_ERROR);
    }
    /* A ring register written under a live channel */
    g_assert_true(rings_up(f, G2H_GPA, H2G_GPA, RING));
    reg_write(PVCHAN_REG_G2H_SIZE, 64);
    g_assert_cmpuint(reg_read(PVCHAN_REG_STATUS), ==, PVCHAN_STATUS_ERROR);
    /* and the guest can start again */
    g_assert_true(rings_up(f, G2H_GPA, H2G_GPA, RING));
}

/* Indexes that lie: prod more than a ring ahead, cons past prod. */
static void test_bad_indexes(Fixture *f, gconstpointer data)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;
    int fd;

    g_assert_true(rings_up(f, G2H_GPA, H2G_GPA, RING));
    fd = client_connect(f);
    wait_connected(true);
    __atomic_store_n(&hdr(G2H_GPA)->prod, RING + 1, __ATOMIC_RELEASE);
    reg_write(PVCHAN_REG_DOORBELL, 1);
    while (!(reg_read(PVCHAN_REG_STATUS) & PVCHAN_STATUS_ERROR)) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(1000);
    }
    client_expect_nothing(fd);
    __atomic_store_n(&hdr(G2H_GPA)->prod, 0, __ATOMIC_RELEASE);
    g_assert_true(rings_up(f, G2H_GPA, H2G_GPA, RING));
    __atomic_store_n(&hdr(H2G_GPA)->cons, 7, __ATOMIC_RELEASE);
    reg_write(PVCHAN_REG_DOORBELL, 1);
    while (!(reg_read(PVCHAN_REG_STATUS) & PVCHAN_STATUS_ERROR)) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(1000);
    }
    close(fd);
}

static void test_create_refusals(Fixture *f, gconstpointer data)
{
    static const struct { const char *spec, *msg; } bad[] = {
        { "pvchannel,chardev=ga0", "pvchannel: name= is required" },
        { "pvchannel,chardev=nope,name=x", "pvchannel: chardev=nope: no such "
          "chardev" },
        { "pvchannel,name=org.qemu.guest_agent.0", "pvchannel: duplicate "
          "channel name 'org.qemu.guest_agent.0'" },
        { "pvchannel,name=x,bogus=1", NULL },
        { "pvchannel,name=0123456789012345678901234567890123", NULL },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) err = NULL;

        g_assert_false(pvchannel_create(f->set, bad[i].spec, &err));
        g_assert_nonnull(err);
        if (bad[i].msg) {
            g_assert_true(g_str_has_prefix(err->message, bad[i].msg));
        }
    }
    /* Up to four in all */
    for (int i = 1; i < PVCHAN_MAX_DEVS; i++) {
        g_autofree char *spec = g_strdup_printf("pvchannel,name=ch%d", i);
        g_assert_true(pvchannel_create(f->set, spec, NULL));
    }
    g_assert_false(pvchannel_create(f->set, "pvchannel,name=ch9", NULL));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_true(machine_migration_init(NULL));
#define ADD(path, fn) \
    g_test_add("/pvchannel/" path, Fixture, NULL, setup, fn, teardown)
    ADD("registers", test_registers);
    ADD("roundtrip", test_roundtrip);
    ADD("reconnect", test_reconnect);
    ADD("backpressure", test_backpressure);
    ADD("stopped", test_stopped);
    ADD("bad/rings", test_bad_rings);
    ADD("bad/indexes", test_bad_indexes);
    ADD("create-refusals", test_create_refusals);
    return g_test_run();
}
