/*
 * TLS over a migration channel, with GnuTLS (what QEMU uses, so the two
 * interoperate).  The session replaces the channel's plain data path; the
 * descriptor stays non-blocking and waits happen in the channel's poll(),
 * where mig_channel_shutdown() reaches them.
 *
 * Every check of the peer (its certificate against the CA, the host name,
 * the distinguished name against the allow list) runs inside the
 * handshake, from GnuTLS's verify callback, so a refusal aborts the
 * handshake with an alert the peer sees in its own handshake.  TLS 1.3 is
 * left out for that reason: there the client finishes its handshake
 * before the server has looked at the client's certificate, and a refused
 * source would learn it only from a broken stream later.
 *
 * Threads: one thread reads and another may write (the return path);
 * GnuTLS allows that on one session once the handshake is done.  The
 * handshake itself runs once, under a mutex, in whichever thread does
 * I/O first.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include "ferry/migration.h"
#include "migration/log.h"
#include "migration/transport/channel.h"
#include "util/error.h"

#define PRIO_X509 "NORMAL:-VERS-TLS1.3"
#define PRIO_PSK  "NORMAL:+ECDHE-PSK:+DHE-PSK:+PSK:-VERS-TLS1.3"

struct MigTlsCreds {
    int refcount;               /* atomic */
    FerryMigTlsKind kind;
    bool server, verify_peer;
    gnutls_certificate_credentials_t x509;
    gnutls_psk_server_credentials_t psk_server;
    gnutls_psk_client_credentials_t psk_client;
};

enum { HS_PENDING, HS_DONE, HS_FAILED };

struct MigTlsSession {
    gnutls_session_t s;
    MigTlsCreds *creds;
    char *peer;                 /* the channel's name, for messages */
    char *hostname;
    char *authz_id;
    MigTlsAuthzFn authz;
    void *authz_opaque;
    GMutex lock;                /* the handshake */
    int state;                  /* atomic: HS_* */
    char *error;                /* lock: why the handshake failed */
    char *refusal;              /* the verify callback's reason */
};

/* --- credentials ---------------------------------------------------------- */

static int verify_peer(gnutls_session_t s);

static char *creds_file(const FerryMigTlsCreds *d, const char *name)
{
    return g_build_filename(d->dir, name, NULL);
}

static bool x509_file(const FerryMigTlsCreds *d, const char *name,
                      bool required, char **path, GError **errp)
{
    *path = creds_file(d, name);
    if (g_file_test(*path, G_FILE_TEST_EXISTS)) {
        return true;
    }
    g_clear_pointer(path, g_free);
    if (required) {
        error_setg(errp, "TLS credentials: '%s' has no %s", d->dir, name);
        return false;
    }
    return true;
}

static bool gnutls_ok(int rc, const char *what, const char *path,
                      GError **errp)
{
    if (rc < 0) {
        error_setg(errp, "TLS credentials: cannot load %s '%s': %s", what,
                   path, gnutls_strerror(rc));
        return false;
    }
    return true;
}

/* QEMU's layout: the server always needs its certificate and key; a
 * client's are optional; the CA is needed by whoever verifies. */
static bool load_x509(MigTlsCreds *c, const FerryMigTlsCreds *d,
                      GError **errp)
{
    const char *role = d->server ? "server" : "client";
    g_autofree char *cert_name = g_strdup_printf("%s-cert.pem", role);
    g_autofree char *key_name = g_strdup_printf("%s-key.pem", role);
    g_autofree char *ca = NULL, *cert = NULL, *key = NULL;
    bool need_ca = d->verify_peer || !d->server;

    if (!x509_file(d, "ca-cert.pem", need_ca, &ca, errp) ||
        !x509_file(d, cert_name, d->server, &cert, errp) ||
        !x509_file(d, key_name, d->server || cert, &key, errp)) {
        return false;
    }
    gnutls_certificate_allocate_credentials(&c->x509);
    gnutls_certificate_set_verify_function(c->x509, verify_peer);
    if (ca && !gnutls_ok(gnutls_certificate_set_x509_trust_file(
                             c->x509, ca, GNUTLS_X509_FMT_PEM),
                         "CA certificate", ca, errp)) {
        return false;
    }
    return !cert || gnutls_ok(gnutls_certificate_set_x509_key_file(
                                  c->x509, cert, key, GNUTLS_X509_FMT_PEM),
                              "certificate", cert, errp);
}

