/*
 * migration/userfaultfd.c on the real kernel, no mocks: a 64-page shared
 * memfd mapping registered in MISSING mode, toucher threads that fault on
 * it (loads and stores from user mode, and copy_to_user/copy_from_user
 * inside read(2)/write(2) from kernel mode, which is what KVM does), and
 * the test thread resolving the faults with uffd_copy/uffd_zeropage.
 * The minor tests map the memfd a second time (postcopy's staging
 * mapping), register the first in MISSING and MINOR mode and resolve with
 * uffd_continue: a page written through the staging mapping faults in the
 * other until continued.
 *
 * Under valgrind only one thread runs at a time and a thread blocked in a
 * page fault never gives the lock back, so the user-mode tests skip there;
 * the kernel-mode touches release it (they are system calls) and run.
 * Everything that could hang waits with a timeout instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "migration/ram/userfaultfd.h"

#ifdef __has_include
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define under_valgrind() RUNNING_ON_VALGRIND
#endif
#endif
#ifndef under_valgrind
#define under_valgrind() 0
#endif

#define NPAGES 64
#define PAGE UFFD_PAGE_SIZE
#define TIMEOUT_MS 10000

typedef struct Mem {
    int uffd;
    int mfd;
    uint8_t *base;
} Mem;

static uint8_t *page_at(Mem *m, unsigned i)
{
    return m->base + i * PAGE;
}

static void fill(uint8_t *buf, size_t len, uint8_t seed)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = seed + i * 7;
    }
}

/* Maps and registers NPAGES fresh pages; false (test skipped) if this
 * host cannot run the test. */
static bool mem_init(Mem *m, bool user_touches)
{
    g_autoptr(GError) err = NULL;

    if (user_touches && under_valgrind()) {
        g_test_skip("valgrind: a thread blocked in a user-mode fault "
                    "holds valgrind's lock");
        return false;
    }
    m->uffd = uffd_open(&err);
    if (m->uffd < 0) {
        g_test_skip(err->message);
        return false;
    }
    m->mfd = memfd_create("test-uffd", MFD_CLOEXEC);
    g_assert_cmpint(m->mfd, >=, 0);
    g_assert_cmpint(ftruncate(m->mfd, NPAGES * PAGE), ==, 0);
    m->base = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
                   m->mfd, 0);
    g_assert_true(m->base != MAP_FAILED);
    g_assert_true(uffd_register_missing(m->uffd, m->base, NPAGES * PAGE,
                                        &err));
    g_assert_no_error(err);
    return true;
}

static void mem_cleanup(Mem *m)
{
    munmap(m->base, NPAGES * PAGE);
    close(m->mfd);
    close(m->uffd);
}

/*
 * Minor mode: the pages below NPAGES / 2 hold data written through a
 * staging mapping (@staging), the rest are holes; the guest mapping
 * m->base has no page-table entries.  False (skipped) without the kernel
 * feature.
 */
static bool mem_init_minor(Mem *m, uint8_t **staging)
{
    g_autoptr(GError) err = NULL;

    if (under_valgrind()) {
        g_test_skip("valgrind: a thread blocked in a user-mode fault "
                    "holds valgrind's lock");
        return false;
    }
    m->uffd = uffd_open_minor(&err);
    if (m->uffd < 0) {
        g_test_skip(err->message);
        return false;
    }
    g_assert_true(uffd_minor_supported());
    m->mfd = memfd_create("test-uffd-minor", MFD_CLOEXEC);
    g_assert_cmpint(m->mfd, >=, 0);
    g_assert_cmpint(ftruncate(m->mfd, NPAGES * PAGE), ==, 0);
    m->base = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
                   m->mfd, 0);
    *staging = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
                    m->mfd, 0);
    g_assert_true(m->base != MAP_FAILED && *staging != MAP_FAILED);
    for (unsigned i = 0; i < NPAGES / 2; i++) {
        memset(*staging + i * PAGE, 0x40 + i, PAGE);
    }
    g_assert_true(uffd_register_minor(m->uffd, m->base, NPAGES * PAGE, &err));
    g_assert_no_error(err);
    return true;
}

/* --- toucher threads ------------------------------------------------------ */

typedef enum TouchKind {
    LOAD,           /* reads one byte */
    STORE,          /* writes one byte */
    SYS_LOAD,       /* write(2) of the page to a pipe: the kernel reads it */
    SYS_STORE,      /* read(2) from a pipe into the page: the kernel writes */
} TouchKind;

