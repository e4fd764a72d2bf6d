/*
 * pvchannel: a named byte stream between the guest and a socket chardev
 * (register and ring layout in guest/include/guest/pvchannel-dev.h).
 * This file holds the registers and the -device option; the bytes move
 * in pvchannel-io.c, the migration description is pvchannel-vmstate.c.
 *
 * A doorbell only wakes the channel's I/O thread: the vCPU's MMIO exit
 * stays short and never touches the client's socket.
 *
 * The chardev hands each client connection to the channel (the monitor
 * kind of frontend, ChardevFrontend.connected); the I/O thread owns it
 * until the client leaves.  Nothing the guest wrote is consumed before a
 * client took it, so a reconnect loses and repeats nothing.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include "hw/pvchannel.h"
#include "system/live-update.h"
#include "system/live-update/handoff-table.h"
#include "pvchannel-internal.h"
#include "system/ioport.h"
#include "system/memory.h"
#include "system/migration-vmm.h"
#include "util/error.h"
#include "util/keyval.h"
#include "util/log.h"

static PvchanState *chans[PVCHAN_MAX_DEVS];
static unsigned nr_chans;

PvchanState *pvchan_get(unsigned index)
{
    return index < nr_chans ? chans[index] : NULL;
}

bool pvchan_ring_valid(uint64_t gpa, uint64_t size)
{
    return size >= PVCHAN_RING_MIN && size <= PVCHAN_RING_MAX &&
           !(size & (size - 1)) && gpa && !(gpa & 7) &&
           gpa_to_hva(gpa, PVCHAN_RING_BYTES(size));
}

/* --- registers ------------------------------------------------------------ */

static uint64_t name_reg(PvchanState *s, uint64_t off)
{
    char bytes[PVCHAN_NAME_MAX] = { 0 };
    uint64_t v;

    memcpy(bytes, s->name, MIN(strlen(s->name), sizeof(bytes)));
    memcpy(&v, bytes + (off - PVCHAN_REG_NAME), sizeof(v));
    return v;
}

static uint64_t pvchan_read(void *opaque, uint64_t off, unsigned size)
{
    PvchanState *s = opaque;
    uint64_t v = 0;

    g_mutex_lock(&s->lock);
    switch (off) {
    case PVCHAN_REG_ID: v = PVCHAN_DEV_MAGIC; break;
    case PVCHAN_REG_NAME ... PVCHAN_REG_G2H_GPA - 1:
        v = (off & 7) ? 0 : name_reg(s, off);
        break;
    case PVCHAN_REG_G2H_GPA: v = s->g2h_gpa; break;
    case PVCHAN_REG_G2H_SIZE: v = s->g2h_size; break;
    case PVCHAN_REG_H2G_GPA: v = s->h2g_gpa; break;
    case PVCHAN_REG_H2G_SIZE: v = s->h2g_size; break;
    case PVCHAN_REG_CONTROL:
        v = (s->status & PVCHAN_STATUS_ENABLED) ? PVCHAN_CTL_ENABLE : 0;
        break;
    case PVCHAN_REG_STATUS:
        v = s->status | (s->conn_fd >= 0 ? PVCHAN_STATUS_CONNECTED : 0);
        break;
    }
    g_mutex_unlock(&s->lock);
    return v;
}

/* CONTROL: start with the rings as programmed, or stop.  Caller holds
 * s->lock. */
static void control_locked(PvchanState *s, uint64_t v)
{
    s->status = 0;
    if (!(v & PVCHAN_CTL_ENABLE)) {
        return;
    }
    if (!pvchan_ring_valid(s->g2h_gpa, s->g2h_size) ||
        !pvchan_ring_valid(s->h2g_gpa, s->h2g_size)) {
        pvchan_fail_locked(s, "rings at 0x%" G_GINT64_MODIFIER "x (%u "
                           "bytes) and 0x%" G_GINT64_MODIFIER "x (%u bytes) "
                           "refused (sizes a power of 2 in [%u, %u], in "
                           "RAM, 8-byte aligned)", s->g2h_gpa, s->g2h_size,
                           s->h2g_gpa, s->h2g_size, PVCHAN_RING_MIN,
                           PVCHAN_RING_MAX);
        return;
    }
    s->g2h_cons = 0;
    s->h2g_prod = 0;
    s->rx_full = false;
    guest_mem_store_u32(s->g2h_gpa + offsetof(struct pvchan_ring_hdr, cons),
                        0);
    guest_mem_store_u32(s->h2g_gpa, 0);
    s->status = PVCHAN_STATUS_ENABLED;
}

