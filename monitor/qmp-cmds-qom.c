/*
 * qom-list-types, device-list-properties, qom-list-properties: the types
 * ferry models, under QEMU's names, with the properties ferry's command
 * line sets on them.  One table, so the three answers cannot disagree.
 *
 * Listing a type is a promise a management tool acts on (libvirt uses
 * "isa-serial" for a <serial>, and sends SEV queries once it sees
 * "sev-guest"), so the table holds only what ferry has; parents that only
 * complete QEMU's hierarchy are abstract.
 */
#include <string.h>
#include "qapi/qapi-commands.h"
#include "util/error.h"

typedef struct PropDef {
    const char *name, *type;
} PropDef;

typedef struct TypeDef {
    const char *name;
    const char *parent;
    bool abstract;
    const PropDef *props;       /* settable ones, { NULL } ended; inherited */
} TypeDef;

static const PropDef machine_props[] = {
    { "memory-backend", "link<memory-backend>" },   /* -machine keys */
    { "usb", "bool" },
    { "dump-guest-core", "bool" },
    { NULL },
};
static const PropDef isa_serial_props[] = {
    { "chardev", "str" },       /* -device isa-serial,chardev=,index= */
    { "index", "uint32" },
    { NULL },
};
static const PropDef pvblk_props[] = {
    { "drive", "str" },         /* -device pvblk,drive= */
    { NULL },
};
static const PropDef memory_backend_props[] = {
    { "size", "int" },          /* -object memory-backend-ram,size= */
    { NULL },
};
static const PropDef secret_props[] = {
    { "format", "QCryptoSecretFormat" },    /* -object secret,... */
    { "data", "string" },
    { "file", "string" },
    { NULL },
};

static const PropDef tls_creds_props[] = {
    { "verify-peer", "bool" },  /* -object / object-add tls-creds-* */
    { "dir", "string" },
    { "endpoint", "QCryptoTLSCredsEndpoint" },
    { NULL },
};
static const PropDef tls_creds_psk_props[] = {
    { "username", "string" },
    { NULL },
};
static const PropDef authz_list_props[] = {
    { "policy", "QAuthZListPolicy" },
    { "rules", "QAuthZListRuleList" },
    { NULL },
};

static const TypeDef types[] = {
    { "object", NULL, true, NULL },
    { "machine", "object", true, machine_props },
    { "x86-machine", "machine", true, NULL },
    { "generic-pc-machine", "x86-machine", true, NULL },
    { "pc-i440fx-7.2-machine", "generic-pc-machine", false, NULL },
    { "none-machine", "machine", false, NULL },
    { "accel", "object", true, NULL },
    { "kvm-accel", "accel", false, NULL },
    { "device", "object", true, NULL },
    { "cpu", "device", true, NULL },
    { "x86_64-cpu", "cpu", true, NULL },
    { "host-x86_64-cpu", "x86_64-cpu", false, NULL },
    { "isa-device", "device", true, NULL },
    { "isa-serial", "isa-device", false, isa_serial_props },
    { "sys-bus-device", "device", true, NULL },
    { "pvblk", "sys-bus-device", false, pvblk_props },
    { "ferry-workload", "sys-bus-device", false, NULL },
    { "ferry-power-button", "sys-bus-device", false, NULL },
    { "memory-backend", "object", true, memory_backend_props },
    { "memory-backend-ram", "memory-backend", false, NULL },
    { "secret", "object", false, secret_props },
    { "tls-creds", "object", true, tls_creds_props },
    { "tls-creds-x509", "tls-creds", false, NULL },
    { "tls-creds-psk", "tls-creds", false, tls_creds_psk_props },
    { "authz", "object", true, NULL },
    { "authz-list", "authz", false, authz_list_props },
};

static const TypeDef *type_find(const char *name)
{
    for (gsize i = 0; name && i < G_N_ELEMENTS(types); i++) {
        if (!strcmp(types[i].name, name)) {
            return &types[i];
        }
    }
    return NULL;
}

/* Is @t @ancestor, or derived from it? */
static bool type_is_a(const TypeDef *t, const char *ancestor)
{
    for (; t; t = type_find(t->parent)) {
        if (!strcmp(t->name, ancestor)) {
            return true;
        }
    }
    return false;
}

ObjectTypeInfoList *qmp_qom_list_types(const char *implements,
                                       bool has_abstract, bool abstract,
                                       GError **errp)
{
    ObjectTypeInfoList *head = NULL;

    for (gsize i = G_N_ELEMENTS(types); i-- > 0;) {
        const TypeDef *t = &types[i];
        ObjectTypeInfoList *l;

        if ((t->abstract && !(has_abstract && abstract)) ||
            (implements && !type_is_a(t, implements))) {
            continue;
        }
        l = g_new0(ObjectTypeInfoList, 1);
        l->value = g_new0(ObjectTypeInfo, 1);
        l->value->name = g_strdup(t->name);
        l->value->has_abstract = t->abstract;
        l->value->abstract = t->abstract;
        l->value->parent = g_strdup(t->parent);
        l->next = head;
        head = l;
    }
    return head;
}

/* @t's properties, then its ancestors'. */
static ObjectPropertyInfoList *props_of(const TypeDef *t)
{
    ObjectPropertyInfoList *head = NULL, **tail = &head;

    for (; t; t = type_find(t->parent)) {
        for (const PropDef *p = t->props; p && p->name; p++) {
            ObjectPropertyInfoList *l = g_new0(ObjectPropertyInfoList, 1);

            l->value = g_new0(ObjectPropertyInfo, 1);
            l->value->name = g_strdup(p->name);
            l->value->type = g_strdup(p->type);
            *tail = l;
            tail = &l->next;
        }
    }
    return head;
}

ObjectPropertyInfoList *qmp_device_list_properties(const char *typename,
                                                   GError **errp)
{
    const TypeDef *t = type_find(typename);

    if (!t) {
        g_set_error(errp, FERRY_ERROR, FERRY_ERROR_DEVICE_NOT_FOUND,
                    "Device '%s' not found", typename);
        return NULL;
    }
    if (t->abstract || !type_is_a(t, "device")) {
        error_setg(errp, "Parameter 'typename': '%s' is not a device type "
                   "that can be created", typename);
        return NULL;
    }
    return props_of(t);
}

ObjectPropertyInfoList *qmp_qom_list_properties(const char *typename,
                                                GError **errp)
{
    const TypeDef *t = type_find(typename);

    if (t) {
        return props_of(t);
    }
    /* libvirt 9.0 crashes on DeviceNotFound for these (qapi/qom.json) */
    if (g_str_has_prefix(typename, "memory-backend-")) {
        return NULL;
    }
    g_set_error(errp, FERRY_ERROR, FERRY_ERROR_DEVICE_NOT_FOUND,
                "Class '%s' not found", typename);
    return NULL;
}