#define SYS_LEN 64  /* bytes a SYS_* touch moves */

typedef struct Touch {
    TouchKind kind;
    uint8_t *addr;
    uint8_t val;                /* STORE: the byte written */
    int pipe[2];                /* SYS_*: the kernel's other end */
    GThread *thread;
    int tid;                    /* atomic; set before touching */
    int done;                   /* atomic; set after */
    uint8_t seen;               /* LOAD: the byte read */
    ssize_t sys_ret;            /* SYS_*: what the system call returned */
} Touch;

static gpointer touch_thread(gpointer opaque)
{
    Touch *t = opaque;

    g_atomic_int_set(&t->tid, gettid());
    switch (t->kind) {
    case LOAD:
        t->seen = *(volatile uint8_t *)t->addr;
        break;
    case STORE:
        *(volatile uint8_t *)t->addr = t->val;
        break;
    case SYS_LOAD:
        t->sys_ret = write(t->pipe[1], t->addr, SYS_LEN);
        break;
    case SYS_STORE:
        t->sys_ret = read(t->pipe[0], t->addr, SYS_LEN);
        break;
    }
    g_atomic_int_set(&t->done, 1);
    return NULL;
}

/* Starts a thread touching @addr; returns once it is about to. */
static Touch *touch_start(TouchKind kind, uint8_t *addr, uint8_t val)
{
    Touch *t = g_new0(Touch, 1);

    t->kind = kind;
    t->addr = addr;
    t->val = val;
    t->pipe[0] = t->pipe[1] = -1;
    if (kind == SYS_LOAD || kind == SYS_STORE) {
        g_assert_cmpint(pipe2(t->pipe, O_CLOEXEC), ==, 0);
    }
    if (kind == SYS_STORE) {
        uint8_t src[SYS_LEN];

        fill(src, SYS_LEN, val);
        g_assert_cmpint(write(t->pipe[1], src, SYS_LEN), ==, SYS_LEN);
    }
    t->thread = g_thread_new("toucher", touch_thread, t);
    while (!g_atomic_int_get(&t->tid)) {
        g_usleep(100);
    }
    return t;
}

static bool touch_done_within(Touch *t, int ms)
{
    for (int i = 0; i < ms && !g_atomic_int_get(&t->done); i++) {
        g_usleep(1000);
    }
    return g_atomic_int_get(&t->done);
}

/* Joins @t, which must finish; what a LOAD or SYS_LOAD read goes to @out. */
static void touch_join(Touch *t, uint8_t *out)
{
    g_assert_true(touch_done_within(t, TIMEOUT_MS));
    g_thread_join(t->thread);
    if (t->kind == SYS_LOAD || t->kind == SYS_STORE) {
        g_assert_cmpint(t->sys_ret, ==, SYS_LEN);
    }
    if (t->kind == LOAD) {
        out[0] = t->seen;
    }
    if (t->kind == SYS_LOAD) {
        g_assert_cmpint(read(t->pipe[0], out, SYS_LEN), ==, SYS_LEN);
    }
    if (t->pipe[0] >= 0) {
        close(t->pipe[0]);
        close(t->pipe[1]);
    }
    g_free(t);
}

/* Collects exactly @n faults (each read reports what is pending). */
static void wait_faults(Mem *m, UffdFault *out, int n)
{
    int got = 0;
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_MS * 1000;

    while (got < n) {
        struct pollfd pfd = { .fd = m->uffd, .events = POLLIN };
        int r;

        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        if (poll(&pfd, 1, 100) <= 0) {
            continue;
        }
        r = uffd_read_faults(m->uffd, out + got, n - got);
        g_assert_cmpint(r, >=, 0);
        got += r;
    }
    /* and nothing more */
    g_assert_cmpint(uffd_read_faults(m->uffd, out, 1), ==, 0);
}

static void check_fault(Mem *m, Touch *t, unsigned page, bool write)
{
    UffdFault f;

    wait_faults(m, &f, 1);
    g_assert_cmphex(f.addr, ==, (uintptr_t)page_at(m, page));
    g_assert_cmpuint(f.tid, ==, t->tid);
    g_assert_cmpint(f.write, ==, write);
}

/* Present pages give -EEXIST without being changed (and without faults). */
static void assert_present(Mem *m, unsigned first, unsigned n)
{
    for (unsigned i = first; i < first + n; i++) {
        g_assert_cmpint(uffd_zeropage(m->uffd, page_at(m, i), PAGE, true),
                        ==, -EEXIST);
    }
}

