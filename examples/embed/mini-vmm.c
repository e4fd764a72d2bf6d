/*
 * mini-vmm: a small "VMM" that embeds libferry-migration, built against
 * the installed package only:
 *
 *   cc mini-vmm.c $(pkg-config --cflags --libs ferry-migration) -o mini-vmm
 *
 * Its "guest" is a thread that keeps writing into guest RAM (a memfd, as
 * postcopy needs), and its one device is a counter whose state migrates
 * as VMState.  Dirty pages are found by comparison with a shadow copy.
 *
 *   mini-vmm dest   unix:PATH          receive, then print the RAM digest
 *   mini-vmm source unix:PATH [postcopy]
 *
 * Both sides print "digest <sha256>" with their guest stopped: equal
 * digests mean every byte moved.  In postcopy the destination reads all
 * of RAM while pages still arrive, so its reads fault through
 * userfaultfd and are served on demand.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <ferry/migration.h>

#define RAM_SIZE   (64u << 20)
#define PAGE       FERRY_MIG_PAGE_SIZE
#define NPAGES     (RAM_SIZE / PAGE)

typedef struct Counter {        /* the device */
    uint64_t ticks;
    uint32_t seed;
} Counter;

static const VMStateDescription vmstate_counter = {
    .name = "mini-counter",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(ticks, Counter),
        VMSTATE_UINT32(seed, Counter),
        VMSTATE_END_OF_LIST()
    },
};

typedef struct MiniVM {
    int memfd;
    uint8_t *ram, *shadow;
    Counter counter;
    GThread *guest;
    GThread *toucher;           /* destination, postcopy: reads all RAM */
    gint running;               /* atomic: the guest thread writes */
    gint quit;                  /* atomic */
    bool incoming;
    GMainLoop *loop;
    FerryMig *mig;
    MigrationStatus last;
} MiniVM;

/* --- the guest: one page after the other, a new value each time ------- */

static gpointer guest_thread(gpointer opaque)
{
    MiniVM *vm = opaque;
    uint64_t page = 0;

    while (!g_atomic_int_get(&vm->quit)) {
        if (!g_atomic_int_get(&vm->running)) {
            g_usleep(1000);
            continue;
        }
        uint64_t *w = (uint64_t *)(vm->ram + page * PAGE);
        w[vm->counter.ticks % (PAGE / 8)] = vm->counter.ticks ^ vm->counter.seed;
        vm->counter.ticks++;
        page = (page * 7 + 1) % NPAGES;
    }
    return NULL;
}

static void guest_pause(MiniVM *vm)
{
    g_atomic_int_set(&vm->running, 0);
    g_usleep(5000);     /* the thread finishes the write it is in */
}

/* --- the VMM table ---------------------------------------------------- */

static unsigned ram_block_count(void *opaque) { return 1; }

static void ram_block_get(void *opaque, unsigned index, FerryMigRAMBlock *b)
{
    MiniVM *vm = opaque;

    *b = (FerryMigRAMBlock){ "mini.ram", vm->ram, RAM_SIZE, vm->memfd };
}

static bool log_start(void *opaque, GError **errp)
{
    MiniVM *vm = opaque;

    memcpy(vm->shadow, vm->ram, RAM_SIZE);
    return true;
}

/* Dirty = differs from the copy taken at the last sync. */
static long log_sync(void *opaque, unsigned index, unsigned long *bitmap)
{
    MiniVM *vm = opaque;
    const unsigned bits = 8 * sizeof(unsigned long);
    long set = 0;

    for (uint64_t p = 0; p < NPAGES; p++) {
        uint8_t *now = vm->ram + p * PAGE, *then = vm->shadow + p * PAGE;
        if (memcmp(now, then, PAGE)) {
            memcpy(then, now, PAGE);
            bitmap[p / bits] |= 1UL << (p % bits);
        }
        set += (bitmap[p / bits] >> (p % bits)) & 1;
    }
    return set;
}

static void log_stop(void *opaque) { }

static bool vm_running(void *opaque)
{
    return g_atomic_int_get(&((MiniVM *)opaque)->running);
}

static bool vm_stop(void *opaque, GError **errp)
{
    guest_pause(opaque);
    return true;
}

static bool vm_start(void *opaque, GError **errp)
{
    g_atomic_int_set(&((MiniVM *)opaque)->running, 1);
    return true;
}

static void source_completed(void *opaque) { }

static bool incoming_allowed(void *opaque, GError **errp)
{
    if (!((MiniVM *)opaque)->incoming) {
        g_set_error_literal(errp, g_quark_from_static_string("mini-vmm"), 0,
                            "not a destination");
        return false;
    }
    return true;
}

static bool incoming_loaded(void *opaque, GError **errp) { return true; }

/* Keep the guest paused: the digest is taken with it stopped. */
static bool incoming_run(void *opaque, bool autostart, GError **errp)
{
    return true;
}

static void incoming_failed(void *opaque, const char *why, bool exit)
{
    fprintf(stderr, "mini-vmm: incoming migration failed: %s\n", why);
}

static gpointer touch_all(gpointer opaque)
{
    MiniVM *vm = opaque;
    volatile uint8_t sink = 0;

    for (uint64_t p = 0; p < NPAGES; p++) {
        sink ^= vm->ram[p * PAGE];      /* faults until the page arrives */
    }
    return NULL;
}

/* On the main loop, as every control call: the second pass began. */
static gboolean start_postcopy(gpointer opaque)
{
    MiniVM *vm = opaque;
    GError *err = NULL;

    if (!ferry_mig_start_postcopy(vm->mig, &err)) {
        fprintf(stderr, "mini-vmm: %s\n", err->message);
        g_error_free(err);
    }
    return G_SOURCE_REMOVE;
}

