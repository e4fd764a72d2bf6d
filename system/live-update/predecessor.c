/*
 * The predecessor's side of a live update.  It starts the successor with
 * its own command line and a handoff socket, hands over what the
 * successor needs to build the machine (guest RAM, images, listeners,
 * chardevs) and keeps running the guest meanwhile.  When the successor
 * is READY it cuts over: vCPUs stopped, disk requests drained, device
 * state written to a memfd, monitor connections handed over with their
 * sessions; on ALIVE it lets go (COMMIT) and exits 0.  Any failure
 * before COMMIT kills the successor and revives the guest here: the
 * successor never runs vCPUs before COMMIT, so the guest never runs in
 * two processes, and never on stale vCPU state.
 */
#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib-unix.h>
#include "chardev/chardev.h"
#include "ferry/block.h"
#include "ferry/migration.h"
#include "hw/pvblk.h"
#include "hw/pvchannel.h"
#include "monitor/monitor.h"
#include "system/live-update/handoff-table.h"
#include "system/live-update/live-update-int.h"
#include "system/machine.h"
#include "system/machine-init.h"
#include "system/memory.h"
#include "system/migration-vmm.h"
#include "system/os.h"
#include "system/runstate.h"
#include "util/error.h"
#include "util/log.h"

typedef struct Predecessor {
    GPid child;
    int sock;
    guint sock_watch, child_watch, timer;
    bool crash_after_cutover;   /* the fault grid's predecessor fault */
} Predecessor;

/* One live update at a time, from the main loop. */
static Predecessor pred = { .sock = -1 };

static void stop_watching(void)
{
    g_clear_handle_id(&pred.sock_watch, g_source_remove);
    g_clear_handle_id(&pred.timer, g_source_remove);
    g_clear_handle_id(&pred.child_watch, g_source_remove);
}

/* Kills and reaps the successor; the guest is ours again. */
static void fail(const char *why)
{
    stop_watching();
    if (pred.child > 0) {
        kill(pred.child, SIGKILL);
        waitpid(pred.child, NULL, 0);
        pred.child = 0;
    }
    if (pred.sock >= 0) {
        close(pred.sock);
        pred.sock = -1;
    }
    live_update_set_status(LIVE_UPDATE_STATUS_FAILED, why);
}

/*
 * No migration may be under way: a destination still waiting for its
 * source (its listener travels) is fine, one receiving a stream is not.
 */
static bool migration_allows(GError **errp)
{
    MigrationStatus mig = ferry_mig_status(machine_migration());
    const char *uri;

    if (mig == MIGRATION_STATUS_NONE || mig == MIGRATION_STATUS_COMPLETED ||
        mig == MIGRATION_STATUS_FAILED || mig == MIGRATION_STATUS_CANCELLED ||
        ferry_mig_incoming_socket(machine_migration(), &uri) >= 0) {
        return true;
    }
    error_setg(errp, "a live update is not possible while a migration is %s",
               ferry_mig_status_name(mig));
    return false;
}

/* --- what travels --------------------------------------------------------- */

static void hand_over_ram(HandoffTable *t)
{
    GPtrArray *blocks = ram_blocks();

    for (guint i = 0; blocks && i < blocks->len; i++) {
        RAMBlock *rb = g_ptr_array_index(blocks, i);
        g_autofree char *name = g_strconcat("ram:", rb->idstr, NULL);

        handoff_table_add(t, name, rb->fd, NULL);
    }
}

static void hand_over_images(HandoffTable *t)
{
    GPtrArray *nodes = bdrv_nodes(machine_block_graph());

    for (guint i = 0; i < nodes->len; i++) {
        BlockDriverState *bs = g_ptr_array_index(nodes, i);
        g_autofree char *name = g_strconcat("blk:", bdrv_node_name(bs), NULL);

        handoff_table_add(t, name, bdrv_image_fd(bs), NULL);
    }
    g_ptr_array_unref(nodes);
}

/* A destination waiting for its source keeps its address. */
static void hand_over_incoming(HandoffTable *t)
{
    const char *uri;
    int fd = ferry_mig_incoming_socket(machine_migration(), &uri);

    if (fd >= 0) {
        JsonObject *state = json_object_new();

        json_object_set_string_member(state, "uri", uri);
        handoff_table_add(t, "migration:listen", fd, state);
    }
}

/* A destination still waiting for its stream has no disk attached yet:
 * the successor must not attach one either. */
static bool send_welcome(GError **errp)
{
    JsonObject *body = json_object_new();
    bool ok;

    json_object_set_boolean_member(body, "incoming",
                                   runstate_get() == RUN_STATE_INMIGRATE);
    ok = handoff_send(pred.sock, HANDOFF_WELCOME, body, NULL, 0, errp);
    json_object_unref(body);
    return ok;
}