/* A client picks its user's line of keys.psk: "username:hexkey". */
static bool load_psk_client(MigTlsCreds *c, const FerryMigTlsCreds *d,
                            const char *path, GError **errp)
{
    g_autofree char *text = NULL;
    const char *user = d->username ? d->username : "qemu";
    size_t ulen = strlen(user);

    if (!g_file_get_contents(path, &text, NULL, NULL)) {
        error_setg(errp, "TLS credentials: cannot read '%s'", path);
        return false;
    }
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        if (!strncmp(*l, user, ulen) && (*l)[ulen] == ':') {
            gnutls_datum_t key = {
                .data = (unsigned char *)*l + ulen + 1,
                .size = strlen(*l + ulen + 1),
            };
            gnutls_psk_allocate_client_credentials(&c->psk_client);
            return gnutls_ok(gnutls_psk_set_client_credentials(
                                 c->psk_client, user, &key,
                                 GNUTLS_PSK_KEY_HEX),
                             "pre-shared key of", user, errp);
        }
    }
    error_setg(errp, "TLS credentials: '%s' has no key for user '%s'", path,
               user);
    return false;
}

static bool load_psk(MigTlsCreds *c, const FerryMigTlsCreds *d,
                     GError **errp)
{
    g_autofree char *path = creds_file(d, "keys.psk");

    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        error_setg(errp, "TLS credentials: '%s' has no keys.psk", d->dir);
        return false;
    }
    if (!d->server) {
        return load_psk_client(c, d, path, errp);
    }
    gnutls_psk_allocate_server_credentials(&c->psk_server);
    return gnutls_ok(gnutls_psk_set_server_credentials_file(c->psk_server,
                                                            path),
                     "keys", path, errp);
}

MigTlsCreds *mig_tls_creds_load(const FerryMigTlsCreds *desc, GError **errp)
{
    MigTlsCreds *c = g_new0(MigTlsCreds, 1);
    bool ok;

    c->refcount = 1;
    c->kind = desc->kind;
    c->server = desc->server;
    c->verify_peer = desc->verify_peer;
    ok = desc->kind == FERRY_MIG_TLS_X509 ? load_x509(c, desc, errp)
                                           : load_psk(c, desc, errp);
    if (!ok) {
        mig_tls_creds_unref(c);
        return NULL;
    }
    return c;
}

MigTlsCreds *mig_tls_creds_ref(MigTlsCreds *creds)
{
    g_atomic_int_inc(&creds->refcount);
    return creds;
}

void mig_tls_creds_unref(MigTlsCreds *c)
{
    if (!c || !g_atomic_int_dec_and_test(&c->refcount)) {
        return;
    }
    if (c->x509) {
        gnutls_certificate_free_credentials(c->x509);
    }
    if (c->psk_server) {
        gnutls_psk_free_server_credentials(c->psk_server);
    }
    if (c->psk_client) {
        gnutls_psk_free_client_credentials(c->psk_client);
    }
    g_free(c);
}

bool mig_tls_creds_is_server(const MigTlsCreds *creds)
{
    return creds->server;
}

bool mig_tls_creds_is_x509(const MigTlsCreds *creds)
{
    return creds->kind == FERRY_MIG_TLS_X509;
}

/* --- checking the peer, inside the handshake ----------------------------- */

static char *peer_dn(gnutls_session_t s)
{
    unsigned n = 0;
    const gnutls_datum_t *certs = gnutls_certificate_get_peers(s, &n);
    gnutls_x509_crt_t crt;
    gnutls_datum_t dn = { NULL, 0 };
    char *out = NULL;

    if (!certs || !n || gnutls_x509_crt_init(&crt) < 0) {
        return NULL;
    }
    if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == 0 &&
        gnutls_x509_crt_get_dn2(crt, &dn) == 0) {
        out = g_strndup((const char *)dn.data, dn.size);
        gnutls_free(dn.data);
    }
    gnutls_x509_crt_deinit(crt);
    return out;
}

