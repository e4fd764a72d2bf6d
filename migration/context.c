/*
 * The migration context (migration/context.h): creation, teardown, and
 * the few services every part of the core shares: the main context, the
 * event hook, the clock and the failure reason.
 */
#include <string.h>
#include "migration/context.h"
#include "migration/tls.h"
#include "migration/incoming/incoming.h"
#include "migration/ram/ram.h"
#include "migration/state.h"
#include "util/error.h"
#include "util/log.h"

uint32_t ferry_mig_api_version(void)
{
    return FERRY_MIG_API_VERSION;
}

/* The hooks a VMM must provide; the others may be NULL. */
#define REQUIRED(hook) { #hook, offsetof(FerryMigVMM, hook) }
static const struct {
    const char *name;
    size_t offset;
} required_hooks[] = {
    REQUIRED(ram_block_count), REQUIRED(ram_block_get),
    REQUIRED(dirty_log_start), REQUIRED(dirty_log_sync),
    REQUIRED(dirty_log_stop), REQUIRED(vm_running), REQUIRED(vm_stop),
    REQUIRED(vm_start), REQUIRED(source_completed),
    REQUIRED(incoming_allowed), REQUIRED(incoming_loaded),
    REQUIRED(incoming_run), REQUIRED(incoming_failed),
};

static bool copy_vmm(FerryMigVMM *dst, const FerryMigVMM *src, GError **errp)
{
    if (!src || src->size < offsetof(FerryMigVMM, ram_block_count)) {
        error_setg(errp, "ferry_mig_new: the FerryMigVMM table has no size "
                   "(set .size = sizeof(FerryMigVMM))");
        return false;
    }
    memset(dst, 0, sizeof(*dst));
    memcpy(dst, src, MIN(src->size, sizeof(*dst)));
    dst->size = sizeof(*dst);
    for (gsize i = 0; i < G_N_ELEMENTS(required_hooks); i++) {
        void *hook;
        memcpy(&hook, (const char *)dst + required_hooks[i].offset,
               sizeof(hook));
        if (!hook) {
            error_setg(errp, "ferry_mig_new: the VMM table lacks the "
                       "required hook '%s'", required_hooks[i].name);
            return false;
        }
    }
    return true;
}

FerryMig *ferry_mig_new(const FerryMigVMM *vmm, void *opaque,
                        GMainContext *context, GError **errp)
{
    FerryMig *m = g_new0(FerryMig, 1);

    if (!context) {
        error_setg(errp, "ferry_mig_new: a GMainContext is required");
        g_free(m);
        return NULL;
    }
    if (!copy_vmm(&m->vmm, vmm, errp)) {
        g_free(m);
        return NULL;
    }
    m->opaque = opaque;
    m->context = g_main_context_ref(context);
    g_mutex_init(&m->sources_lock);
    m->sources = g_ptr_array_new();
    m->status = MIGRATION_STATUS_NONE;
    g_mutex_init(&m->params_lock);
    g_mutex_init(&m->error_lock);
    mig_options_init(m);
    savevm_state_init(&m->saved);
    m->out = mig_outgoing_new();
    m->inc = mig_incoming_new();
    m->fds = (MigFdSource){ m->vmm.fd_lookup, opaque };
    m->listener = mig_listener_new(context, &m->fds);
    m->ram = ram_save_state_new();
    m->ram_load = ram_load_state_new();
    m->postcopy_dst = postcopy_dst_new();
    m->block_dst = block_dst_new();
    m->tls = mig_tls_new();
    /* RAM is the one iterative entry, and the core's own. */
    if (!savevm_register_live(&m->saved, "ram", 0, RAM_SECTION_VERSION,
                              &ram_handlers, m, errp)) {
        ferry_mig_free(m);
        return NULL;
    }
    return m;
}

