/*
 * The pc machine: memory layout, devices and boot.  Devices are created in
 * a fixed order here, so their I/O ranges and (later) migration sections
 * have stable ids.
 */
#include <string.h>
#include <sys/mman.h>
#include "accel/accel.h"
#include "accel/kvm-state.h"
#include "ferry/block.h"
#include "hw/multiboot.h"
#include "hw/pc.h"
#include "hw/power-button.h"
#include "hw/pvblk.h"
#include "hw/pvchannel.h"
#include "hw/serial.h"
#include "hw/workload.h"
#include "system/cpus.h"
#include "system/ioport.h"
#include "system/live-update.h"
#include "system/migration-vmm.h"
#include "system/memory.h"
#include "util/error.h"

extern const uint8_t ferry_guest_elf[], ferry_guest_elf_end[];

/*
 * The RAM block keeps the name "pc.ram" whatever -machine memory-backend=
 * calls it, so the migration stream's block names match between any two
 * ferry machines.
 */
static bool pc_memory_init(const AccelOps *accel, const MachineConfig *cfg,
                           GError **errp)
{
    uint64_t ram_size = cfg->ram_size;
    uint64_t low = MIN(ram_size, MACHINE_LOWMEM_MAX);
    /* a live update's successor maps the RAM the guest runs in */
    RAMBlock *rb = ram_block_adopt("pc.ram", ram_size,
                                   live_update_take_fd("ram:pc.ram", NULL),
                                   errp);
    GuestRegion *r;

    if (!rb) {
        return false;
    }
    /* -machine dump-guest-core=off: a core dump of ferry leaves RAM out */
    if (!cfg->dump_guest_core) {
        madvise(rb->host, rb->size, MADV_DONTDUMP);
    }
    r = guest_region_add(0, rb, 0, low, errp);
    if (!r || !accel->map_region(r, errp)) {
        return false;
    }
    if (ram_size > low) {
        r = guest_region_add(MACHINE_HIGHMEM_BASE, rb, low, ram_size - low, errp);
        if (!r || !accel->map_region(r, errp)) {
            return false;
        }
    }
    return true;
}

static bool pc_load_kernel(const MachineConfig *cfg, BootEntry *entry,
                           GError **errp)
{
    g_autofree gchar *contents = NULL;
    const uint8_t *image = ferry_guest_elf;
    size_t size = (size_t)(ferry_guest_elf_end - ferry_guest_elf);

    if (cfg->kernel) {
        gsize len;
        if (!g_file_get_contents(cfg->kernel, &contents, &len, errp)) {
            g_prefix_error(errp, "-kernel: ");
            return false;
        }
        image = (const uint8_t *)contents;
        size = len;
    }
    return multiboot_load(image, size, cfg->append, cfg->ram_size, entry, errp);
}

/*
 * -blockdev nodes, in order (a filter names a node made before it), then
 * -device disks on them and COM1's chardev.  A machine that will not wait
 * for an incoming migration takes its images' write locks now, so a second ferry on the
 * same image fails at start; with -incoming the migration code attaches
 * and activates them when it is time (the source still holds the locks),
 * as the live update does in a successor.
 */
static bool pc_block_init(const MachineConfig *cfg, GError **errp)
{
    for (guint i = 0; cfg->blockdevs && i < cfg->blockdevs->len; i++) {
        if (!blockdev_add(machine_block_graph(),
                          g_ptr_array_index(cfg->blockdevs, i), errp)) {
            g_prefix_error(errp, "-blockdev: ");
            return false;
        }
    }
    return pc_devices_init(cfg, errp) &&
           (cfg->incoming || live_update_is_successor() ||
            bdrv_activate_all(machine_block_graph(), errp));
}

/* Loads the kernel (the soft accelerator runs none) and enters it. */
static bool pc_boot(const MachineConfig *cfg, const AccelOps *accel,
                    GError **errp)
{
    BootEntry entry = { .cmdline = cfg->append };

    if (accel != &soft_accel_ops && !pc_load_kernel(cfg, &entry, errp)) {
        return false;
    }
    return accel->boot(cpu_get(0), &entry, errp);
}

bool pc_machine_init(const MachineConfig *cfg, GError **errp)
{
    const AccelOps *accel = accel_select(cfg->accel, errp);

    if (!accel || !machine_migration_init(errp)) {
        return false;
    }
    if (accel == &soft_accel_ops && cfg->kernel) {
        error_setg(errp, "-kernel: -accel soft runs only the built-in test "
                   "guest's workload");
        return false;
    }
    if (!accel->init(cfg->smp, errp) ||
        !pc_memory_init(accel, cfg, errp)) {
        return false;
    }
    dirty_log_register(accel->dirty_log);
    cpus_set_qemu_thread_names(cfg->debug_threads);
    if (!serial_init(errp) ||
        !workload_dev_init(cfg->smp, errp) ||
        !power_button_init(errp) ||
        !pc_block_init(cfg, errp) ||
        !cpus_create(accel, cfg->smp, errp)) {
        return false;
    }
    if (accel == &kvm_accel_ops &&
        !kvm_vmstate_register(machine_migration(), errp)) {
        return false;
    }
    /* a successor's vCPUs and devices get their state at the cutover */
    return live_update_is_successor() || pc_boot(cfg, accel, errp);
}

/*
 * As QEMU's pc machine resets: vCPUs and devices to their power-on
 * state, the kernel loaded again, RAM otherwise kept.  Disk requests in
 * flight complete first, so none lands in the new boot's memory.  The
 * guest boots again (its workload counts a second boot).
 */
bool pc_machine_reset(GError **errp)
{
    const AccelOps *accel = accel_current();

    bql_lock();
    cpus_pause_all();
    for (unsigned i = 0; i < cpus_count(); i++) {
        cpu_get(i)->halted = false;
    }
    bql_unlock();
    pvblk_drain_all();
    pvchannel_reset_all();
    power_button_reset();
    if ((accel->reset && !accel->reset(errp)) ||
        !pc_boot(current_config, accel, errp)) {
        return false;
    }
    return true;
}

void pc_machine_cleanup(void)
{
    if (accel_current() == &kvm_accel_ops) {
        kvm_vmstate_unregister(machine_migration());
    }
    cpus_destroy();
    pvblk_destroy_all();
    pvchannel_destroy_all();
    machine_block_graph_free();
    pc_devices_cleanup();
    io_regions_reset();
    machine_migration_cleanup();
}