/* Before the cutover: what the successor builds the machine from. */
static bool send_resources(GError **errp)
{
    g_autoptr(HandoffTable) t = handoff_table_new();

    hand_over_ram(t);
    hand_over_images(t);
    monitor_hand_over(t, false);
    chardev_set_hand_over(machine_chardevs(), t, false);
    if (os_pidfile_fd() >= 0) {
        handoff_table_add(t, "pidfile", os_pidfile_fd(), NULL);
    }
    return handoff_table_send(t, pred.sock, errp) && send_welcome(errp);
}

/* --- the cutover ---------------------------------------------------------- */

/* The device state, in a memfd the successor reads from the start. */
static int save_devices(GError **errp)
{
    int fd = memfd_create("ferry-live-update", MFD_CLOEXEC);

    if (fd < 0) {
        error_setg_errno(errp, errno, "memfd_create");
        return -1;
    }
    if (!ferry_mig_save_devices(machine_migration(), fd, errp)) {
        close(fd);
        return -1;
    }
    /* the successor shares this file offset */
    if (lseek(fd, 0, SEEK_SET) < 0) {
        error_setg_errno(errp, errno, "device state: lseek");
        close(fd);
        return -1;
    }
    return fd;
}

static bool send_cutover(gint64 stop_us, GError **errp)
{
    g_autoptr(HandoffTable) t = handoff_table_new();
    JsonObject *body = json_object_new();
    int devices = save_devices(errp);
    bool ok;

    if (devices < 0) {
        json_object_unref(body);
        return false;
    }
    if (!migration_allows(errp)) {
        json_object_unref(body);
        close(devices);
        return false;
    }
    hand_over_incoming(t);
    monitor_hand_over(t, true);
    chardev_set_hand_over(machine_chardevs(), t, true);
    pvchannel_hand_over_all(t);
    json_object_set_string_member(body, "runstate",
                                  RunState_str(runstate_get()));
    json_object_set_int_member(body, "stop-us", stop_us);
    ok = handoff_table_send(t, pred.sock, errp) &&
         handoff_send(pred.sock, HANDOFF_CUTOVER, body, &devices, 1, errp);
    json_object_unref(body);
    close(devices);
    return ok;
}

/* ALIVE, and nothing else, lets the predecessor go. */
static bool wait_alive(GError **errp)
{
    g_autoptr(HandoffMsg) msg = handoff_recv(pred.sock,
                                             LIVE_UPDATE_ALIVE_TIMEOUT_MS,
                                             errp);

    if (!msg) {
        g_prefix_error(errp, "after the cutover: ");
        return false;
    }
    if (msg->type != HANDOFF_ALIVE) {
        error_setg(errp, "after the cutover the successor sent %s: %s",
                   handoff_type_name(msg->type),
                   json_object_get_string_member_with_default(
                       msg->body, "reason", "no reason given"));
        return false;
    }
    return true;
}

/* The guest belongs to the successor now: leave without touching what
 * it inherited (locks, listening sockets, the pidfile). */
static G_NORETURN void let_go(void)
{
    g_autoptr(GError) err = NULL;

    if (!handoff_send(pred.sock, HANDOFF_COMMIT, NULL, NULL, 0, &err)) {
        /* It takes a closed socket for COMMIT too */
        ferry_log("live update: %s", err->message);
    }
    ferry_log("live update: handed over to pid %d; exiting",
              (int)pred.child);
    _exit(0);
}

static void cutover(void)
{
    g_autoptr(GError) err = NULL;
    gint64 stop_us;

    stop_watching();
    live_update_set_status(LIVE_UPDATE_STATUS_CUTOVER, NULL);
    monitor_freeze(true);
    chardev_set_freeze(machine_chardevs(), true);
    stop_us = g_get_monotonic_time();
    vm_freeze();
    /* completions land in guest RAM before its device state is taken */
    pvblk_drain_all();
    if (!send_cutover(stop_us, &err)) {
        g_prefix_error(&err, "at the cutover: ");
    } else if (pred.crash_after_cutover) {
        ferry_log("live update: injected fault "
                  "predecessor-crash-after-cutover");
        kill(getpid(), SIGKILL);
    }
    if (!err && wait_alive(&err)) {
        let_go();
    }
    vm_thaw();
    chardev_set_freeze(machine_chardevs(), false);
    monitor_freeze(false);
    fail(err->message);
}

/* --- warming -------------------------------------------------------------- */

static bool on_hello(HandoffMsg *msg, GError **errp)
{
    if (msg->version != HANDOFF_VERSION) {
        JsonObject *body = json_object_new();

        error_setg(errp, "the successor speaks handoff version %u, this "
                   "ferry %u", msg->version, HANDOFF_VERSION);
        json_object_set_string_member(body, "reason", (*errp)->message);
        handoff_send(pred.sock, HANDOFF_ABORT, body, NULL, 0, NULL);
        json_object_unref(body);
        return false;
    }
    return send_resources(errp);
}

/*
 * A successor that dies closes its end first: its exit status, which
 * tells a crash from a binary that is not ferry at all, comes with the
 * child watch; give it a moment before failing without one.
 */
static gboolean on_silent_end(gpointer opaque)
{
    pred.timer = 0;
    fail("the successor closed the handoff socket");
    return G_SOURCE_REMOVE;
}

