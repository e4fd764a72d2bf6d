/*
 * The migration's TLS objects (system/tls-objects.c): what -object
 * accepts for tls-creds-x509, tls-creds-psk and authz-list, and how an
 * allow list decides, as tables.
 */
#include <string.h>
#include "system/tls-objects.h"
#include "util/error.h"

typedef struct AddCase {
    const char *text;           /* after "qom-type=" */
    const char *error;          /* NULL: accepted; else a part of it */
} AddCase;

static const AddCase add_cases[] = {
    { "tls-creds-x509,id=x0,dir=.", NULL },
    { "tls-creds-x509,id=x1,dir=.,endpoint=server,verify-peer=off", NULL },
    { "tls-creds-psk,id=p0,dir=.,username=ferry", NULL },
    { "authz-list,id=a0,policy=allow", NULL },
    { "authz-list,id=a1,rules.0.match=CN=a,rules.0.policy=allow,"
      "rules.1.match=CN=b*,rules.1.format=glob,rules.1.policy=allow", NULL },
    { "authz-list,id=a4,rules.0.match=CN=a", "rules.0 needs policy=" },
    { "tls-creds-x509,id=x2", "needs dir=" },
    { "tls-creds-x509,id=x3,dir=/nonexistent-ferry-dir", "naming a directory" },
    { "tls-creds-x509,id=x4,dir=.,endpoint=both", "endpoint" },
    { "tls-creds-x509,id=x5,dir=.,username=u", "username" },
    { "tls-creds-psk,id=p1,dir=.,verify-peer=on", "verify-peer" },
    { "authz-list,id=a2,rules.0.glob=x", "unknown property 'rules.0.glob'" },
    { "authz-list,id=a3,policy=maybe", "policy" },
    { "tls-creds-x509,id=x0,dir=.", "duplicate object id 'x0'" },
};

static void test_add(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(add_cases); i++) {
        const AddCase *c = &add_cases[i];
        g_autofree char *arg = g_strdup_printf("qom-type=%s", c->text);
        g_autoptr(GError) err = NULL;
        g_autoptr(Keyval) kv = keyval_parse(arg, NULL, &err);
        const char *type, *id;

        g_assert_no_error(err);
        g_assert_true(keyval_get_str(kv, "qom-type", &type, NULL));
        g_assert_true(keyval_get_str(kv, "id", &id, NULL));
        g_assert_true(tls_object_type(type));
        bool ok = tls_object_add("-object", type, id, kv, &err);
        if (!c->error) {
            g_assert_no_error(err);
            g_assert_true(ok);
        } else {
            g_assert_false(ok);
            g_assert_nonnull(strstr(err->message, c->error));
        }
    }
}

static void test_creds(void)
{
    FerryMigTlsCreds cr;
    g_autoptr(GError) err = NULL;

    g_assert_true(tls_object_creds("x1", &cr, NULL));
    g_assert_true(cr.kind == FERRY_MIG_TLS_X509 && cr.server &&
                  !cr.verify_peer);
    g_assert_true(tls_object_creds("x0", &cr, NULL));
    g_assert_true(!cr.server && cr.verify_peer);
    g_assert_true(tls_object_creds("p0", &cr, NULL));
    g_assert_true(cr.kind == FERRY_MIG_TLS_PSK);
    g_assert_cmpstr(cr.username, ==, "ferry");
    g_assert_false(tls_object_creds("a0", &cr, &err));
    g_assert_cmpstr(err->message, ==,
                    "No TLS credentials object with id 'a0'");
}

static const struct {
    const char *authz, *dn;
    bool allowed;
} authz_cases[] = {
    { "a0", "CN=anyone", true },            /* no rules: the policy */
    { "a1", "CN=a", true },                 /* exact */
    { "a1", "CN=a,O=x", false },            /* exact is exact */
    { "a1", "CN=b.example", true },         /* glob */
    { "a1", "CN=c", false },                /* default policy: deny */
};

static void test_authz(void)
{
    g_assert_true(tls_object_authz("a1", NULL, NULL));   /* exists */
    g_assert_false(tls_object_authz("x0", NULL, NULL));  /* not an authz */
    for (gsize i = 0; i < G_N_ELEMENTS(authz_cases); i++) {
        g_autoptr(GError) err = NULL;
        bool ok = tls_object_authz(authz_cases[i].authz, authz_cases[i].dn,
                                   &err);

        if (ok != authz_cases[i].allowed) {
            g_test_message("case %zu: %s", i, authz_cases[i].dn);
        }
        g_assert_cmpint(ok, ==, authz_cases[i].allowed);
        if (!ok) {
            g_assert_nonnull(strstr(err->message, authz_cases[i].dn));
        }
    }
    g_assert_true(tls_object_del("a1", NULL));
    g_assert_false(tls_object_authz("a1", NULL, NULL));
    tls_objects_cleanup();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/tls-objects/add", test_add);
    g_test_add_func("/tls-objects/creds", test_creds);
    g_test_add_func("/tls-objects/authz", test_authz);
    return g_test_run();
}