static int refuse(MigTlsSession *t, char *why)
{
    g_free(t->refusal);
    t->refusal = why;
    return -1;
}

static int verify_peer(gnutls_session_t s)
{
    MigTlsSession *t = gnutls_session_get_ptr(s);
    unsigned status = 0;
    gnutls_datum_t text = { NULL, 0 };
    bool client = !t->creds->server;
    const char *host = client && t->hostname[0] ? t->hostname : NULL;

    if (!t->creds->verify_peer && !t->authz_id[0]) {
        return 0;
    }
    if (gnutls_certificate_verify_peers3(s, host, &status) < 0 ||
        (status && gnutls_certificate_verification_status_print(
                       status, GNUTLS_CRT_X509, &text, 0) < 0)) {
        return refuse(t, g_strdup("the peer sent no usable certificate"));
    }
    if (status && t->creds->verify_peer) {
        char *why = g_strdup_printf("the peer's certificate is refused: %s",
                                    text.data);
        gnutls_free(text.data);
        return refuse(t, why);
    }
    gnutls_free(text.data);
    if (!client && t->authz_id[0]) {
        g_autofree char *dn = peer_dn(s);
        g_autoptr(GError) err = NULL;

        if (!dn) {
            return refuse(t, g_strdup("the peer sent no certificate for "
                                      "the allow list"));
        }
        if (!t->authz(t->authz_opaque, t->authz_id, dn, &err)) {
            return refuse(t, g_strdup(err->message));
        }
    }
    return 0;
}

/* --- the session ------------------------------------------------------------ */

static ssize_t push(gnutls_transport_ptr_t p, const void *buf, size_t len)
{
    return send(GPOINTER_TO_INT(p), buf, len, MSG_NOSIGNAL);
}

static ssize_t pull(gnutls_transport_ptr_t p, void *buf, size_t len)
{
    return recv(GPOINTER_TO_INT(p), buf, len, 0);
}

static bool session_setup(MigTlsSession *t, int fd, GError **errp)
{
    MigTlsCreds *c = t->creds;
    bool x509 = c->kind == FERRY_MIG_TLS_X509;
    int rc;

    gnutls_init(&t->s, (c->server ? GNUTLS_SERVER : GNUTLS_CLIENT) |
                       GNUTLS_NONBLOCK);
    rc = gnutls_priority_set_direct(t->s, x509 ? PRIO_X509 : PRIO_PSK, NULL);
    if (rc >= 0 && x509) {
        rc = gnutls_credentials_set(t->s, GNUTLS_CRD_CERTIFICATE, c->x509);
        if (c->server && (c->verify_peer || t->authz_id[0])) {
            gnutls_certificate_server_set_request(t->s, GNUTLS_CERT_REQUIRE);
        }
        if (rc >= 0 && !c->server && t->hostname[0]) {
            rc = gnutls_server_name_set(t->s, GNUTLS_NAME_DNS, t->hostname,
                                        strlen(t->hostname));
        }
    } else if (rc >= 0) {
        rc = gnutls_credentials_set(t->s, GNUTLS_CRD_PSK,
                                    c->server ? (void *)c->psk_server
                                              : (void *)c->psk_client);
    }
    if (rc < 0) {
        error_setg(errp, "TLS session: %s", gnutls_strerror(rc));
        return false;
    }
    gnutls_session_set_ptr(t->s, t);
    gnutls_transport_set_ptr(t->s, GINT_TO_POINTER(fd));
    gnutls_transport_set_push_function(t->s, push);
    gnutls_transport_set_pull_function(t->s, pull);
    return true;
}

void mig_tls_session_free(MigTlsSession *t)
{
    if (t->s) {
        gnutls_deinit(t->s);
    }
    mig_tls_creds_unref(t->creds);
    g_free(t->peer);
    g_free(t->hostname);
    g_free(t->authz_id);
    g_free(t->error);
    g_free(t->refusal);
    g_mutex_clear(&t->lock);
    g_free(t);
}

