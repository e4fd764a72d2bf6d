/*
 * The migration stream format (see include/migration/savevm.h).  Source
 * functions run in the migration thread, savevm_load in the incoming
 * thread; the registries are filled at machine init and read-only after.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <json-glib/json-glib.h>
#include "migration/context.h"
#include "migration/format/savevm.h"
#include "migration/format/vmstate-int.h"
#include "util/error.h"

typedef struct LiveEntry {
    char *idstr;
    uint32_t instance_id;
    int version_id;
    const SaveVMHandlers *ops;
    void *opaque;
    uint32_t section_id;        /* in the stream being written */
    bool done;
} LiveEntry;

static void live_entry_free(gpointer p)
{
    LiveEntry *e = p;

    g_free(e->idstr);
    g_free(e);
}

void savevm_state_init(SaveVMState *sv)
{
    sv->live = g_ptr_array_new_with_free_func(live_entry_free);
    vmstate_registry_init(&sv->devices);
}

void savevm_state_clear(SaveVMState *sv)
{
    g_clear_pointer(&sv->live, g_ptr_array_unref);
    vmstate_registry_clear(&sv->devices);
}

bool savevm_register_live(SaveVMState *sv, const char *idstr,
                          uint32_t instance_id, int version_id,
                          const SaveVMHandlers *ops, void *opaque,
                          GError **errp)
{
    for (guint i = 0; i < sv->live->len; i++) {
        LiveEntry *e = g_ptr_array_index(sv->live, i);
        if (!strcmp(e->idstr, idstr) && e->instance_id == instance_id) {
            error_setg(errp, "savevm: '%s' instance %u is already registered",
                       idstr, instance_id);
            return false;
        }
    }
    LiveEntry *e = g_new0(LiveEntry, 1);
    *e = (LiveEntry){ g_strdup(idstr), instance_id, version_id, ops, opaque };
    g_ptr_array_add(sv->live, e);
    return true;
}

/* --- writing ------------------------------------------------------------- */

static void put_idstr(QEMUFile *f, const char *idstr)
{
    size_t len = strlen(idstr);

    qemu_put_byte(f, (uint8_t)len);
    qemu_put_buffer(f, (const uint8_t *)idstr, len);
}

static void put_section_header(QEMUFile *f, uint8_t type, uint32_t id,
                               const char *idstr, uint32_t instance_id,
                               int version_id)
{
    qemu_put_byte(f, type);
    qemu_put_be32(f, id);
    if (type == QEMU_VM_SECTION_START || type == QEMU_VM_SECTION_FULL) {
        put_idstr(f, idstr);
        qemu_put_be32(f, instance_id);
        qemu_put_be32(f, (uint32_t)version_id);
    }
}

static void put_footer(QEMUFile *f, uint32_t id)
{
    qemu_put_byte(f, QEMU_VM_SECTION_FOOTER);
    qemu_put_be32(f, id);
}

void savevm_put_header(QEMUFile *f)
{
    qemu_put_be32(f, QEMU_VM_FILE_MAGIC);
    qemu_put_be32(f, QEMU_VM_FILE_VERSION);
    qemu_put_byte(f, QEMU_VM_CONFIGURATION);
    qemu_put_be32(f, (uint32_t)strlen(SAVEVM_MACHINE_NAME));
    qemu_put_buffer(f, (const uint8_t *)SAVEVM_MACHINE_NAME,
                    strlen(SAVEVM_MACHINE_NAME));
}

void savevm_put_command(QEMUFile *f, uint16_t cmd, uint16_t len,
                        const uint8_t *data)
{
    qemu_put_byte(f, QEMU_VM_COMMAND);
    qemu_put_be16(f, cmd);
    qemu_put_be16(f, len);
    qemu_put_buffer(f, data, len);
}

int savevm_setup(SaveVMState *sv, QEMUFile *f, GError **errp)
{
    for (guint i = 0; i < sv->live->len; i++) {
        LiveEntry *e = g_ptr_array_index(sv->live, i);
        e->section_id = i;
        e->done = false;
        put_section_header(f, QEMU_VM_SECTION_START, e->section_id, e->idstr,
                           e->instance_id, e->version_id);
        int ret = e->ops->save_setup(f, e->opaque, errp);
        if (ret < 0) {
            return ret;
        }
        put_footer(f, e->section_id);
    }
    qemu_fflush(f);
    int ret = qemu_file_get_error(f);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "writing the setup sections");
    }
    return ret;
}