/* A ring register of a live channel: the guest must stop it first. */
static bool ring_reg_locked(PvchanState *s, uint64_t off, uint64_t v)
{
    if (s->status & PVCHAN_STATUS_ENABLED) {
        pvchan_fail_locked(s, "ring register 0x%" G_GINT64_MODIFIER "x "
                           "written while the channel runs", off);
        return false;
    }
    switch (off) {
    case PVCHAN_REG_G2H_GPA: s->g2h_gpa = v; break;
    case PVCHAN_REG_G2H_SIZE: s->g2h_size = (uint32_t)MIN(v, UINT32_MAX); break;
    case PVCHAN_REG_H2G_GPA: s->h2g_gpa = v; break;
    case PVCHAN_REG_H2G_SIZE: s->h2g_size = (uint32_t)MIN(v, UINT32_MAX); break;
    }
    return true;
}

static void pvchan_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    PvchanState *s = opaque;

    g_mutex_lock(&s->lock);
    switch (off) {
    case PVCHAN_REG_G2H_GPA:
    case PVCHAN_REG_G2H_SIZE:
    case PVCHAN_REG_H2G_GPA:
    case PVCHAN_REG_H2G_SIZE:
        ring_reg_locked(s, off, v);
        break;
    case PVCHAN_REG_CONTROL:
        control_locked(s, v);
        break;
    }
    g_mutex_unlock(&s->lock);
    if (off == PVCHAN_REG_DOORBELL || off == PVCHAN_REG_CONTROL) {
        pvchan_kick(s);
    }
}

static const IOOps pvchan_ops = {
    .read = pvchan_read,
    .write = pvchan_write,
};

/* --- -device pvchannel,chardev=ID,name=NAME -------------------------------- */

static void chan_connected(void *opaque, int fd)
{
    pvchan_attach_conn(opaque, fd);
}

static const ChardevFrontend pvchan_frontend = {
    .connected = chan_connected,
};

static bool check_name(const char *name, GError **errp)
{
    if (!name || !*name) {
        error_setg(errp, "name= is required (what the guest looks for, "
                   "e.g. org.qemu.guest_agent.0)");
        return false;
    }
    if (strlen(name) > PVCHAN_NAME_MAX) {
        error_setg(errp, "name '%.32s...' is too long (at most %d bytes)",
                   name, PVCHAN_NAME_MAX);
        return false;
    }
    for (unsigned i = 0; i < nr_chans; i++) {
        if (!strcmp(chans[i]->name, name)) {
            error_setg(errp, "duplicate channel name '%s'", name);
            return false;
        }
    }
    return true;
}

/* Everything that can be refused before anything is claimed. */
static bool parse_spec(ChardevSet *chardevs, const char *spec,
                       const char **name, const char **id, Chardev **chr,
                       Keyval **out, GError **errp)
{
    static const char *const known[] = {
        "driver", "chardev", "name", "id", NULL
    };
    g_autoptr(Keyval) kv = keyval_parse(spec, "driver", errp);
    const char *chardev;

    if (!kv || !keyval_check_known(kv, known, errp) ||
        !keyval_get_str(kv, "chardev", &chardev, errp) ||
        !keyval_get_str(kv, "name", name, errp) ||
        !keyval_get_id(kv, "id", id, errp) || !check_name(*name, errp)) {
        return false;
    }
    if (nr_chans == PVCHAN_MAX_DEVS) {
        error_setg(errp, "at most %d channels", PVCHAN_MAX_DEVS);
        return false;
    }
    *chr = NULL;
    if (chardev && !(chardevs && (*chr = chardev_find(chardevs, chardev)))) {
        error_setg(errp, "chardev=%s: no such chardev", chardev);
        return false;
    }
    *out = g_steal_pointer(&kv);
    return true;
}

static PvchanState *pvchan_new(const char *name, const char *id, Chardev *chr)
{
    PvchanState *s = g_new0(PvchanState, 1);

    s->index = nr_chans;
    s->name = g_strdup(name);
    s->id = g_strdup(id);
    s->chr = chr;
    s->conn_fd = -1;
    s->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    g_mutex_init(&s->lock);
    return s;
}

