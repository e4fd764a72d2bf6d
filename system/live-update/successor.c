/*
 * The successor's side of a live update (started with -x-handoff FD).
 * HELLO, then it receives what the predecessor hands over and builds the
 * machine from it while the guest still runs there: RAM mapped from the
 * same memfd, images attached on the same open files (their locks come
 * along), listeners already bound.  READY; at CUTOVER it loads the device
 * state, adopts the monitor connections, activates the disks and says
 * ALIVE; once the predecessor lets go (COMMIT, or its end) it runs the
 * guest.  It never runs vCPUs before that, and until then every failure
 * ends it with exit status 1 and nothing touched: the predecessor still
 * owns every file, socket path and lock.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "accel/accel.h"
#include "accel/soft.h"
#include "chardev/chardev.h"
#include "ferry/block.h"
#include "ferry/migration.h"
#include "hw/pvchannel.h"
#include "monitor/monitor.h"
#include "system/live-update/handoff-table.h"
#include "system/live-update/live-update-int.h"
#include "system/machine.h"
#include "system/machine-init.h"
#include "system/migration-vmm.h"
#include "system/os.h"
#include "system/ram-prefault.h"
#include "system/runstate.h"
#include "util/error.h"
#include "util/log.h"

typedef struct Successor {
    int sock;
    bool by_cpr;                /* the predecessor came to a cpr channel */
    int pred_pidfd;             /* readable once the predecessor ended */
    bool incoming;              /* the predecessor waits for a migration */
    HandoffTable *handed;       /* what is not taken yet */
    int fault;                  /* a LiveUpdateFault (tests); -1 none */
} Successor;

/* A process is the successor of one live update at most. */
static Successor succ = { .sock = -1, .fault = -1, .pred_pidfd = -1 };

/* The fault grid's crashes: as abrupt as a real one, without a core. */
static void crash_if(LiveUpdateFault here)
{
    if (succ.fault == (int)here) {
        ferry_log("live update: injected fault %s",
                  LiveUpdateFault_str(here));
        kill(getpid(), SIGKILL);
    }
}

bool live_update_is_successor(void)
{
    return succ.sock >= 0;
}

int live_update_take_fd(const char *name, JsonObject **state)
{
    if (state) {
        *state = NULL;
    }
    return succ.handed ? handoff_table_take(succ.handed, name, state) : -1;
}

GPtrArray *live_update_handed_names(const char *prefix)
{
    return handoff_table_names(succ.handed, prefix);
}

/* A message of type @want; FDS messages on the way go into the table. */
static HandoffMsg *expect(HandoffType want, int timeout_ms, GError **errp)
{
    for (;;) {
        HandoffMsg *msg = handoff_recv(succ.sock, timeout_ms, errp);

        if (!msg) {
            return NULL;
        }
        if (msg->type == want) {
            return msg;
        }
        if (msg->type == HANDOFF_FDS) {
            bool ok = handoff_table_receive(succ.handed, msg, errp);
            handoff_msg_free(msg);
            if (!ok) {
                return NULL;
            }
            continue;
        }
        error_setg(errp, "live update: the predecessor sent %s, not %s: %s",
                   handoff_type_name(msg->type), handoff_type_name(want),
                   json_object_get_string_member_with_default(
                       msg->body, "reason", "no reason given"));
        handoff_msg_free(msg);
        return NULL;
    }
}

/* The process at the other end, to tell its end from a revival. */
static void watch_predecessor(int sock)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);

    if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
        succ.pred_pidfd = (int)syscall(SYS_pidfd_open, cred.pid, 0);
    }
}

/*
 * A dying process closes its descriptors before it counts as exited, so
 * give it a moment: one that revived goes on living far longer.
 */
static bool predecessor_ended(void)
{
    struct pollfd p = { .fd = succ.pred_pidfd, .events = POLLIN };
    int n;

    do {
        n = poll(&p, 1, 2000);
    } while (n < 0 && errno == EINTR);
    return succ.pred_pidfd >= 0 && n == 1;
}