int savevm_iterate(SaveVMState *sv, QEMUFile *f)
{
    bool all_done = true;

    for (guint i = 0; i < sv->live->len; i++) {
        LiveEntry *e = g_ptr_array_index(sv->live, i);
        put_section_header(f, QEMU_VM_SECTION_PART, e->section_id, NULL, 0, 0);
        int ret = e->ops->save_live_iterate(f, e->opaque);
        put_footer(f, e->section_id);
        if (ret < 0) {
            return ret;
        }
        e->done = ret > 0;
        all_done &= e->done;
        if (qemu_file_rate_limit_exceeded(f)) {
            all_done = false;
            break;
        }
    }
    return qemu_file_get_error(f) ? qemu_file_get_error(f) : all_done;
}

uint64_t savevm_pending(SaveVMState *sv, bool sync)
{
    uint64_t total = 0;

    for (guint i = 0; i < sv->live->len; i++) {
        LiveEntry *e = g_ptr_array_index(sv->live, i);
        total += e->ops->save_pending(e->opaque, sync);
    }
    return total;
}

typedef struct DeviceWriter {
    QEMUFile *f;
    JsonBuilder *vmdesc;
    uint32_t next_id;
} DeviceWriter;

static int write_device(const VMStateEntry *e, void *opaque)
{
    DeviceWriter *w = opaque;
    uint32_t id = w->next_id++;

    put_section_header(w->f, QEMU_VM_SECTION_FULL, id, e->idstr,
                       e->instance_id, e->vmsd->version_id);
    vmstate_vmdesc_device_begin(w->vmdesc, e);
    int ret = vmstate_save_state(w->f, e->vmsd, e->opaque, w->vmdesc);
    vmstate_vmdesc_device_end(w->vmdesc);
    put_footer(w->f, id);
    return ret;
}

static void put_vmdesc(QEMUFile *f, JsonBuilder *vmdesc)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = json_builder_get_root(vmdesc);
    gsize len;

    json_generator_set_root(gen, root);
    g_autofree char *json = json_generator_to_data(gen, &len);
    qemu_put_byte(f, QEMU_VM_VMDESCRIPTION);
    qemu_put_be32(f, (uint32_t)len);
    qemu_put_buffer(f, (const uint8_t *)json, len);
}

/* The END section of every iterative entry (postcopy's hook if @postcopy). */
static int put_end_sections(SaveVMState *sv, QEMUFile *f, bool postcopy,
                            GError **errp)
{
    for (guint i = 0; i < sv->live->len; i++) {
        LiveEntry *e = g_ptr_array_index(sv->live, i);
        int (*complete)(QEMUFile *, void *) = postcopy ?
            e->ops->save_live_complete_postcopy :
            e->ops->save_live_complete_precopy;
        if (!complete) {
            continue;
        }
        put_section_header(f, QEMU_VM_SECTION_END, e->section_id, NULL, 0, 0);
        int ret = complete(f, e->opaque);
        put_footer(f, e->section_id);
        if (ret < 0) {
            error_setg(errp, "savevm: completing '%s' failed: %s", e->idstr,
                       g_strerror(-ret));
            return ret;
        }
    }
    return 0;
}

/* EOF, flushed: 0 or the stream's error. */
static int put_eof(QEMUFile *f, GError **errp)
{
    qemu_put_byte(f, QEMU_VM_EOF);
    qemu_fflush(f);
    if (qemu_file_get_error(f)) {
        error_setg(errp, "savevm: writing the stream failed: %s",
                   g_strerror(-qemu_file_get_error(f)));
        return qemu_file_get_error(f);
    }
    return 0;
}

/* Every device's FULL section, section ids from @first_id on. */
static int put_devices(SaveVMState *sv, QEMUFile *f, JsonBuilder *vmdesc,
                       uint32_t first_id, GError **errp)
{
    DeviceWriter w = { f, vmdesc, first_id };
    int ret;

    vmstate_vmdesc_begin(vmdesc, MIG_PAGE_SIZE);
    ret = vmstate_foreach(&sv->devices, write_device, &w);
    vmstate_vmdesc_end(vmdesc);
    if (ret < 0) {
        error_setg(errp, "savevm: saving device state failed: %s",
                   g_strerror(-ret));
    }
    return ret;
}