void ferry_mig_free(FerryMig *m)
{
    if (!m) {
        return;
    }
    ferry_mig_cancel(m, NULL);
    ferry_mig_join(m);
    mig_incoming_shutdown(m);
    for (guint i = 0; i < m->sources->len; i++) {
        g_source_destroy(g_ptr_array_index(m->sources, i));
    }
    g_ptr_array_free(m->sources, TRUE);
    g_mutex_clear(&m->sources_lock);
    block_dst_free(m->block_dst);
    mig_tls_free(m->tls);
    postcopy_dst_free(m->postcopy_dst);
    ram_load_state_free(m->ram_load);
    ram_save_state_free(m->ram);
    mig_listener_free(m->listener);
    mig_incoming_free(m->inc);
    mig_outgoing_free(m->out);
    savevm_state_clear(&m->saved);
    mig_options_clear(m);
    g_free(m->error_desc);
    g_mutex_clear(&m->error_lock);
    g_mutex_clear(&m->params_lock);
    g_main_context_unref(m->context);
    g_free(m);
}

bool ferry_mig_register_device(FerryMig *m, const char *idstr,
                               uint32_t instance_id,
                               const VMStateDescription *vmsd, void *opaque,
                               int priority, GError **errp)
{
    return vmstate_register(&m->saved.devices, idstr, instance_id, vmsd,
                            opaque, priority, errp);
}

void ferry_mig_unregister_device(FerryMig *m, const VMStateDescription *vmsd,
                                 void *opaque)
{
    vmstate_unregister(&m->saved.devices, vmsd, opaque);
}

typedef struct MainCall {
    FerryMig *m;
    GSource *source;
    GSourceFunc fn;
    void *data;
} MainCall;

static gboolean main_call_run(gpointer opaque)
{
    MainCall *call = opaque;
    FerryMig *m = call->m;

    g_mutex_lock(&m->sources_lock);
    g_ptr_array_remove_fast(m->sources, call->source);
    g_mutex_unlock(&m->sources_lock);
    call->fn(call->data);
    return G_SOURCE_REMOVE;
}

void mig_run_on_main(FerryMig *m, GSourceFunc fn, void *data)
{
    MainCall *call = g_new(MainCall, 1);
    GSource *src = g_idle_source_new();

    *call = (MainCall){ m, src, fn, data };
    g_source_set_callback(src, main_call_run, call, g_free);
    g_mutex_lock(&m->sources_lock);
    g_ptr_array_add(m->sources, src);
    g_mutex_unlock(&m->sources_lock);
    g_source_attach(src, m->context);
    g_source_unref(src);    /* the context holds it until it ran */
}

void mig_emit(FerryMig *m, const FerryMigEvent *event)
{
    if (m->vmm.event) {
        m->vmm.event(m->opaque, event);
    }
}

int64_t mig_now_ms(void)
{
    return g_get_monotonic_time() / 1000;
}

void mig_set_error(FerryMig *m, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_mutex_lock(&m->error_lock);
    g_free(m->error_desc);
    m->error_desc = msg;
    g_mutex_unlock(&m->error_lock);
}

void mig_clear_error(FerryMig *m)
{
    g_mutex_lock(&m->error_lock);
    g_clear_pointer(&m->error_desc, g_free);
    g_mutex_unlock(&m->error_lock);
}

char *mig_get_error(FerryMig *m)
{
    g_mutex_lock(&m->error_lock);
    char *desc = g_strdup(m->error_desc);
    g_mutex_unlock(&m->error_lock);
    return desc;
}

void mig_params_get(FerryMig *m, MigrationParameters *out)
{
    g_mutex_lock(&m->params_lock);
    *out = m->params;
    g_mutex_unlock(&m->params_lock);
    out->tls_creds = out->tls_hostname = out->tls_authz = NULL;
}

const char *ferry_mig_status_name(MigrationStatus status)
{
    return MigrationStatus_str(status);
}

MigrationStatus ferry_mig_status(FerryMig *m)
{
    return migration_status(m);
}