bool live_update_successor_hello(int fd, const char *fault, GError **errp)
{
    JsonObject *body = json_object_new();
    g_autoptr(HandoffMsg) welcome = NULL;
    bool sent;

    succ.sock = fd;
    succ.handed = handoff_table_new();
    succ.fault = fault ? LiveUpdateFault_lookup(fault) : -1;
    if (fault && succ.fault < 0) {
        json_object_unref(body);
        error_setg(errp, "-x-handoff: unknown fault '%s'", fault);
        return false;
    }
    watch_predecessor(fd);
    json_object_set_int_member(body, "pid", getpid());
    sent = handoff_send_version(fd, HANDOFF_HELLO,
                                succ.fault == LIVE_UPDATE_FAULT_BAD_VERSION ?
                                HANDOFF_VERSION + 1 : HANDOFF_VERSION,
                                body, errp);
    json_object_unref(body);
    if (!sent) {
        return false;
    }
    welcome = expect(HANDOFF_WELCOME, LIVE_UPDATE_HELLO_TIMEOUT_MS, errp);
    if (welcome) {
        succ.incoming = json_object_get_boolean_member_with_default(
            welcome->body, "incoming", false);
        ferry_log("live update: %u descriptors handed over",
                  handoff_table_size(succ.handed));
    }
    return welcome != NULL;
}

/* The soft accelerator keeps its layout outside guest RAM. */
static bool devices_loaded(GError **errp)
{
    return accel_current() != &soft_accel_ops ||
           soft_accel_prepare(current_config->append, errp);
}

static bool load_cutover(HandoffMsg *msg, RunState *state, gint64 *stop_us,
                         GError **errp)
{
    const char *rs = json_object_get_string_member_with_default(
        msg->body, "runstate", "");
    int devices = handoff_msg_steal_fd(msg, 0);
    bool ok;

    *stop_us = json_object_get_int_member_with_default(msg->body, "stop-us",
                                                       0);
    *state = (RunState)RunState_lookup(rs);
    if ((int)*state < 0 || devices < 0) {
        error_setg(errp, "live update: CUTOVER without %s",
                   devices < 0 ? "device state" : "a valid run state");
        if (devices >= 0) {
            close(devices);
        }
        return false;
    }
    ok = ferry_mig_load_devices(machine_migration(), devices, errp) &&
         devices_loaded(errp);
    close(devices);
    return ok;
}

/* ALIVE; then COMMIT, or the predecessor's end, hands the guest over. */
static bool take_over(GError **errp)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(HandoffMsg) msg = NULL;

    if (!handoff_send(succ.sock, HANDOFF_ALIVE, NULL, NULL, 0, &err)) {
        msg = NULL;     /* a predecessor gone after the cutover lets go */
    } else {
        msg = handoff_recv(succ.sock, -1, &err);
    }
    if (msg && msg->type != HANDOFF_COMMIT) {
        error_setg(errp, "live update: the predecessor sent %s, not COMMIT",
                   handoff_type_name(msg->type));
        return false;
    }
    /*
     * No COMMIT: only a predecessor that is gone lets go this way.  One
     * that closed the socket and lives took the guest back (it gave up
     * waiting for ALIVE): running here too would run the guest twice.
     */
    if (!msg && !predecessor_ended()) {
        error_setg(errp, "live update: the predecessor closed the handoff "
                   "and runs on: it kept the guest");
        return false;
    }
    return true;
}