int savevm_complete(SaveVMState *sv, QEMUFile *f, GError **errp)
{
    g_autoptr(JsonBuilder) vmdesc = json_builder_new();
    int ret = put_end_sections(sv, f, false, errp);

    if (ret < 0) {
        return ret;
    }
    ret = put_devices(sv, f, vmdesc, sv->live->len, errp);
    if (ret < 0) {
        return ret;
    }
    ret = put_eof(f, errp);
    if (ret < 0) {
        return ret;
    }
    /*
     * Everything the destination needs is out.  The description that
     * follows is for tools that read the stream: a destination that has
     * already closed must not turn a complete migration into a failed one
     * (the source would resume while the destination runs).
     */
    put_vmdesc(f, vmdesc);
    qemu_fflush(f);
    return 0;
}

/*
 * Device state alone, as QEMU's xen-save-devices-state writes it: header,
 * every device's FULL section, EOF.  No iterative entry takes part, so RAM
 * stays where it is (a live update shares it).
 */
int savevm_save_devices(SaveVMState *sv, QEMUFile *f, GError **errp)
{
    g_autoptr(JsonBuilder) vmdesc = json_builder_new();
    int ret;

    savevm_put_header(f);
    ret = put_devices(sv, f, vmdesc, 0, errp);
    return ret < 0 ? ret : put_eof(f, errp);
}

/* A file over an anonymous memfd: the package is built and read there. */
static QEMUFile *memfd_file(bool output, int *fd_out, GError **errp)
{
    int fd = memfd_create("ferry-package", MFD_CLOEXEC);

    if (fd < 0) {
        error_setg_errno(errp, errno, "savevm: cannot create the postcopy "
                         "package buffer");
        return NULL;
    }
    int dup_fd = dup(fd);
    if (dup_fd < 0) {
        error_setg_errno(errp, errno, "savevm: dup");
        close(fd);
        return NULL;
    }
    MigChannel *ch = output ? mig_channel_new("package", -1, dup_fd, NULL, NULL)
                            : mig_channel_new("package", dup_fd, -1, NULL, NULL);
    QEMUFile *f = output ? qemu_file_new_output(ch) : qemu_file_new_input(ch);
    mig_channel_unref(ch);
    *fd_out = fd;
    return f;
}

int savevm_send_package(SaveVMState *sv, QEMUFile *f, GError **errp)
{
    g_autoptr(JsonBuilder) vmdesc = json_builder_new();
    int fd;
    QEMUFile *pkg = memfd_file(true, &fd, errp);

    if (!pkg) {
        return -ENOMEM;
    }
    DeviceWriter w = { pkg, vmdesc, sv->live->len };
    savevm_put_command(pkg, MIG_CMD_POSTCOPY_LISTEN, 0, NULL);
    vmstate_vmdesc_begin(vmdesc, MIG_PAGE_SIZE);  /* unused: no vmdesc */
    int ret = vmstate_foreach(&sv->devices, write_device, &w);
    vmstate_vmdesc_end(vmdesc);
    qemu_put_byte(pkg, QEMU_VM_EOF);
    if (qemu_fclose(pkg, errp) < 0 || ret < 0) {
        if (ret < 0) {
            error_setg(errp, "savevm: saving device state failed: %s",
                       g_strerror(-ret));
        }
        close(fd);
        return -EIO;
    }
    off_t len = lseek(fd, 0, SEEK_END);
    if (len <= 0 || len > MAX_VM_CMD_PACKAGED_SIZE) {
        error_setg(errp, "savevm: postcopy package of %lld bytes (at most "
                   "%u)", (long long)len, MAX_VM_CMD_PACKAGED_SIZE);
        close(fd);
        return -E2BIG;
    }
    g_autofree uint8_t *buf = g_malloc(len);
    ssize_t got = pread(fd, buf, len, 0);
    close(fd);
    if (got != len) {
        error_setg(errp, "savevm: reading back the postcopy package failed");
        return -EIO;
    }
    uint8_t be_len[4] = { len >> 24, len >> 16, len >> 8, len };
    savevm_put_command(f, MIG_CMD_PACKAGED, sizeof(be_len), be_len);
    qemu_put_buffer(f, buf, len);
    qemu_fflush(f);
    if (qemu_file_get_error(f)) {
        error_setg(errp, "savevm: sending the postcopy package failed: %s",
                   g_strerror(-qemu_file_get_error(f)));
        return qemu_file_get_error(f);
    }
    return 0;
}

