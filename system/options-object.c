/*
 * -object: the objects libvirt creates on QEMU's command line that mean
 * something to ferry.  memory-backend-ram is the guest's RAM (sized
 * against -m in options-machine.c); a secret is read and kept, as QEMU
 * reads it when the object is created.  tls-creds-x509, tls-creds-psk and
 * authz-list are the migration's TLS objects (system/tls-objects.c).
 * Other types are refused.
 */
#include <string.h>
#include "options-internal.h"
#include "system/tls-objects.h"
#include "util/error.h"

#define SECRET_MAX (64u << 10)      /* far above any key or password */

void object_config_free(ObjectConfig *obj)
{
    if (obj->tls) {
        tls_object_del(obj->id, NULL);
    }
    g_free(obj->qom_type);
    g_free(obj->id);
    g_clear_pointer(&obj->secret, g_bytes_unref);
    g_free(obj);
}

static bool memory_backend(ObjectConfig *obj, const char *opt,
                           const Keyval *kv, GError **errp)
{
    static const char *const known[] = { "qom-type", "id", "size", NULL };
    const char *str;

    if (!keyval_check_known(kv, known, errp) ||
        !keyval_get_str(kv, "size", &str, errp) ||
        !keyval_get_size(kv, "size", 0, &obj->size, errp)) {
        return option_error(opt, errp);
    }
    if (!str) {
        error_setg(errp, "%s: memory-backend-ram '%s' needs size=", opt,
                   obj->id);
        return false;
    }
    return option_check_ram_size(opt, str, obj->size, errp);
}

/* Standard base64: its alphabet, then at most two '=' of padding to a
 * multiple of 4 characters (g_base64_decode itself checks nothing). */
static bool is_base64(const char *s)
{
    size_t len = strlen(s);
    size_t body = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                            "abcdefghijklmnopqrstuvwxyz0123456789+/");

    return len % 4 == 0 && len - body <= 2 &&
           strspn(s + body, "=") == len - body;
}

static bool secret_data(ObjectConfig *obj, const char *opt, const char *data,
                        const char *file, char **out, gsize *len,
                        GError **errp)
{
    if (!data == !file) {
        error_setg(errp, "%s: secret '%s' needs exactly one of data= and "
                   "file=", opt, obj->id);
        return false;
    }
    if (data) {
        *out = g_strdup(data);
        *len = strlen(data);
        return true;
    }
    if (!g_file_get_contents(file, out, len, NULL)) {
        error_setg(errp, "%s: secret '%s': cannot read file=%s", opt, obj->id,
                   file);
        return false;
    }
    if (*len > SECRET_MAX) {
        error_setg(errp, "%s: secret '%s': '%s' is larger than %u bytes", opt,
                   obj->id, file, SECRET_MAX);
        return false;
    }
    return true;
}

static bool secret(ObjectConfig *obj, const char *opt, const Keyval *kv,
                   GError **errp)
{
    static const char *const known[] = {
        "qom-type", "id", "format", "data", "file", NULL
    };
    static const char *const formats[] = { "raw", "base64", NULL };
    const char *data, *file;
    g_autofree char *text = NULL;
    gsize len;
    int format;

    if (!keyval_check_known(kv, known, errp) ||
        !keyval_get_enum(kv, "format", formats, 0, &format, errp) ||
        !keyval_get_str(kv, "data", &data, errp) ||
        !keyval_get_str(kv, "file", &file, errp)) {
        return option_error(opt, errp);
    }
    if (!secret_data(obj, opt, data, file, &text, &len, errp)) {
        return false;
    }
    if (format == 1) {
        g_strstrip(text);
        if (!is_base64(text)) {
            error_setg(errp, "%s: secret '%s' is not valid base64", opt,
                       obj->id);
            return false;
        }
        guchar *raw = g_base64_decode(text, &len);

        obj->secret = g_bytes_new_take(raw, len);
    } else {
        obj->secret = g_bytes_new(text, len);
    }
    return true;
}