/* A destination that was waiting for its source waits here now. */
static void resume_incoming(void)
{
    g_autoptr(JsonObject) state = NULL;
    g_autoptr(GError) err = NULL;
    int fd = live_update_take_fd("migration:listen", &state);
    const char *uri = state ? json_object_get_string_member_with_default(
                                  state, "uri", NULL) : NULL;

    ram_prefault_start();
    if (fd < 0 || !uri) {
        return;     /* -incoming defer: migrate-incoming comes later */
    }
    ferry_mig_incoming_adopt_socket(machine_migration(), fd);
    if (!ferry_mig_incoming(machine_migration(), uri, true,
                            !current_config->start_paused, &err)) {
        ferry_log("live update: listening again on %s: %s", uri,
                  err->message);
    }
}

static void finish(RunState state, gint64 stop_us, const char *pidfile)
{
    g_autoptr(GError) err = NULL;
    int pidfd = live_update_take_fd("pidfile", NULL);

    runstate_adopt(state);
    if (state == RUN_STATE_INMIGRATE) {
        resume_incoming();
    }
    live_update_set_downtime(g_get_monotonic_time() - stop_us);
    if (pidfd >= 0 && pidfile && !os_pidfile_adopt(pidfd, pidfile, &err)) {
        ferry_log("live update: %s", err->message);
    }
    close(succ.sock);
    succ.sock = -1;
    if (succ.pred_pidfd >= 0) {
        close(succ.pred_pidfd);
        succ.pred_pidfd = -1;
    }
    g_clear_pointer(&succ.handed, handoff_table_free);
    live_update_set_status(LIVE_UPDATE_STATUS_COMPLETED, NULL);
}

bool live_update_successor_cutover(GError **errp)
{
    g_autoptr(HandoffMsg) msg = NULL;
    RunState state;
    gint64 stop_us;

    /* a destination's disks attach when its stream arrives, not now */
    if (!succ.incoming && !bdrv_attach_all(machine_block_graph(), errp)) {
        return false;
    }
    crash_if(LIVE_UPDATE_FAULT_CRASH_AFTER_WARMING);
    if (!handoff_send(succ.sock, HANDOFF_READY, NULL, NULL, 0, errp)) {
        return false;
    }
    crash_if(LIVE_UPDATE_FAULT_CRASH_AFTER_READY);
    if (!(msg = expect(HANDOFF_CUTOVER, -1, errp)) ||
        !load_cutover(msg, &state, &stop_us, errp)) {
        return false;
    }
    crash_if(LIVE_UPDATE_FAULT_CRASH_AFTER_CUTOVER);
    if (!succ.incoming && !bdrv_activate_all(machine_block_graph(), errp)) {
        return false;
    }
    chardev_set_take_clients(machine_chardevs());
    pvchannel_take_clients();
    monitor_adopt_clients();
    if (!take_over(errp)) {
        return false;
    }
    finish(state, stop_us, current_config->pidfile);
    return true;
}

void live_update_successor_abort(const char *why)
{
    JsonObject *body;

    if (succ.sock < 0) {
        return;
    }
    body = json_object_new();
    json_object_set_string_member(body, "reason", why);
    handoff_send(succ.sock, HANDOFF_ABORT, body, NULL, 0, NULL);
    json_object_unref(body);
}

bool live_update_took_over_by_cpr(void)
{
    return succ.by_cpr && live_update_status() == LIVE_UPDATE_STATUS_COMPLETED;
}

int live_update_cpr_accept(const char *path, GError **errp)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int listener, fd = -1;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        error_setg(errp, "cpr channel: path '%s' is too long", path);
        return -1;
    }
    strcpy(sun.sun_path, path);
    unlink(path);
    listener = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (listener < 0 ||
        bind(listener, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
        listen(listener, 1) < 0) {
        error_setg_errno(errp, errno, "cpr channel: cannot listen on '%s'",
                         path);
    } else {
        ferry_log("live update: waiting for the predecessor on %s", path);
        do {
            fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        } while (fd < 0 && errno == EINTR);
        if (fd < 0) {
            error_setg_errno(errp, errno, "cpr channel: accept");
        }
        unlink(path);
    }
    if (listener >= 0) {
        close(listener);
    }
    succ.by_cpr = fd >= 0;
    return fd;
}