/* --- tests ---------------------------------------------------------------- */

static void test_supported(void)
{
    g_autoptr(GError) err = NULL;
    int fd = uffd_open(&err);

    if (fd < 0) {
        g_test_skip(err->message);
        return;
    }
    close(fd);
    g_assert_true(uffd_supported(&err));
    g_assert_no_error(err);
}

/* A user-mode load faults (not a write), waits, and sees the copy. */
static void test_load(void)
{
    uint8_t src[PAGE], seen;
    Mem m;
    Touch *t;

    if (!mem_init(&m, true)) {
        return;
    }
    g_assert_cmpint(uffd_read_faults(m.uffd, NULL, 0), ==, 0);
    t = touch_start(LOAD, page_at(&m, 3) + 100, 0);
    check_fault(&m, t, 3, false);
    g_assert_false(touch_done_within(t, 20));   /* still waiting */

    fill(src, PAGE, 0x11);
    g_assert_cmpint(uffd_copy(m.uffd, page_at(&m, 3), src, PAGE, false),
                    ==, 0);
    touch_join(t, &seen);
    g_assert_cmpint(seen, ==, src[100]);
    g_assert_cmpmem(page_at(&m, 3), PAGE, src, PAGE);
    mem_cleanup(&m);
}

/* A user-mode store faults as a write; a zero page takes the store. */
static void test_store(void)
{
    uint8_t want[PAGE] = { 0 };
    Mem m;
    Touch *t;

    if (!mem_init(&m, true)) {
        return;
    }
    t = touch_start(STORE, page_at(&m, 5) + 7, 0x5a);
    check_fault(&m, t, 5, true);
    g_assert_cmpint(uffd_zeropage(m.uffd, page_at(&m, 5), PAGE, false),
                    ==, 0);
    touch_join(t, NULL);
    want[7] = 0x5a;
    g_assert_cmpmem(page_at(&m, 5), PAGE, want, PAGE);
    mem_cleanup(&m);
}

/* copy_from_user inside write(2), as KVM's get_user_pages would: caught
 * only because the descriptor is not UFFD_USER_MODE_ONLY. */
static void test_kernel_load(void)
{
    uint8_t src[PAGE], out[SYS_LEN];
    Mem m;
    Touch *t;

    if (!mem_init(&m, false)) {
        return;
    }
    t = touch_start(SYS_LOAD, page_at(&m, 9), 0);
    check_fault(&m, t, 9, false);
    fill(src, PAGE, 0x22);
    g_assert_cmpint(uffd_copy(m.uffd, page_at(&m, 9), src, PAGE, false),
                    ==, 0);
    touch_join(t, out);
    g_assert_cmpmem(out, SYS_LEN, src, SYS_LEN);
    mem_cleanup(&m);
}

/* copy_to_user inside read(2) faults as a write. */
static void test_kernel_store(void)
{
    uint8_t want[PAGE] = { 0 };
    Mem m;
    Touch *t;

    if (!mem_init(&m, false)) {
        return;
    }
    t = touch_start(SYS_STORE, page_at(&m, 11) + 100, 0x33);
    check_fault(&m, t, 11, true);
    g_assert_cmpint(uffd_zeropage(m.uffd, page_at(&m, 11), PAGE, false),
                    ==, 0);
    touch_join(t, NULL);
    fill(want + 100, SYS_LEN, 0x33);
    g_assert_cmpmem(page_at(&m, 11), PAGE, want, PAGE);
    mem_cleanup(&m);
}

/* Several threads, two of them on one page: every fault is reported, one
 * multi-page copy wakes the first four at once. */
static void test_many(void)
{
    enum { N = 6 };
    static const unsigned pages[N] = { 30, 31, 32, 33, 40, 40 };
    uint8_t src[4 * PAGE], out[SYS_LEN];
    UffdFault f[N];
    Touch *t[N];
    Mem m;

    if (!mem_init(&m, false)) {
        return;
    }
    for (int i = 0; i < N; i++) {
        t[i] = touch_start(SYS_LOAD, page_at(&m, pages[i]), 0);
    }
    wait_faults(&m, f, N);
    for (int i = 0; i < N; i++) {      /* each toucher's fault, once */
        int hits = 0;

        for (int j = 0; j < N; j++) {
            if (f[j].tid == (uint32_t)t[i]->tid) {
                g_assert_cmphex(f[j].addr, ==,
                                (uintptr_t)page_at(&m, pages[i]));
                g_assert_false(f[j].write);
                hits++;
            }
        }
        g_assert_cmpint(hits, ==, 1);
    }

    fill(src, sizeof(src), 0x44);
    g_assert_cmpint(uffd_copy(m.uffd, page_at(&m, 30), src, sizeof(src),
                              false), ==, 0);
    g_assert_cmpint(uffd_zeropage(m.uffd, page_at(&m, 40), PAGE, false),
                    ==, 0);
    for (int i = 0; i < N; i++) {
        static const uint8_t zero[SYS_LEN];

        touch_join(t[i], out);
        if (pages[i] == 40) {
            g_assert_cmpmem(out, SYS_LEN, zero, SYS_LEN);
        } else {
            g_assert_cmpmem(out, SYS_LEN, src + (pages[i] - 30) * PAGE,
                            SYS_LEN);
        }
    }
    mem_cleanup(&m);
}