bool mig_channel_start_tls(MigChannel *chan, MigTlsCreds *creds,
                           const char *hostname, const char *authz_id,
                           MigTlsAuthzFn authz, void *opaque, GError **errp)
{
    MigTlsSession *t;

    if (!mig_channel_has_reverse_direction(chan)) {
        error_setg(errp, "TLS needs a socket (tcp:, unix: or a socket fd:); "
                   "'%s' is not one", mig_channel_name(chan));
        return false;
    }
    t = g_new0(MigTlsSession, 1);
    g_mutex_init(&t->lock);
    t->creds = mig_tls_creds_ref(creds);
    t->peer = g_strdup(mig_channel_name(chan));
    t->hostname = g_strdup(hostname ? hostname : "");
    t->authz_id = g_strdup(authz_id ? authz_id : "");
    t->authz = authz;
    t->authz_opaque = opaque;
    if (!session_setup(t, mig_channel_fd(chan), errp)) {
        mig_tls_session_free(t);
        return false;
    }
    mig_channel_set_tls(chan, t);
    return true;
}

/* What the peer or this side found wrong, in words. */
static char *handshake_error(MigTlsSession *t, int rc)
{
    if (t->refusal) {
        return g_strdup(t->refusal);
    }
    if (rc == GNUTLS_E_FATAL_ALERT_RECEIVED) {
        return g_strdup_printf("the peer refused the connection (TLS alert: "
                               "%s)", gnutls_alert_get_name(
                                          gnutls_alert_get(t->s)));
    }
    if (rc == GNUTLS_E_PREMATURE_TERMINATION || rc == GNUTLS_E_PUSH_ERROR ||
        rc == GNUTLS_E_PULL_ERROR) {
        return g_strdup("the peer closed the connection during the "
                        "handshake (does it use TLS with these "
                        "credentials?)");
    }
    return g_strdup(gnutls_strerror(rc));
}

static int handshake_loop(MigChannel *chan, MigTlsSession *t)
{
    for (;;) {
        int rc = gnutls_handshake(t->s);

        if (rc == GNUTLS_E_SUCCESS) {
            return 0;
        }
        if (rc != GNUTLS_E_AGAIN && rc != GNUTLS_E_INTERRUPTED) {
            return rc;
        }
        rc = mig_channel_wait(chan, gnutls_record_get_direction(t->s) ?
                                    POLLOUT : POLLIN);
        if (rc < 0) {
            return rc == -ETIMEDOUT ? GNUTLS_E_TIMEDOUT : GNUTLS_E_PULL_ERROR;
        }
    }
}

/*
 * After the alert: closing a socket with unread input sends a reset, which
 * can destroy the alert before the peer reads it.  So send FIN and read
 * until the peer closes too (it does once it sees the alert), for at most
 * LINGER_MS and LINGER_BYTES: a peer that does not speak TLS (a plain
 * source streaming its RAM) must not be drained.
 */
#define LINGER_MS 2000
#define LINGER_BYTES (64 << 10)

static void linger(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    int64_t deadline = g_get_monotonic_time() + LINGER_MS * 1000;
    char scratch[4096];
    size_t drained = 0;

    shutdown(fd, SHUT_WR);
    while (drained < LINGER_BYTES) {
        int left = (int)((deadline - g_get_monotonic_time()) / 1000);
        ssize_t n;

        if (left <= 0 || poll(&pfd, 1, left) <= 0) {
            return;
        }
        n = recv(fd, scratch, sizeof(scratch), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            return;
        }
        drained += n > 0 ? n : 0;
    }
}

static void handshake_failed(MigChannel *chan, MigTlsSession *t, int rc)
{
    if (mig_channel_is_shut(chan)) {
        t->error = g_strdup("the channel was shut down");
        return;
    }
    /* Tell the peer why, in the alert it will report. */
    if (t->refusal && t->authz_id[0] && t->creds->server) {
        gnutls_alert_send(t->s, GNUTLS_AL_FATAL, GNUTLS_A_ACCESS_DENIED);
    } else if (rc != GNUTLS_E_FATAL_ALERT_RECEIVED) {
        gnutls_alert_send_appropriate(t->s, rc);
    }
    linger(mig_channel_fd(chan));
    t->error = handshake_error(t, rc);
    g_warning("migration: TLS handshake with %s failed: %s", t->peer,
              t->error);
}

