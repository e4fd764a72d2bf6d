/*
 * Run state of the VM (QAPI RunState), owned by the main thread.
 * vm_stop/vm_start pause and resume the vCPUs and emit STOP/RESUME.
 */
#ifndef FERRY_SYSTEM_RUNSTATE_H
#define FERRY_SYSTEM_RUNSTATE_H

#include <glib.h>
#include <stdbool.h>
#include "qapi/qapi-types.h"

RunState runstate_get(void);
bool runstate_is_running(void);
/* Changes the state through the transition table; refuses invalid moves. */
bool runstate_set(RunState new_state, GError **errp);

/* Pauses every vCPU and enters @state (paused, postmigrate, ...). */
bool vm_stop(RunState state, GError **errp);
/* Resumes every vCPU and enters running. */
bool vm_start(GError **errp);

/* Asks the main loop to exit; emits SHUTDOWN {guest, reason}. */
void ferry_request_shutdown(bool guest, const char *reason);
bool ferry_shutdown_requested(void);

/*
 * Ends the process with @status once the main loop returns (a failed
 * incoming migration: QEMU exits 1), logging @why.
 */
void ferry_exit_with(int status, const char *why);
int ferry_exit_status(void);

/* Runs the GLib main loop until a shutdown is requested. */
void ferry_main_loop_run(void);

#endif