int savevm_postcopy_urgent(SaveVMState *sv, QEMUFile *f)
{
    for (guint i = 0; i < sv->live->len; i++) {
        LiveEntry *e = g_ptr_array_index(sv->live, i);
        if (!e->ops->save_postcopy_urgent) {
            continue;
        }
        put_section_header(f, QEMU_VM_SECTION_PART, e->section_id, NULL, 0, 0);
        int ret = e->ops->save_postcopy_urgent(f, e->opaque);
        put_footer(f, e->section_id);
        if (ret < 0) {
            return ret;
        }
    }
    qemu_fflush(f);
    return qemu_file_get_error(f);
}

int savevm_complete_postcopy(SaveVMState *sv, QEMUFile *f, GError **errp)
{
    int ret = put_end_sections(sv, f, true, errp);

    return ret < 0 ? ret : put_eof(f, errp);
}

void savevm_cleanup(SaveVMState *sv)
{
    for (guint i = 0; i < sv->live->len; i++) {
        LiveEntry *e = g_ptr_array_index(sv->live, i);
        if (e->ops->save_cleanup) {
            e->ops->save_cleanup(e->opaque);
        }
    }
}

/* --- reading ------------------------------------------------------------- */

typedef struct LoadSection {
    uint32_t section_id;
    const LiveEntry *live;
    const VMStateEntry *device;
    int version_id;
    char *idstr;
} LoadSection;

typedef struct LoadState {
    SaveVMState *sv;
    QEMUFile *f;
    GArray *sections;           /* LoadSection */
    SaveVMCommandFn on_command;
    void *opaque;
    bool packaged;              /* postcopy: no description after EOF */
} LoadState;

static bool stream_error(QEMUFile *f, const char *where, GError **errp)
{
    int err = qemu_file_get_error(f);

    if (!err) {
        return false;
    }
    error_setg(errp, "migration stream: %s: %s", where,
               err == -EIO ? "unexpected end of stream" : g_strerror(-err));
    return true;
}

static bool check_header(QEMUFile *f, GError **errp)
{
    uint32_t magic = qemu_get_be32(f);
    uint32_t version = qemu_get_be32(f);
    char name[256];

    if (stream_error(f, "header", errp)) {
        return false;
    }
    if (magic != QEMU_VM_FILE_MAGIC) {
        error_setg(errp, "migration stream: bad magic 0x%08x, not a QEVM "
                   "migration stream", magic);
        return false;
    }
    if (version != QEMU_VM_FILE_VERSION) {
        error_setg(errp, "migration stream: version %u is not supported "
                   "(expected %u)", version, QEMU_VM_FILE_VERSION);
        return false;
    }
    if (qemu_get_byte(f) != QEMU_VM_CONFIGURATION) {
        error_setg(errp, "migration stream: configuration section missing");
        return false;
    }
    uint32_t len = qemu_get_be32(f);
    if (len >= sizeof(name)) {
        error_setg(errp, "migration stream: configuration: machine name of "
                   "%u bytes is too long", len);
        return false;
    }
    qemu_get_buffer(f, (uint8_t *)name, len);
    name[len] = '\0';
    if (stream_error(f, "configuration", errp)) {
        return false;
    }
    if (strcmp(name, SAVEVM_MACHINE_NAME)) {
        error_setg(errp, "migration stream: configuration: machine type "
                   "'%s' received, '%s' here", name, SAVEVM_MACHINE_NAME);
        return false;
    }
    return true;
}

static LoadSection *find_loaded(LoadState *ls, uint32_t id)
{
    for (guint i = 0; i < ls->sections->len; i++) {
        LoadSection *s = &g_array_index(ls->sections, LoadSection, i);
        if (s->section_id == id) {
            return s;
        }
    }
    return NULL;
}

static const LoadSection *find_entry_loaded(LoadState *ls,
                                            const LiveEntry *live,
                                            const VMStateEntry *device)
{
    for (guint i = 0; i < ls->sections->len; i++) {
        const LoadSection *s = &g_array_index(ls->sections, LoadSection, i);
        if (s->live == live && s->device == device) {
            return s;
        }
    }
    return NULL;
}

static const LiveEntry *find_live(SaveVMState *sv, const char *idstr,
                                  uint32_t instance_id)
{
    for (guint i = 0; i < sv->live->len; i++) {
        const LiveEntry *e = g_ptr_array_index(sv->live, i);
        if (!strcmp(e->idstr, idstr) && e->instance_id == instance_id) {
            return e;
        }
    }
    return NULL;
}

