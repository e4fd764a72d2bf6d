/*
 * ferry: parse the command line, build the machine, open the monitors, run
 * the main loop until quit.
 */
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include "monitor/monitor.h"
#include "system/machine.h"
#include "system/live-update.h"
#include "system/machine-init.h"
#include "system/memory.h"
#include "system/migration-vmm.h"
#include "system/os.h"
#include "system/ram-prefault.h"
#include "system/runstate.h"
#include "util/log.h"



static gboolean on_signal(gpointer opaque)
{
    ferry_request_shutdown(false, "host-signal");
    return G_SOURCE_CONTINUE;
}

/* SIGHUP: a live update to the executable ferry was started from. */
static gboolean on_hangup(gpointer opaque)
{
    g_autoptr(GError) err = NULL;

    if (!live_update_start(NULL, NULL, &err)) {
        ferry_log("SIGHUP: %s", err->message);
    }
    return G_SOURCE_CONTINUE;
}

static bool start_monitors(const MachineConfig *cfg, GError **errp)
{
    for (guint i = 0; cfg->qmp && i < cfg->qmp->len; i++) {
        if (!qmp_server_add(g_ptr_array_index(cfg->qmp, i), errp)) {
            return false;
        }
    }
    for (guint i = 0; i < cfg->mons->len; i++) {
        if (!monitor_mon_add(g_ptr_array_index(cfg->mons, i),
                             machine_chardevs(), errp)) {
            return false;
        }
    }
    return !cfg->monitor || hmp_server_add(cfg->monitor, errp);
}

/*
 * -S leaves the VM in prelaunch, -incoming in inmigrate; else it runs.
 * Guest RAM is populated in the background from the start (-machine
 * x-prefault=off leaves it to the guest's first touch): here a guest's
 * first touch of a shmem page costs several times what MADV_POPULATE_WRITE
 * does (docs/kvm-host.md), and a destination must not pay it while pages
 * arrive.
 */
static bool enter_initial_state(const MachineConfig *cfg, GError **errp)
{
    if (cfg->prefault) {
        ram_prefault_start();
    }
    if (cfg->incoming) {
        return runstate_set(RUN_STATE_INMIGRATE, errp) &&
               (!strcmp(cfg->incoming, "defer") ||
                ferry_mig_incoming(machine_migration(), cfg->incoming, true,
                                   !cfg->start_paused, errp));
    }
    return cfg->start_paused || vm_start(errp);
}

static void set_up_process(const MachineConfig *cfg)
{
    if (cfg->process_name) {
        prctl(PR_SET_NAME, cfg->process_name);  /* -name process=, as QEMU */
    }
    signal(SIGPIPE, SIG_IGN);
    g_unix_signal_add(SIGINT, on_signal, NULL);
    g_unix_signal_add(SIGTERM, on_signal, NULL);
    g_unix_signal_add(SIGHUP, on_hangup, NULL);
}

static bool start(const MachineConfig *cfg, GError **errp)
{
    if (!log_open(cfg->logfile, errp) ||
        (cfg->daemonize && !os_daemonize_start(errp)) ||
        (cfg->pidfile && !os_pidfile_create(cfg->pidfile, errp))) {
        return false;
    }
    set_up_process(cfg);
    return machine_init(cfg, errp) && start_monitors(cfg, errp) &&
           enter_initial_state(cfg, errp);
}

/*
 * A live update's successor builds the same machine from what its
 * predecessor hands over, then takes the guest over (docs/live-update.md).
 */
static bool start_successor(const MachineConfig *cfg, GError **errp)
{
    if (!log_open(cfg->logfile, errp) ||
        !live_update_successor_hello(cfg->handoff_fd, cfg->handoff_fault,
                                     errp)) {
        return false;
    }
    set_up_process(cfg);
    return machine_init(cfg, errp) && start_monitors(cfg, errp) &&
           live_update_successor_cutover(errp);
}

/* "ferry: MESSAGE", with QEMU's UTC timestamp first under -msg timestamp=on */
static void report_error(const MachineConfig *cfg, const char *msg)
{
    if (cfg->msg_timestamp) {
        g_autoptr(GDateTime) now = g_date_time_new_now_utc();
        g_autofree char *stamp = g_date_time_format(now, "%FT%T.%fZ");

        fprintf(stderr, "%s ", stamp);
    }
    fprintf(stderr, "ferry: %s\n", msg);
}

int main(int argc, char **argv)
{
    MachineConfig cfg;
    g_autoptr(GError) err = NULL;

    machine_config_init(&cfg);
    if (!machine_parse_options(argc, argv, &cfg, &err)) {
        report_error(&cfg, err->message);
        return 1;
    }
    if (cfg.want_help || cfg.want_version) {
        if (cfg.want_help) {
            machine_print_help(stdout);
        } else {
            printf("ferry version " FERRY_VERSION "\n");
        }
        return 0;
    }
    current_config = &cfg;
    live_update_remember(argc, argv);
    if (cfg.cpr_incoming && cfg.handoff_fd < 0) {
        cfg.handoff_fd = live_update_cpr_accept(cfg.cpr_incoming, &err);
        if (cfg.handoff_fd < 0) {
            report_error(&cfg, err->message);
            return 1;
        }
    }
    if (cfg.handoff_fd >= 0 && !start_successor(&cfg, &err)) {
        /* Everything still belongs to the predecessor: touch nothing */
        report_error(&cfg, err->message);
        ferry_log("live update: the successor gives up: %s", err->message);
        live_update_successor_abort(err->message);
        _exit(1);
    }
    if (cfg.handoff_fd < 0 && !start(&cfg, &err)) {
        report_error(&cfg, err->message);
        if (log_fileno() >= 0) {
            ferry_log("start-up failed: %s", err->message);
        }
        os_daemonize_finish(false);
        return 1;
    }
    os_daemonize_finish(true);
    ferry_main_loop_run();

    {
        g_autoptr(GError) stop_err = NULL;
        vm_stop(RUN_STATE_SHUTDOWN, &stop_err);
    }
    ram_prefault_stop();
    ferry_mig_cancel(machine_migration(), NULL);
    ferry_mig_join(machine_migration());
    monitor_cleanup();
    machine_cleanup(&cfg);
    ram_blocks_destroy();
    os_pidfile_remove();
    machine_config_clear(&cfg);
    return ferry_exit_status();
}
