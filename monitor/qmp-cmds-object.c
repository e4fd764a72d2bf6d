/*
 * object-add and object-del: the migration's TLS objects at run time, as
 * libvirt adds them around "virsh migrate --tls".  The schema checks the
 * arguments' shape; the object itself is parsed by the same code as
 * -object, from the same key tree, so both accept exactly the same.
 */
#include "qapi/qapi-commands.h"
#include "qapi/qapi-visit.h"
#include "system/tls-objects.h"
#include "util/error.h"
#include "util/keyval.h"

void qmp_object_add(ObjectOptions *opts, GError **errp)
{
    g_autoptr(JsonNode) node = NULL;
    g_autoptr(Keyval) kv = NULL;

    if (opts->qom_type == OBJECT_TYPE_SECRET) {
        error_setg(errp, "object-add: secret objects are created only on the "
                   "command line (-object secret,...)");
        return;
    }
    node = qapi_ObjectOptions_to_json(opts);
    kv = keyval_from_json(json_node_get_object(node), errp);
    if (kv) {
        tls_object_add("object-add", ObjectType_str(opts->qom_type), opts->id,
                       kv, errp);
    }
}

void qmp_object_del(const char *id, GError **errp)
{
    tls_object_del(id, errp);
}