static void test_eexist(void)
{
    uint8_t a[PAGE], b[PAGE];
    Mem m;

    if (!mem_init(&m, false)) {
        return;
    }
    fill(a, PAGE, 1);
    fill(b, PAGE, 2);
    g_assert_cmpint(uffd_copy(m.uffd, page_at(&m, 0), a, PAGE, false), ==, 0);
    g_assert_cmpint(uffd_copy(m.uffd, page_at(&m, 0), b, PAGE, false),
                    ==, -EEXIST);
    g_assert_cmpint(uffd_zeropage(m.uffd, page_at(&m, 0), PAGE, false),
                    ==, -EEXIST);
    g_assert_cmpmem(page_at(&m, 0), PAGE, a, PAGE);
    mem_cleanup(&m);
}

/* Pages 16..23 with 17 and 20 present: the other six are placed. */
static void test_eexist_range(void)
{
    uint8_t old[PAGE], src[8 * PAGE];
    Mem m;

    if (!mem_init(&m, false)) {
        return;
    }
    fill(old, PAGE, 0x55);
    g_assert_cmpint(uffd_copy(m.uffd, page_at(&m, 17), old, PAGE, false),
                    ==, 0);
    g_assert_cmpint(uffd_copy(m.uffd, page_at(&m, 20), old, PAGE, false),
                    ==, 0);
    fill(src, sizeof(src), 0x66);
    g_assert_cmpint(uffd_copy(m.uffd, page_at(&m, 16), src, sizeof(src),
                              false), ==, -EEXIST);
    assert_present(&m, 16, 8);
    for (unsigned i = 16; i < 24; i++) {
        const uint8_t *want = i == 17 || i == 20 ? old : src + (i - 16) * PAGE;

        g_assert_cmpmem(page_at(&m, i), PAGE, want, PAGE);
    }

    /* the same for zero pages, the present one last */
    g_assert_cmpint(uffd_copy(m.uffd, page_at(&m, 27), old, PAGE, false),
                    ==, 0);
    g_assert_cmpint(uffd_zeropage(m.uffd, page_at(&m, 24), 4 * PAGE, false),
                    ==, -EEXIST);
    assert_present(&m, 24, 4);
    g_assert_cmpmem(page_at(&m, 27), PAGE, old, PAGE);
    g_assert_cmpint(page_at(&m, 25)[123], ==, 0);
    mem_cleanup(&m);
}

/* A dontwake placement leaves the waiter asleep until a wake: by
 * uffd_wake, or by a placement that finds the page there already. */
static void test_wake(void)
{
    uint8_t src[PAGE], out[SYS_LEN];
    Mem m;
    Touch *t;

    if (!mem_init(&m, false)) {
        return;
    }
    fill(src, PAGE, 0x77);

    t = touch_start(SYS_LOAD, page_at(&m, 50), 0);
    check_fault(&m, t, 50, false);
    g_assert_cmpint(uffd_copy(m.uffd, page_at(&m, 50), src, PAGE, true),
                    ==, 0);
    g_assert_false(touch_done_within(t, 50));
    g_assert_cmpint(uffd_wake(m.uffd, page_at(&m, 50), PAGE), ==, 0);
    touch_join(t, out);
    g_assert_cmpmem(out, SYS_LEN, src, SYS_LEN);

    t = touch_start(SYS_LOAD, page_at(&m, 51), 0);
    check_fault(&m, t, 51, false);
    g_assert_cmpint(uffd_zeropage(m.uffd, page_at(&m, 51), PAGE, true),
                    ==, 0);
    g_assert_false(touch_done_within(t, 50));
    g_assert_cmpint(uffd_copy(m.uffd, page_at(&m, 51), src, PAGE, false),
                    ==, -EEXIST);
    touch_join(t, out);
    g_assert_cmpint(out[0], ==, 0);

    /* waking where nobody waits is fine */
    g_assert_cmpint(uffd_wake(m.uffd, page_at(&m, 0), NPAGES * PAGE), ==, 0);
    mem_cleanup(&m);
}

