/*
 * The migration parameters tls-creds, tls-hostname and tls-authz, as QEMU
 * reads them: the objects are looked up when a migration starts, the
 * host name defaults to the host of a tcp: URI, and every channel of that
 * migration then uses the same credentials.
 */
#include <string.h>
#include "migration/context.h"
#include "migration/tls.h"
#include "util/error.h"

struct MigTls {
    GMutex lock;
    MigTlsCreds *creds;     /* NULL: plain channels */
    char *hostname;
    char *authz;
};

MigTls *mig_tls_new(void)
{
    MigTls *t = g_new0(MigTls, 1);

    g_mutex_init(&t->lock);
    return t;
}

static void tls_reset(MigTls *t, MigTlsCreds *creds, char *hostname,
                      char *authz)
{
    g_mutex_lock(&t->lock);
    mig_tls_creds_unref(t->creds);
    g_free(t->hostname);
    g_free(t->authz);
    t->creds = creds;
    t->hostname = hostname;
    t->authz = authz;
    g_mutex_unlock(&t->lock);
}

void mig_tls_free(MigTls *t)
{
    if (t) {
        tls_reset(t, NULL, NULL, NULL);
        g_mutex_clear(&t->lock);
        g_free(t);
    }
}

/* "tcp:HOST:PORT" -> HOST ("[::1]" -> "::1"); NULL for other URIs. */
static char *uri_host(const char *uri)
{
    const char *host, *colon;

    if (!g_str_has_prefix(uri, "tcp:")) {
        return NULL;
    }
    host = uri + 4;
    if (host[0] == '[') {
        const char *end = strchr(host, ']');
        return end ? g_strndup(host + 1, end - host - 1) : NULL;
    }
    colon = strrchr(host, ':');
    return colon && colon > host ? g_strndup(host, colon - host) : NULL;
}

static MigTlsCreds *load_creds(FerryMig *m, const char *id, bool outgoing,
                               GError **errp)
{
    FerryMigTlsCreds desc = { 0 };
    MigTlsCreds *creds;

    if (!m->vmm.tls_creds) {
        error_setg(errp, "tls-creds '%s': this VMM offers no TLS "
                   "credentials", id);
        return NULL;
    }
    if (!m->vmm.tls_creds(m->opaque, id, &desc, errp)) {
        return NULL;
    }
    if (desc.server == outgoing) {
        error_setg(errp, "tls-creds '%s' has endpoint=%s, but the %s of a "
                   "migration needs endpoint=%s", id,
                   desc.server ? "server" : "client",
                   outgoing ? "source" : "destination",
                   outgoing ? "client" : "server");
        return NULL;
    }
    creds = mig_tls_creds_load(&desc, errp);
    if (!creds) {
        g_prefix_error(errp, "tls-creds '%s': ", id);
    }
    return creds;
}

static bool check_authz(FerryMig *m, const char *id, GError **errp)
{
    if (!*id) {
        return true;
    }
    if (!m->vmm.tls_authz) {
        error_setg(errp, "tls-authz '%s': this VMM offers no authorization "
                   "objects", id);
        return false;
    }
    return m->vmm.tls_authz(m->opaque, id, NULL, errp);
}

bool mig_tls_prepare(FerryMig *m, const char *uri, bool outgoing,
                     GError **errp)
{
    g_mutex_lock(&m->params_lock);
    g_autofree char *id = g_strdup(m->params.tls_creds);
    g_autofree char *hostname = g_strdup(m->params.tls_hostname);
    g_autofree char *authz = g_strdup(m->params.tls_authz);
    g_mutex_unlock(&m->params_lock);
    MigTlsCreds *creds;

    if (!*id) {
        tls_reset(m->tls, NULL, NULL, NULL);
        return true;
    }
    creds = load_creds(m, id, outgoing, errp);
    if (!creds || !check_authz(m, authz, errp)) {
        mig_tls_creds_unref(creds);
        return false;
    }
    if (outgoing && !*hostname) {
        g_free(hostname);
        hostname = uri_host(uri);
    }
    if (outgoing && mig_tls_creds_is_x509(creds) && !hostname) {
        error_setg(errp, "tls-creds '%s': no host name to check the "
                   "destination's certificate against; set tls-hostname "
                   "(the URI '%s' has none)", id, uri);
        mig_tls_creds_unref(creds);
        return false;
    }
    tls_reset(m->tls, creds, g_steal_pointer(&hostname),
              g_steal_pointer(&authz));
    return true;
}

static bool authz_hook(void *opaque, const char *authz_id, const char *dn,
                       GError **errp)
{
    FerryMig *m = opaque;

    return m->vmm.tls_authz(m->opaque, authz_id, dn, errp);
}

bool mig_tls_wrap(FerryMig *m, MigChannel *chan, GError **errp)
{
    MigTls *t = m->tls;
    bool ok, outgoing;

    g_mutex_lock(&t->lock);
    if (!t->creds) {
        g_mutex_unlock(&t->lock);
        return true;
    }
    outgoing = !mig_tls_creds_is_server(t->creds);
    ok = mig_channel_start_tls(chan, t->creds, t->hostname,
                               outgoing ? "" : t->authz, authz_hook, m,
                               errp);
    g_mutex_unlock(&t->lock);
    return ok && (!outgoing || mig_channel_handshake(chan, errp));
}
