/*
 * tls-creds-x509, tls-creds-psk and authz-list objects.  The credentials
 * are only described here (directory, endpoint, ...): the migration core
 * loads the files when a migration starts, as QEMU reads them when the
 * object is created; checking the directory now catches a typo early.
 *
 * The table is the process's, like the VMM's other objects; a mutex
 * guards it because the migration threads read it during a handshake.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include "system/tls-objects.h"
#include "util/error.h"

typedef struct AuthzRule {
    char *match;
    bool allow;
    bool glob;
} AuthzRule;

typedef struct TlsObject {
    char *type;
    char *id;
    /* credentials */
    FerryMigTlsKind kind;
    char *dir;
    bool server, verify_peer;
    char *username;
    /* authz-list */
    bool allow_default;
    GArray *rules;              /* AuthzRule */
} TlsObject;

static GMutex lock;
static GHashTable *objects;     /* lock: id -> TlsObject */

static const char *const endpoints[] = { "client", "server", NULL };
static const char *const policies[] = { "deny", "allow", NULL };
static const char *const formats[] = { "exact", "glob", NULL };

static void rule_clear(void *p)
{
    g_free(((AuthzRule *)p)->match);
}

static void tls_object_free(void *p)
{
    TlsObject *o = p;

    g_free(o->type);
    g_free(o->id);
    g_free(o->dir);
    g_free(o->username);
    if (o->rules) {
        g_array_free(o->rules, TRUE);
    }
    g_free(o);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TlsObject, tls_object_free)

bool tls_object_type(const char *type)
{
    return !strcmp(type, "tls-creds-x509") || !strcmp(type, "tls-creds-psk") ||
           !strcmp(type, "authz-list");
}

static bool parse_creds(TlsObject *o, const char *opt, const Keyval *kv,
                        GError **errp)
{
    static const char *const x509_keys[] = {
        "qom-type", "id", "dir", "endpoint", "verify-peer", NULL
    };
    static const char *const psk_keys[] = {
        "qom-type", "id", "dir", "endpoint", "username", NULL
    };
    bool psk = o->kind == FERRY_MIG_TLS_PSK;
    const char *dir, *user = NULL;
    int endpoint;

    if (!keyval_check_known(kv, psk ? psk_keys : x509_keys, errp) ||
        !keyval_get_str(kv, "dir", &dir, errp) ||
        !keyval_get_enum(kv, "endpoint", endpoints, 0, &endpoint, errp) ||
        !keyval_get_bool(kv, "verify-peer", true, &o->verify_peer, errp) ||
        !keyval_get_str(kv, "username", &user, errp)) {
        return false;
    }
    if (!dir || !g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        error_setg(errp, "%s '%s' needs dir= naming a directory%s%s", o->type,
                   o->id, dir ? ", not " : "", dir ? dir : "");
        return false;
    }
    o->dir = g_strdup(dir);
    o->server = endpoint == 1;
    o->username = g_strdup(user ? user : "qemu");
    return true;
}

/* Accepts qom-type, id, policy and rules.N.{match,policy,format}. */
static void check_authz_key(const char *key, const char *value, void *opaque)
{
    char **bad = opaque;
    unsigned n;
    char field[8];
    int end = 0;

    if (*bad || !strcmp(key, "qom-type") || !strcmp(key, "id") ||
        !strcmp(key, "policy")) {
        return;
    }
    if (sscanf(key, "rules.%u.%7[a-z]%n", &n, field, &end) == 2 &&
        !key[end] && (!strcmp(field, "match") || !strcmp(field, "policy") ||
                      !strcmp(field, "format"))) {
        return;
    }
    *bad = g_strdup(key);
}

static bool parse_rule(TlsObject *o, const Keyval *kv, unsigned i,
                       bool *more, GError **errp)
{
    g_autofree char *mk = g_strdup_printf("rules.%u.match", i);
    g_autofree char *pk = g_strdup_printf("rules.%u.policy", i);
    g_autofree char *fk = g_strdup_printf("rules.%u.format", i);
    const char *match, *policy_str;
    int policy, format;

    if (!keyval_get_str(kv, mk, &match, errp) ||
        !keyval_get_str(kv, pk, &policy_str, errp) ||
        !keyval_get_enum(kv, pk, policies, 0, &policy, errp) ||
        !keyval_get_enum(kv, fk, formats, 0, &format, errp)) {
        return false;
    }
    *more = match != NULL;
    if (match && !policy_str) {
        /* as in QEMU, a rule's policy is not optional */
        error_setg(errp, "authz-list '%s': rules.%u needs policy=", o->id, i);
        return false;
    }
    if (match) {
        AuthzRule r = { g_strdup(match), policy == 1, format == 1 };
        g_array_append_val(o->rules, r);
    }
    return true;
}