/* Unregistering wakes a waiter, which then faults like anyone else. */
static void test_unregister(void)
{
    g_autoptr(GError) err = NULL;
    static const uint8_t zero[SYS_LEN];
    uint8_t src[PAGE], out[SYS_LEN];
    Mem m;
    Touch *t;

    if (!mem_init(&m, false)) {
        return;
    }
    t = touch_start(SYS_LOAD, page_at(&m, 60), 0);
    check_fault(&m, t, 60, false);
    g_assert_true(uffd_unregister(m.uffd, m.base, NPAGES * PAGE, &err));
    g_assert_no_error(err);
    touch_join(t, out);
    g_assert_cmpmem(out, SYS_LEN, zero, SYS_LEN);

    for (unsigned i = 0; i < NPAGES; i++) {
        g_assert_cmpint(page_at(&m, i)[i], ==, 0);
        page_at(&m, i)[i] = i;
    }
    fill(src, PAGE, 0x88);
    g_assert_cmpint(uffd_copy(m.uffd, page_at(&m, 1), src, PAGE, false),
                    ==, -ENOENT);
    g_assert_cmpint(uffd_read_faults(m.uffd, NULL, 0), ==, 0);
    g_assert_cmpint(page_at(&m, 1)[1], ==, 1);
    mem_cleanup(&m);
}

static void test_register_errors(void)
{
    g_autoptr(GError) err = NULL;
    Mem m;

    if (!mem_init(&m, false)) {
        return;
    }
    g_assert_false(uffd_register_missing(m.uffd, m.base + 1, PAGE, &err));
    g_assert_nonnull(strstr(err->message, "UFFDIO_REGISTER"));
    g_clear_error(&err);
    g_assert_false(uffd_unregister(m.uffd, m.base, PAGE + 1, &err));
    g_assert_nonnull(strstr(err->message, "UFFDIO_UNREGISTER"));
    mem_cleanup(&m);
}

static char *read_all(int fd)
{
    GString *s = g_string_new(NULL);
    char buf[256];
    ssize_t n;

    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        g_string_append_len(s, buf, n);
    }
    return g_string_free(s, FALSE);
}

/* As an ordinary user (no CAP_SYS_PTRACE, no access to /dev/userfaultfd)
 * uffd_open says why it cannot. */
static void test_unprivileged(void)
{
    g_autofree char *msg = NULL;
    int p[2], status;
    pid_t pid;

    if (geteuid() != 0) {
        g_test_skip("needs root to become an ordinary user");
        return;
    }
    g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
    pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        GError *err = NULL;
        const char *res = "setuid failed";
        int fd;

        if (setgroups(0, NULL) == 0 && setgid(65534) == 0 &&
            setuid(65534) == 0) {
            fd = uffd_open(&err);
            res = fd >= 0 ? "opened" : err->message;
        }
        if (write(p[1], res, strlen(res)) < 0) {
            _exit(2);
        }
        _exit(0);
    }
    close(p[1]);
    msg = read_all(p[0]);
    close(p[0]);
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (g_str_equal(msg, "opened")) {
        g_test_skip("ordinary users may use userfaultfd here");
        return;
    }
    g_test_message("%s", msg);
    g_assert_true(g_str_has_prefix(msg, "userfaultfd is not available: "));
    g_assert_nonnull(strstr(msg, "/dev/userfaultfd"));
}

/* A page in the page cache but not mapped faults; CONTINUE shows it. */
static void test_minor_load(void)
{
    uint8_t *staging, seen;
    Mem m;
    Touch *t;

    if (!mem_init_minor(&m, &staging)) {
        return;
    }
    t = touch_start(LOAD, page_at(&m, 3) + 100, 0);
    check_fault(&m, t, 3, false);
    g_assert_false(touch_done_within(t, 20));   /* still waiting */
    staging[3 * PAGE + 100] = 0x99;             /* final contents */
    g_assert_cmpint(uffd_continue(m.uffd, page_at(&m, 3), PAGE, false), ==, 0);
    touch_join(t, &seen);
    g_assert_cmpint(seen, ==, 0x99);
    /* mapped now: a second continue finds it */
    g_assert_cmpint(uffd_continue(m.uffd, page_at(&m, 3), PAGE, false), ==,
                    -EEXIST);
    munmap(staging, NPAGES * PAGE);
    mem_cleanup(&m);
}