static void await_end(void)
{
    g_clear_handle_id(&pred.timer, g_source_remove);
    pred.timer = g_timeout_add(2000, on_silent_end, NULL);
}

static gboolean on_message(gint fd, GIOCondition cond, gpointer opaque)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(HandoffMsg) msg = handoff_recv(fd, 0, &err);
    bool ok = msg != NULL;

    if (!ok && pred.child_watch) {
        pred.sock_watch = 0;
        await_end();
        return G_SOURCE_REMOVE;
    }

    if (ok && msg->type == HANDOFF_HELLO) {
        ok = on_hello(msg, &err);
    } else if (ok && msg->type == HANDOFF_READY) {
        live_update_set_status(LIVE_UPDATE_STATUS_READY, NULL);
        pred.sock_watch = 0;
        cutover();
        return G_SOURCE_REMOVE;
    } else if (ok) {
        error_setg(&err, "the successor sent %s while warming: %s",
                   handoff_type_name(msg->type),
                   json_object_get_string_member_with_default(
                       msg->body, "reason", "no reason given"));
        ok = false;
    }
    if (!ok) {
        pred.sock_watch = 0;
        fail(err->message);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static void on_child_exit(GPid pid, gint status, gpointer opaque)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *why = NULL;

    pred.child_watch = 0;
    pred.child = 0;             /* reaped by GLib */
    g_spawn_check_wait_status(status, &err);
    why = g_strdup_printf("the successor exited while warming (%s)",
                          err ? err->message : "status 0");
    fail(why);
}

static gboolean on_timeout(gpointer opaque)
{
    pred.timer = 0;
    fail("the successor was not ready in time");
    return G_SOURCE_REMOVE;
}

/* --- start ---------------------------------------------------------------- */

static bool can_start(const char *binary, GError **errp)
{
    if (live_update_in_progress()) {
        error_setg(errp, "a live update is already in progress");
        return false;
    }
    if (!migration_allows(errp)) {
        return false;
    }
    if (!ram_blocks()) {
        error_setg(errp, "a live update needs a machine (this one is "
                   "-machine none)");
        return false;
    }
    if (binary && access(binary, X_OK) < 0) {
        error_setg_errno(errp, errno, "live update: cannot run '%s'", binary);
        return false;
    }
    return true;
}

static bool spawn(const char *binary, const char *fault, int child_sock,
                  GError **errp)
{
    const int target = 3;
    g_auto(GStrv) argv = live_update_successor_argv(binary, target, fault);

    return g_spawn_async_with_pipes_and_fds(
        NULL, (const char *const *)argv, NULL,
        G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_CHILD_INHERITS_STDIN,
        NULL, NULL, -1, -1, -1, &child_sock, &target, 1, &pred.child,
        NULL, NULL, NULL, errp);
}

/* From here the handoff runs from the main loop. */
static void begin(int sock)
{
    pred.sock = sock;
    live_update_set_status(LIVE_UPDATE_STATUS_WARMING, NULL);
    pred.sock_watch = g_unix_fd_add(pred.sock, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                    on_message, NULL);
    pred.timer = g_timeout_add(LIVE_UPDATE_WARMING_TIMEOUT_MS, on_timeout,
                               NULL);
}

bool live_update_start_cpr(const char *path, GError **errp)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int sock;

    if (!can_start(NULL, errp)) {
        return false;
    }
    if (strlen(path) >= sizeof(sun.sun_path)) {
        error_setg(errp, "cpr channel: path '%s' is too long", path);
        return false;
    }
    strcpy(sun.sun_path, path);
    sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (sock < 0 ||
        connect(sock, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        error_setg_errno(errp, errno, "cpr channel: cannot connect to '%s' "
                         "(is the new ferry listening there with -incoming "
                         "'{\"channel-type\": \"cpr\", ...}'?)", path);
        if (sock >= 0) {
            close(sock);
        }
        return false;
    }
    ferry_log("live update: cpr-transfer to the process on %s", path);
    begin(sock);
    return true;
}

bool live_update_start(const char *binary, const char *fault,
                       GError **errp)
{
    int sv[2];

    binary = binary ? binary : live_update_default_binary();
    if (!can_start(binary, errp)) {
        return false;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        error_setg_errno(errp, errno, "live update: socketpair");
        return false;
    }
    pred.crash_after_cutover =
        !g_strcmp0(fault, "predecessor-crash-after-cutover");
    if (pred.crash_after_cutover) {
        fault = NULL;           /* the successor works as usual */
    }
    if (!spawn(binary, fault, sv[1], errp)) {
        g_prefix_error(errp, "live update: cannot start '%s': ", binary);
        close(sv[0]);
        close(sv[1]);
        return false;
    }
    close(sv[1]);
    ferry_log("live update: started %s as pid %d", binary, (int)pred.child);
    begin(sv[0]);
    pred.child_watch = g_child_watch_add(pred.child, on_child_exit, NULL);
    return true;
}