static bool parse_authz(TlsObject *o, const Keyval *kv, GError **errp)
{
    g_autofree char *bad = NULL;
    bool more = true;
    int policy;

    keyval_foreach(kv, check_authz_key, &bad);
    if (bad) {
        error_setg(errp, "authz-list '%s': unknown property '%s' (expected "
                   "policy, rules.N.match, rules.N.policy, rules.N.format)",
                   o->id, bad);
        return false;
    }
    if (!keyval_get_enum(kv, "policy", policies, 0, &policy, errp)) {
        return false;
    }
    o->allow_default = policy == 1;
    o->rules = g_array_new(FALSE, FALSE, sizeof(AuthzRule));
    g_array_set_clear_func(o->rules, rule_clear);
    for (unsigned i = 0; more; i++) {
        if (!parse_rule(o, kv, i, &more, errp)) {
            return false;
        }
    }
    return true;
}

bool tls_object_add(const char *opt, const char *type, const char *id,
                    const Keyval *kv, GError **errp)
{
    g_autoptr(TlsObject) o = g_new0(TlsObject, 1);
    bool ok;

    o->type = g_strdup(type);
    o->id = g_strdup(id);
    if (!strcmp(type, "authz-list")) {
        ok = parse_authz(o, kv, errp);
    } else {
        o->kind = !strcmp(type, "tls-creds-psk") ? FERRY_MIG_TLS_PSK
                                                 : FERRY_MIG_TLS_X509;
        ok = parse_creds(o, opt, kv, errp);
    }
    if (!ok) {
        g_prefix_error(errp, "%s: ", opt);
        return false;
    }
    g_mutex_lock(&lock);
    if (!objects) {
        objects = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                        tls_object_free);
    }
    ok = !g_hash_table_contains(objects, id);
    if (ok) {
        TlsObject *added = g_steal_pointer(&o);

        g_hash_table_insert(objects, added->id, added);
    }
    g_mutex_unlock(&lock);
    if (!ok) {
        error_setg(errp, "%s: duplicate object id '%s'", opt, id);
    }
    return ok;
}

bool tls_object_del(const char *id, GError **errp)
{
    g_mutex_lock(&lock);
    bool ok = objects && g_hash_table_remove(objects, id);
    g_mutex_unlock(&lock);
    if (!ok) {
        error_setg(errp, "object '%s' not found", id);
    }
    return ok;
}

/* Under lock: the object @id of a type that starts with @prefix. */
static TlsObject *find(const char *id, const char *prefix, const char *what,
                       GError **errp)
{
    TlsObject *o = objects ? g_hash_table_lookup(objects, id) : NULL;

    if (!o || !g_str_has_prefix(o->type, prefix)) {
        error_setg(errp, "No %s object with id '%s'", what, id);
        return NULL;
    }
    return o;
}

bool tls_object_creds(const char *id, FerryMigTlsCreds *creds, GError **errp)
{
    g_mutex_lock(&lock);
    TlsObject *o = find(id, "tls-creds-", "TLS credentials", errp);

    if (o) {
        /* The hook's strings need to live until it returns; the table
         * keeps them, and objects are not deleted during a migration's
         * start (both run on the main thread). */
        *creds = (FerryMigTlsCreds){
            .kind = o->kind, .dir = o->dir, .server = o->server,
            .verify_peer = o->verify_peer, .username = o->username,
        };
    }
    g_mutex_unlock(&lock);
    return o != NULL;
}

static bool rule_matches(const AuthzRule *r, const char *dn)
{
    return r->glob ? fnmatch(r->match, dn, 0) == 0 : !strcmp(r->match, dn);
}

bool tls_object_authz(const char *id, const char *dn, GError **errp)
{
    g_mutex_lock(&lock);
    TlsObject *o = find(id, "authz-list", "authorization", errp);
    bool allow = o != NULL;

    if (o && dn) {
        allow = o->allow_default;
        for (guint i = 0; i < o->rules->len; i++) {
            AuthzRule *r = &g_array_index(o->rules, AuthzRule, i);
            if (rule_matches(r, dn)) {
                allow = r->allow;
                break;
            }
        }
        if (!allow) {
            error_setg(errp, "the peer '%s' is not allowed by authz-list "
                       "'%s'", dn, id);
        }
    }
    g_mutex_unlock(&lock);
    return allow;
}

void tls_objects_cleanup(void)
{
    g_mutex_lock(&lock);
    g_clear_pointer(&objects, g_hash_table_destroy);
    g_mutex_unlock(&lock);
}
