/*
 * Shutdown, reset and power-button requests, and the main loop they end.
 *
 * Any thread may ask (a vCPU thread handling the guest's power-off, a
 * signal, a QMP command); the main loop acts, in a callback of its own.
 * That is QEMU's order too: the reply to 'quit', 'system_reset' or
 * 'system_powerdown' reaches the client before the SHUTDOWN, RESET or
 * POWERDOWN event, since events emitted on the main loop go out at once
 * (monitor/qmp-event.c).
 *
 * Locking: the request fields are written under req_lock by any thread;
 * the policy flags (-no-shutdown, -no-reboot) are set once at start-up,
 * before the main loop runs.
 */
#include "hw/power-button.h"
#include "qapi/qapi-events.h"
#include "system/runstate.h"
#include "util/log.h"

typedef struct Request {
    bool pending;
    bool guest;
    ShutdownCause cause;
} Request;

static GMutex req_lock;
static Request shutdown_req, reset_req;
static bool exiting;            /* main thread: the loop is ending */
static bool pause_on_shutdown;  /* -no-shutdown */
static bool exit_on_reset;      /* -no-reboot */
static int exit_status;
static GMainLoop *main_loop;

void runstate_set_no_shutdown(bool pause)
{
    pause_on_shutdown = pause;
}

void runstate_set_no_reboot(bool exit)
{
    exit_on_reset = exit;
}

static ShutdownCause cause_of(const char *reason)
{
    int cause = ShutdownCause_lookup(reason);

    return cause < 0 ? SHUTDOWN_CAUSE_NONE : (ShutdownCause)cause;
}

/* Takes @r's request, if any, under the lock. */
static bool take(Request *r, Request *out)
{
    bool found;

    g_mutex_lock(&req_lock);
    found = r->pending;
    *out = *r;
    r->pending = false;
    g_mutex_unlock(&req_lock);
    return found;
}

static void quit_main_loop(void)
{
    exiting = true;
    if (main_loop) {
        g_main_loop_quit(main_loop);
    }
}

/*
 * A guest power-off with -no-shutdown stops the VM in state 'shutdown'
 * (STOP follows SHUTDOWN, as in QEMU) and waits for the management's
 * reset or quit; anything else ends the process.
 */
static gboolean handle_shutdown(gpointer opaque)
{
    Request r;
    g_autoptr(GError) err = NULL;

    if (!take(&shutdown_req, &r) || exiting) {
        return G_SOURCE_REMOVE;
    }
    ferry_log("shutdown: %s", ShutdownCause_str(r.cause));
    qapi_event_send_shutdown(r.guest, r.cause);
    if (r.guest && pause_on_shutdown) {
        if (!vm_stop(RUN_STATE_SHUTDOWN, &err)) {
            ferry_log("shutdown: cannot pause: %s", err->message);
        }
        return G_SOURCE_REMOVE;
    }
    quit_main_loop();
    return G_SOURCE_REMOVE;
}

static void post(Request *r, bool guest, ShutdownCause cause, GSourceFunc fn)
{
    g_mutex_lock(&req_lock);
    if (!r->pending) {
        *r = (Request){ .pending = true, .guest = guest, .cause = cause };
        g_idle_add(fn, NULL);
    }
    g_mutex_unlock(&req_lock);
}

void ferry_request_shutdown(bool guest, const char *reason)
{
    post(&shutdown_req, guest, cause_of(reason), handle_shutdown);
}

static gboolean handle_reset(gpointer opaque)
{
    Request r;
    g_autoptr(GError) err = NULL;

    if (!take(&reset_req, &r) || exiting) {
        return G_SOURCE_REMOVE;
    }
    if (exit_on_reset) {
        ferry_request_shutdown(r.guest, ShutdownCause_str(r.cause));
        return G_SOURCE_REMOVE;
    }
    if (!vm_reset(&err)) {
        ferry_log("reset failed: %s", err->message);
        return G_SOURCE_REMOVE;
    }
    qapi_event_send_reset(r.guest, r.cause);
    return G_SOURCE_REMOVE;
}

void ferry_request_reset(bool guest, const char *reason)
{
    post(&reset_req, guest, cause_of(reason), handle_reset);
}

static gboolean handle_powerdown(gpointer opaque)
{
    if (!exiting) {
        qapi_event_send_powerdown();
        power_button_press();
    }
    return G_SOURCE_REMOVE;
}

void ferry_request_powerdown(void)
{
    g_idle_add(handle_powerdown, NULL);
}

void ferry_exit_with(int status, const char *why)
{
    ferry_log("exiting with status %d: %s", status, why);
    exit_status = status;
    quit_main_loop();
}

int ferry_exit_status(void)
{
    return exit_status;
}

bool ferry_shutdown_requested(void)
{
    bool pending;

    g_mutex_lock(&req_lock);
    pending = shutdown_req.pending;
    g_mutex_unlock(&req_lock);
    return pending || exiting;
}

void ferry_main_loop_run(void)
{
    main_loop = g_main_loop_new(NULL, FALSE);
    if (!exiting) {
        g_main_loop_run(main_loop);
    }
    g_clear_pointer(&main_loop, g_main_loop_unref);
}