/* The kernel's own access (what KVM does) faults the same way, and what
 * it writes lands in the one page both mappings share. */
static void test_minor_kernel_store(void)
{
    uint8_t *staging, want[SYS_LEN];
    Mem m;
    Touch *t;

    if (!mem_init_minor(&m, &staging)) {
        return;
    }
    t = touch_start(SYS_STORE, page_at(&m, 7), 0x21);
    check_fault(&m, t, 7, true);
    g_assert_cmpint(uffd_continue(m.uffd, page_at(&m, 7), PAGE, false), ==, 0);
    touch_join(t, NULL);
    fill(want, SYS_LEN, 0x21);
    g_assert_cmpmem(staging + 7 * PAGE, SYS_LEN, want, SYS_LEN);
    munmap(staging, NPAGES * PAGE);
    mem_cleanup(&m);
}

/* A hole has nothing to continue: -EFAULT, and its fault is a missing
 * one that UFFDIO_ZEROPAGE resolves. */
static void test_minor_hole(void)
{
    uint8_t *staging, seen = 0xff;
    unsigned hole = NPAGES - 1;
    Mem m;
    Touch *t;

    if (!mem_init_minor(&m, &staging)) {
        return;
    }
    g_assert_cmpint(uffd_continue(m.uffd, page_at(&m, hole), PAGE, false),
                    ==, -EFAULT);
    t = touch_start(LOAD, page_at(&m, hole), 0);
    check_fault(&m, t, hole, false);
    g_assert_cmpint(uffd_zeropage(m.uffd, page_at(&m, hole), PAGE, false),
                    ==, 0);
    touch_join(t, &seen);
    g_assert_cmpint(seen, ==, 0);
    munmap(staging, NPAGES * PAGE);
    mem_cleanup(&m);
}

/* A range with mapped pages inside maps all the others (-EEXIST); one
 * with a hole stops there (-EFAULT) with the pages before it mapped. */
static void test_minor_range(void)
{
    uint8_t *staging;
    Mem m;

    if (!mem_init_minor(&m, &staging)) {
        return;
    }
    g_assert_cmpint(uffd_continue(m.uffd, page_at(&m, 4), PAGE, false), ==, 0);
    g_assert_cmpint(uffd_continue(m.uffd, page_at(&m, 0), 8 * PAGE, false),
                    ==, -EEXIST);
    for (unsigned i = 0; i < 8; i++) {
        g_assert_cmpint(page_at(&m, i)[0], ==, 0x40 + i);   /* no fault */
    }
    g_assert_cmpint(uffd_continue(m.uffd, page_at(&m, NPAGES / 2 - 2),
                                  4 * PAGE, false), ==, -EFAULT);
    g_assert_cmpint(page_at(&m, NPAGES / 2 - 1)[0], ==, 0x40 + NPAGES / 2 - 1);
    g_assert_cmpint(uffd_read_faults(m.uffd, NULL, 0), ==, 0);
    munmap(staging, NPAGES * PAGE);
    mem_cleanup(&m);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/userfaultfd/supported", test_supported);
    g_test_add_func("/userfaultfd/fault/load", test_load);
    g_test_add_func("/userfaultfd/fault/store", test_store);
    g_test_add_func("/userfaultfd/fault/kernel-load", test_kernel_load);
    g_test_add_func("/userfaultfd/fault/kernel-store", test_kernel_store);
    g_test_add_func("/userfaultfd/fault/many", test_many);
    g_test_add_func("/userfaultfd/place/eexist", test_eexist);
    g_test_add_func("/userfaultfd/place/eexist-range", test_eexist_range);
    g_test_add_func("/userfaultfd/wake", test_wake);
    g_test_add_func("/userfaultfd/unregister", test_unregister);
    g_test_add_func("/userfaultfd/register-errors", test_register_errors);
    g_test_add_func("/userfaultfd/open/unprivileged", test_unprivileged);
    g_test_add_func("/userfaultfd/minor/load", test_minor_load);
    g_test_add_func("/userfaultfd/minor/kernel-store", test_minor_kernel_store);
    g_test_add_func("/userfaultfd/minor/hole", test_minor_hole);
    g_test_add_func("/userfaultfd/minor/range", test_minor_range);
    return g_test_run();
}