static void pvchan_free(PvchanState *s)
{
    if (s->thread) {
        g_mutex_lock(&s->lock);
        s->stopping = true;
        g_mutex_unlock(&s->lock);
        pvchan_kick(s);
        g_thread_join(s->thread);
    }
    if (s->conn_fd >= 0) {
        close(s->conn_fd);
    }
    if (s->kick_fd >= 0) {
        close(s->kick_fd);
    }
    g_mutex_clear(&s->lock);
    g_free(s->name);
    g_free(s->id);
    g_free(s);
}

static bool pvchan_claim(PvchanState *s, GError **errp)
{
    if (s->kick_fd < 0) {
        error_setg_errno(errp, errno, "eventfd");
        return false;
    }
    if (!pvchan_vmstate_register(machine_migration(), s, errp)) {
        return false;
    }
    if (s->chr && !chardev_attach(s->chr, &pvchan_frontend, s, errp)) {
        pvchan_vmstate_unregister(machine_migration(), s);
        return false;
    }
    return true;
}

bool pvchannel_create(ChardevSet *chardevs, const char *spec, GError **errp)
{
    g_autoptr(Keyval) kv = NULL;
    const char *name, *id;
    Chardev *chr;
    PvchanState *s;

    if (!parse_spec(chardevs, spec, &name, &id, &chr, &kv, errp)) {
        g_prefix_error(errp, "pvchannel: ");
        return false;
    }
    s = pvchan_new(name, id, chr);
    if (!pvchan_claim(s, errp)) {
        g_prefix_error(errp, "pvchannel: ");
        pvchan_free(s);
        return false;
    }
    s->thread = g_thread_new("pvchannel", pvchan_io_thread, s);
    chans[nr_chans++] = s;
    /* Last, as it cannot be undone: fails only for a machine whose
     * regions overlap, which does not start anyway. */
    return io_region_register(IO_SPACE_MMIO, PVCHAN_DEV_ADDR(s->index),
                              PVCHAN_DEV_SIZE, "pvchannel", &pvchan_ops, s,
                              errp);
}

/* --- the machine's hooks ------------------------------------------------------ */

void pvchannel_set_running_all(bool running)
{
    for (unsigned i = 0; i < nr_chans; i++) {
        g_mutex_lock(&chans[i]->lock);
        chans[i]->running = running;
        g_mutex_unlock(&chans[i]->lock);
        pvchan_kick(chans[i]);
    }
}

/*
 * A live update hands each channel's client over as it is: the device
 * keeps no bytes outside the rings, so the socket is the whole host side.
 */
void pvchannel_hand_over_all(HandoffTable *t)
{
    for (unsigned i = 0; i < nr_chans; i++) {
        g_autofree char *name = g_strdup_printf("pvchannel:%u:client", i);

        g_mutex_lock(&chans[i]->lock);
        if (chans[i]->conn_fd >= 0) {
            handoff_table_add(t, name, chans[i]->conn_fd, NULL);
        }
        g_mutex_unlock(&chans[i]->lock);
    }
}

void pvchannel_take_clients(void)
{
    for (unsigned i = 0; i < nr_chans; i++) {
        g_autofree char *name = g_strdup_printf("pvchannel:%u:client", i);
        int fd = live_update_take_fd(name, NULL);

        if (fd >= 0 && chans[i]->chr) {
            chardev_adopt_connection(chans[i]->chr);
            pvchan_attach_conn(chans[i], fd);
        } else if (fd >= 0) {
            close(fd);
        }
    }
}

void pvchannel_reset_all(void)
{
    for (unsigned i = 0; i < nr_chans; i++) {
        g_mutex_lock(&chans[i]->lock);
        control_locked(chans[i], 0);
        chans[i]->g2h_gpa = chans[i]->h2g_gpa = 0;
        chans[i]->g2h_size = chans[i]->h2g_size = 0;
        g_mutex_unlock(&chans[i]->lock);
    }
}

void pvchannel_destroy_all(void)
{
    for (unsigned i = 0; i < nr_chans; i++) {
        PvchanState *s = chans[i];

        if (s->bytes_out + s->bytes_in) {
            ferry_log("pvchannel %s: %" G_GUINT64_FORMAT " bytes out, %"
                      G_GUINT64_FORMAT " in", s->name, s->bytes_out,
                      s->bytes_in);
        }
        pvchan_vmstate_unregister(machine_migration(), s);
        pvchan_free(s);
        chans[i] = NULL;
    }
    nr_chans = 0;
}