static gboolean quit_loop(gpointer opaque)
{
    g_main_loop_quit(opaque);
    return G_SOURCE_REMOVE;
}

/* Any migration thread: note the status, leave the work to the loop. */
static void on_event(void *opaque, const FerryMigEvent *ev)
{
    MiniVM *vm = opaque;

    if (ev->kind == FERRY_MIG_EVENT_PASS) {
        if (ev->pass == 2 && !vm->incoming &&
            ferry_mig_capability(vm->mig, MIGRATION_CAPABILITY_POSTCOPY_RAM)) {
            g_idle_add(start_postcopy, vm);
        }
        return;
    }
    printf("%s: %s\n", vm->incoming ? "dest" : "source",
           ferry_mig_status_name(ev->status));
    fflush(stdout);
    g_atomic_int_set((gint *)&vm->last, ev->status);
    if (ev->status == MIGRATION_STATUS_POSTCOPY_ACTIVE && vm->incoming &&
        !vm->toucher) {
        vm->toucher = g_thread_new("touch", touch_all, vm);
    }
    if (ev->status == MIGRATION_STATUS_COMPLETED ||
        ev->status == MIGRATION_STATUS_FAILED ||
        ev->status == MIGRATION_STATUS_CANCELLED) {
        g_idle_add(quit_loop, vm->loop);
    }
}

static const FerryMigVMM mini_vmm = {
    .size = sizeof(FerryMigVMM),
    .ram_block_count = ram_block_count,
    .ram_block_get = ram_block_get,
    .dirty_log_start = log_start,
    .dirty_log_sync = log_sync,
    .dirty_log_stop = log_stop,
    .vm_running = vm_running,
    .vm_stop = vm_stop,
    .vm_start = vm_start,
    .source_completed = source_completed,
    .incoming_allowed = incoming_allowed,
    .incoming_loaded = incoming_loaded,
    .incoming_run = incoming_run,
    .incoming_failed = incoming_failed,
    .event = on_event,
};

/* --- main --------------------------------------------------------------- */

static void die(const char *what, GError *err)
{
    fprintf(stderr, "mini-vmm: %s: %s\n", what, err ? err->message : "failed");
    exit(1);
}

static void vm_init(MiniVM *vm, bool incoming)
{
    GError *err = NULL;

    vm->incoming = incoming;
    vm->memfd = memfd_create("mini.ram", MFD_CLOEXEC);
    if (vm->memfd < 0 || ftruncate(vm->memfd, RAM_SIZE) < 0) {
        die("memfd", NULL);
    }
    vm->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
                   vm->memfd, 0);
    vm->shadow = g_malloc(RAM_SIZE);
    if (vm->ram == MAP_FAILED) {
        die("mmap", NULL);
    }
    vm->loop = g_main_loop_new(NULL, FALSE);
    vm->mig = ferry_mig_new(&mini_vmm, vm, g_main_context_default(), &err);
    if (!vm->mig ||
        !ferry_mig_register_device(vm->mig, "mini-counter", 0,
                                   &vmstate_counter, &vm->counter,
                                   MIG_PRI_DEFAULT, &err)) {
        die("migration context", err);
    }
    vm->guest = g_thread_new("guest", guest_thread, vm);
}

static void print_state(MiniVM *vm)
{
    g_autofree char *digest =
        g_compute_checksum_for_data(G_CHECKSUM_SHA256, vm->ram, RAM_SIZE);

    printf("%s: digest %s counter %" G_GUINT64_FORMAT "/%u\n",
           vm->incoming ? "dest" : "source", digest, vm->counter.ticks,
           vm->counter.seed);
}

static void set_capabilities(MiniVM *vm, bool postcopy)
{
    MigrationCapabilityStatus caps[] = {
        { MIGRATION_CAPABILITY_RETURN_PATH, postcopy },
        { MIGRATION_CAPABILITY_POSTCOPY_RAM, postcopy },
    };
    MigrationCapabilityStatusList list[2] = {
        { &list[1], &caps[0] }, { NULL, &caps[1] },
    };
    GError *err = NULL;

    if (!ferry_mig_set_capabilities(vm->mig, &list[0], &err)) {
        die("capabilities", err);
    }
}

int main(int argc, char **argv)
{
    MiniVM vm = { 0 };
    GError *err = NULL;

    if (argc < 3 || (strcmp(argv[1], "source") && strcmp(argv[1], "dest"))) {
        fprintf(stderr, "usage: %s source|dest URI [postcopy]\n", argv[0]);
        return 2;
    }
    bool incoming = !strcmp(argv[1], "dest");
    bool postcopy = argc > 3 && !strcmp(argv[3], "postcopy");
    vm_init(&vm, incoming);
    set_capabilities(&vm, postcopy || incoming);
    if (incoming) {
        if (!ferry_mig_incoming(vm.mig, argv[2], false, false, &err)) {
            die("incoming", err);
        }
    } else {
        vm.counter.seed = (uint32_t)getpid();
        g_atomic_int_set(&vm.running, 1);
        g_usleep(200000);               /* let the guest dirty some RAM */
        if (!ferry_mig_start(vm.mig, argv[2], &err)) {
            die("migrate", err);
        }
    }
    g_main_loop_run(vm.loop);
    if (vm.toucher) {
        g_thread_join(vm.toucher);
    }
    print_state(&vm);
    int ret = vm.last == MIGRATION_STATUS_COMPLETED ? 0 : 1;
    g_atomic_int_set(&vm.quit, 1);
    g_thread_join(vm.guest);
    ferry_mig_free(vm.mig);
    g_main_loop_unref(vm.loop);
    return ret;
}