/* START or FULL: names the entry and binds the section id to it. */
static LoadSection *read_new_section(LoadState *ls, GError **errp)
{
    QEMUFile *f = ls->f;
    LoadSection s = { .section_id = qemu_get_be32(f) };
    char idstr[256];
    uint8_t len = qemu_get_byte(f);

    qemu_get_buffer(f, (uint8_t *)idstr, len);
    idstr[len] = '\0';
    uint32_t instance_id = qemu_get_be32(f);
    s.version_id = (int)qemu_get_be32(f);
    if (stream_error(f, "section header", errp)) {
        return NULL;
    }
    s.live = find_live(ls->sv, idstr, instance_id);
    s.device = s.live ? NULL : vmstate_find(&ls->sv->devices, idstr,
                                            instance_id);
    if (!s.live && !s.device) {
        error_setg(errp, "migration stream: unknown section '%s' instance %u",
                   idstr, instance_id);
        return NULL;
    }
    int max = s.live ? s.live->version_id : s.device->vmsd->version_id;
    if (s.version_id > max) {
        error_setg(errp, "migration stream: section '%s' has version %d, "
                   "this side supports up to %d", idstr, s.version_id, max);
        return NULL;
    }
    if (find_loaded(ls, s.section_id)) {
        error_setg(errp, "migration stream: section id %u of '%s' is "
                   "already in use", s.section_id, idstr);
        return NULL;
    }
    /* Each entry once: the section table stays as small as the machine's
     * list of entries, however many sections a stream starts. */
    const LoadSection *twice = find_entry_loaded(ls, s.live, s.device);
    if (twice) {
        error_setg(errp, "migration stream: section '%s' instance %u is "
                   "started twice (ids %u and %u)", idstr, instance_id,
                   twice->section_id, s.section_id);
        return NULL;
    }
    s.idstr = g_strdup(idstr);
    g_array_append_val(ls->sections, s);
    return &g_array_index(ls->sections, LoadSection, ls->sections->len - 1);
}

static bool check_footer(QEMUFile *f, const LoadSection *s, GError **errp)
{
    uint8_t marker = qemu_get_byte(f);
    uint32_t id = qemu_get_be32(f);

    if (stream_error(f, s->idstr, errp)) {
        return false;
    }
    if (marker != QEMU_VM_SECTION_FOOTER || id != s->section_id) {
        error_setg(errp, "migration stream: section '%s': missing or wrong "
                   "section footer (the section's data is corrupt)", s->idstr);
        return false;
    }
    return true;
}

static bool load_section_data(LoadState *ls, const LoadSection *s,
                              GError **errp)
{
    int ret;

    if (s->live) {
        ret = s->live->ops->load_state(ls->f, s->live->opaque, s->version_id,
                                       errp);
    } else {
        ret = vmstate_load_state(ls->f, s->device->vmsd, s->device->opaque,
                                 s->version_id, errp);
    }
    if (ret < 0) {
        g_prefix_error(errp, "migration stream: section '%s': ", s->idstr);
        return false;
    }
    return check_footer(ls->f, s, errp);
}

static bool load_command(LoadState *ls, GError **errp)
{
    uint16_t cmd = qemu_get_be16(ls->f);
    uint16_t len = qemu_get_be16(ls->f);
    g_autofree uint8_t *data = g_malloc(len ? len : 1);

    qemu_get_buffer(ls->f, data, len);
    if (stream_error(ls->f, "command", errp)) {
        return false;
    }
    if (cmd == MIG_CMD_INVALID || cmd >= MIG_CMD_MAX) {
        error_setg(errp, "migration stream: unknown command %u", cmd);
        return false;
    }
    ls->packaged |= cmd == MIG_CMD_PACKAGED;
    return ls->on_command(cmd, data, len, ls->opaque, errp) == 0;
}

static int load_loop(LoadState *ls, GError **errp)
{
    for (;;) {
        uint8_t type = qemu_get_byte(ls->f);
        LoadSection *s;

        if (stream_error(ls->f, "section type", errp)) {
            return -EIO;
        }
        switch (type) {
        case QEMU_VM_SECTION_START:
        case QEMU_VM_SECTION_FULL:
            s = read_new_section(ls, errp);
            if (!s || !load_section_data(ls, s, errp)) {
                return -EINVAL;
            }
            break;
        case QEMU_VM_SECTION_PART:
        case QEMU_VM_SECTION_END: {
            uint32_t id = qemu_get_be32(ls->f);
            if (stream_error(ls->f, "section id", errp)) {
                return -EIO;
            }
            s = find_loaded(ls, id);
            if (!s) {
                error_setg(errp, "migration stream: section id %u was never "
                           "started", id);
                return -EINVAL;
            }
            if (!load_section_data(ls, s, errp)) {
                return -EINVAL;
            }
            break;
        }
        case QEMU_VM_COMMAND:
            if (!load_command(ls, errp)) {
                return -EINVAL;
            }
            break;
        case QEMU_VM_EOF:
            return 0;
        default:
            error_setg(errp, "migration stream: unknown section type 0x%02x",
                       type);
            return -EINVAL;
        }
    }
}