bool mig_channel_handshake(MigChannel *chan, GError **errp)
{
    MigTlsSession *t = mig_channel_tls(chan);

    if (!t || g_atomic_int_get(&t->state) == HS_DONE) {
        return true;
    }
    g_mutex_lock(&t->lock);
    if (g_atomic_int_get(&t->state) == HS_PENDING) {
        int rc = handshake_loop(chan, t);

        if (rc < 0) {
            handshake_failed(chan, t, rc);
        } else {
            mig_log("migration: TLS session with %s established",
                    t->peer);
        }
        g_atomic_int_set(&t->state, rc < 0 ? HS_FAILED : HS_DONE);
    }
    bool ok = g_atomic_int_get(&t->state) == HS_DONE;
    if (!ok) {
        error_setg(errp, "TLS handshake with %s failed: %s", t->peer,
                   t->error);
    }
    g_mutex_unlock(&t->lock);
    return ok;
}

/* --- data path -------------------------------------------------------------- */

static ssize_t record_error(MigChannel *chan, ssize_t rc)
{
    if (mig_channel_is_shut(chan)) {
        return -ESHUTDOWN;
    }
    if (rc == GNUTLS_E_PREMATURE_TERMINATION) {
        return 0;       /* the peer closed the socket: end of stream */
    }
    /* -EPROTO is all a stream error can carry: say here what it was
     * (a record that fails its check was altered on the way) */
    mig_log("migration: TLS record error on %s: %s", mig_channel_name(chan),
            gnutls_strerror((int)rc));
    return -EPROTO;
}

/*
 * What a record call's result @n means: >= 0 and errors are final; for
 * GnuTLS's "again" it waits until the socket is ready for @events and
 * sets *@again (the call must be repeated with the same arguments).
 */
static ssize_t settle(MigChannel *chan, ssize_t n, short events, bool *again)
{
    int ret;

    *again = false;
    if (n >= 0) {
        return n;
    }
    if (n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED) {
        return record_error(chan, n);
    }
    ret = mig_channel_wait(chan, events);
    if (ret < 0) {
        return ret;
    }
    *again = true;
    return 0;
}

ssize_t mig_tls_readv(MigChannel *chan, MigTlsSession *t,
                      const struct iovec *iov, int iovcnt)
{
    int i = 0;
    ssize_t n;
    bool again;

    if (!mig_channel_handshake(chan, NULL)) {
        return mig_channel_is_shut(chan) ? -ESHUTDOWN : -EPROTO;
    }
    while (i < iovcnt && !iov[i].iov_len) {
        i++;
    }
    if (i == iovcnt) {
        return 0;
    }
    do {
        if (mig_channel_is_shut(chan)) {
            return -ESHUTDOWN;
        }
        n = settle(chan, gnutls_record_recv(t->s, iov[i].iov_base,
                                            iov[i].iov_len), POLLIN, &again);
    } while (again);
    return n;
}

/* Waits until GnuTLS has sent all it buffered (the corked records). */
static ssize_t uncork(MigChannel *chan, MigTlsSession *t)
{
    ssize_t n;
    bool again;

    do {
        n = settle(chan, gnutls_record_uncork(t->s, 0), POLLOUT, &again);
    } while (again);
    return n;
}

/*
 * Corked: the small pieces of a vector (page headers, 4 KiB pages) go
 * out as full records instead of one record each.
 */
ssize_t mig_tls_writev_all(MigChannel *chan, MigTlsSession *t,
                           const struct iovec *iov, int iovcnt)
{
    ssize_t total = 0, ret;

    if (!mig_channel_handshake(chan, NULL)) {
        return mig_channel_is_shut(chan) ? -ESHUTDOWN : -EPROTO;
    }
    gnutls_record_cork(t->s);
    for (int i = 0; i < iovcnt; i++) {
        ssize_t n = iov[i].iov_len ?
            gnutls_record_send(t->s, iov[i].iov_base, iov[i].iov_len) : 0;

        if (n < 0) {
            uncork(chan, t);
            return record_error(chan, n);
        }
        total += n;
    }
    ret = uncork(chan, t);
    return ret < 0 ? ret : total;
}