static ObjectConfig *find_object(const MachineConfig *cfg, const char *id)
{
    for (guint i = 0; i < cfg->objects->len; i++) {
        ObjectConfig *obj = g_ptr_array_index(cfg->objects, i);

        if (!strcmp(obj->id, id)) {
            return obj;
        }
    }
    return NULL;
}

static bool object_unique(const MachineConfig *cfg, const char *opt,
                          const char *id, GError **errp)
{
    if (find_object(cfg, id)) {
        error_setg(errp, "%s: duplicate object id '%s'", opt, id);
        return false;
    }
    return true;
}

bool opt_object(MachineConfig *cfg, const char *opt, const char *arg,
                GError **errp)
{
    g_autoptr(Keyval) kv = keyval_parse(arg, "qom-type", errp);
    g_autoptr(ObjectConfig) obj = g_new0(ObjectConfig, 1);
    const char *type, *id;
    bool ok;

    if (!kv || !keyval_get_id(kv, "id", &id, errp)) {
        return option_error(opt, errp);
    }
    if (!option_str(opt, kv, "qom-type", &type, errp)) {
        return false;
    }
    if (strcmp(type, "memory-backend-ram") && strcmp(type, "secret") &&
        !tls_object_type(type)) {
        error_setg(errp, "%s: unsupported object type '%s' (ferry has: "
                   "memory-backend-ram, secret, tls-creds-x509, "
                   "tls-creds-psk, authz-list)", opt, type);
        return false;
    }
    if (!id) {
        error_setg(errp, "%s: %s needs id=", opt, type);
        return false;
    }
    if (!object_unique(cfg, opt, id, errp)) {
        return false;
    }
    obj->qom_type = g_strdup(type);
    obj->id = g_strdup(id);
    if (tls_object_type(type)) {
        ok = obj->tls = tls_object_add(opt, type, id, kv, errp);
    } else if (!strcmp(type, "secret")) {
        ok = secret(obj, opt, kv, errp);
    } else {
        ok = memory_backend(obj, opt, kv, errp);
    }
    if (ok) {
        g_ptr_array_add(cfg->objects, g_steal_pointer(&obj));
    }
    return ok;
}

/* --- the memory backend against -machine and -m ---------------------- */

/*
 * The memory backend is the guest's RAM (libvirt sends it because
 * query-machines names pc.ram as the default RAM id): ferry has no NUMA,
 * so a backend -machine does not name would be memory nobody uses.
 */
bool options_check_objects(MachineConfig *cfg, GError **errp)
{
    ObjectConfig *ram = NULL;

    if (cfg->memory_backend) {
        ram = find_object(cfg, cfg->memory_backend);
        if (!ram || strcmp(ram->qom_type, "memory-backend-ram")) {
            error_setg(errp, "-machine: memory-backend '%s' is not a "
                       "memory-backend-ram -object", cfg->memory_backend);
            return false;
        }
    }
    for (guint i = 0; i < cfg->objects->len; i++) {
        ObjectConfig *obj = g_ptr_array_index(cfg->objects, i);

        if (!obj->secret && obj != ram && !tls_object_type(obj->qom_type)) {
            error_setg(errp, "-object: memory backend '%s' is not used "
                       "(ferry has no NUMA): name it with -machine "
                       "memory-backend=%s", obj->id, obj->id);
            return false;
        }
    }
    if (ram && cfg->ram_size_set && ram->size != cfg->ram_size) {
        error_setg(errp, "-object: memory backend '%s' has size %"
                   G_GUINT64_FORMAT " but -m is %" G_GUINT64_FORMAT " bytes: "
                   "it is the guest's RAM, the two must match", ram->id,
                   ram->size, cfg->ram_size);
        return false;
    }
    if (ram) {
        cfg->ram_size = ram->size;
    }
    return true;
}