/*
 * Reads the description after EOF, as QEMU does: a destination that closes
 * while the source still sends it would make the source see an error.
 * Nothing in it is needed, so a missing or short one is no failure.
 */
static void skip_vmdesc(QEMUFile *f)
{
    uint8_t buf[4096];

    if (qemu_get_byte(f) != QEMU_VM_VMDESCRIPTION) {
        return;
    }
    uint32_t left = qemu_get_be32(f);
    while (left && !qemu_file_get_error(f)) {
        size_t n = qemu_get_buffer(f, buf, MIN(left, sizeof(buf)));
        if (!n) {
            break;
        }
        left -= (uint32_t)n;
    }
}

static void load_state_clear(LoadState *ls)
{
    for (guint i = 0; i < ls->sections->len; i++) {
        g_free(g_array_index(ls->sections, LoadSection, i).idstr);
    }
    g_array_free(ls->sections, TRUE);
}

int savevm_load_recoverable(SaveVMState *sv, QEMUFile *f,
                            SaveVMCommandFn on_command,
                            SaveVMBrokenFn on_broken, void *opaque,
                            GError **errp)
{
    LoadState ls = { sv, f, g_array_new(FALSE, TRUE, sizeof(LoadSection)),
                     on_command, opaque };
    int ret = check_header(f, errp) ? load_loop(&ls, errp) : -EINVAL;

    while (ret < 0 && on_broken && qemu_file_get_error(ls.f)) {
        QEMUFile *next = on_broken(ls.f, *errp, opaque);
        if (!next) {
            break;
        }
        g_clear_error(errp);
        ls.f = next;
        ret = load_loop(&ls, errp);
    }
    if (ret == 0 && !ls.packaged) {
        skip_vmdesc(ls.f);
    }
    load_state_clear(&ls);
    return ret;
}

int savevm_load(SaveVMState *sv, QEMUFile *f, SaveVMCommandFn on_command,
                void *opaque, GError **errp)
{
    return savevm_load_recoverable(sv, f, on_command, NULL, opaque, errp);
}

int savevm_load_package(SaveVMState *sv, QEMUFile *f,
                        SaveVMCommandFn on_command, void *opaque,
                        GError **errp)
{
    LoadState ls = { sv, f, g_array_new(FALSE, TRUE, sizeof(LoadSection)),
                     on_command, opaque };
    int ret = load_loop(&ls, errp);

    if (ret < 0) {
        g_prefix_error(errp, "postcopy package: ");
    }
    load_state_clear(&ls);
    return ret;
}

/* @len bytes of @f into @fd, a piece at a time: the package is held once,
 * in the memfd, not in a buffer as well. */
static bool copy_package(QEMUFile *f, int fd, uint32_t len, GError **errp)
{
    g_autofree uint8_t *buf = g_malloc(QEMU_FILE_BUF_SIZE);

    for (uint32_t done = 0; done < len;) {
        uint32_t n = MIN(len - done, QEMU_FILE_BUF_SIZE);

        qemu_get_buffer(f, buf, n);
        if (stream_error(f, "postcopy package", errp)) {
            return false;
        }
        if (pwrite(fd, buf, n, done) != (ssize_t)n) {
            error_setg_errno(errp, errno, "postcopy package: buffering failed");
            return false;
        }
        done += n;
    }
    return true;
}

QEMUFile *savevm_read_package(QEMUFile *f, uint32_t len, GError **errp)
{
    if (len == 0 || len > MAX_VM_CMD_PACKAGED_SIZE) {
        error_setg(errp, "migration stream: postcopy package of %u bytes "
                   "(at most %u)", len, MAX_VM_CMD_PACKAGED_SIZE);
        return NULL;
    }
    int fd;
    QEMUFile *pkg = memfd_file(false, &fd, errp);
    if (!pkg) {
        return NULL;
    }
    if (!copy_package(f, fd, len, errp)) {
        qemu_fclose(pkg, NULL);
        pkg = NULL;
    }
    close(fd);
    return pkg;
}
