/*
 * ferry: parse the command line, build the machine, open the monitors, run
 * the main loop until quit.
 */
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include "hw/pc.h"
#include "monitor/monitor.h"
#include "system/machine.h"
#include "system/memory.h"
#include "system/os.h"
#include "system/runstate.h"
#include "util/log.h"

const MachineConfig *current_config;

static const char usage[] =
    "usage: ferry [options]\n"
    "  -name NAME            name of the guest\n"
    "  -m SIZE               RAM size (default 128M; 512M, 4G, ...)\n"
    "  -smp N                number of vCPUs (default 1)\n"
    "  -accel kvm|soft       accelerator (default: kvm when /dev/kvm works)\n"
    "  -kernel FILE          Multiboot kernel (default: built-in test guest)\n"
    "  -append STR           kernel command line (dirty-rate=64M|max|0)\n"
    "  -qmp SPEC             QMP server: unix:PATH,server=on,wait=off or\n"
    "                        tcp:HOST:PORT,server=on,wait=off (repeatable)\n"
    "  -monitor SPEC         human monitor: stdio or unix:PATH,server=on,wait=off\n"
    "  -serial SPEC          serial console: file:PATH, stdio or none\n"
    "  -S                    do not start the vCPUs (use 'cont')\n"
    "  -incoming URI|defer   wait for an incoming migration\n"
    "  -daemonize            detach once started\n"
    "  -pidfile FILE         write the process id to FILE\n"
    "  -D FILE               log to FILE\n"
    "  -version              print the version\n";

static gboolean on_signal(gpointer opaque)
{
    ferry_request_shutdown(false, "host-signal");
    return G_SOURCE_CONTINUE;
}

static bool start_monitors(const MachineConfig *cfg, GError **errp)
{
    for (guint i = 0; cfg->qmp && i < cfg->qmp->len; i++) {
        if (!qmp_server_add(g_ptr_array_index(cfg->qmp, i), errp)) {
            return false;
        }
    }
    return !cfg->monitor || hmp_server_add(cfg->monitor, errp);
}

/* -S leaves the VM in prelaunch, -incoming in inmigrate; else it runs. */
static bool enter_initial_state(const MachineConfig *cfg, GError **errp)
{
    if (cfg->incoming) {
        return runstate_set(RUN_STATE_INMIGRATE, errp);
    }
    return cfg->start_paused || vm_start(errp);
}

static bool start(const MachineConfig *cfg, GError **errp)
{
    if (!log_open(cfg->logfile, errp) ||
        (cfg->daemonize && !os_daemonize_start(errp)) ||
        (cfg->pidfile && !os_pidfile_create(cfg->pidfile, errp))) {
        return false;
    }
    signal(SIGPIPE, SIG_IGN);
    g_unix_signal_add(SIGINT, on_signal, NULL);
    g_unix_signal_add(SIGTERM, on_signal, NULL);
    g_unix_signal_add(SIGHUP, on_signal, NULL);
    return pc_machine_init(cfg, errp) && start_monitors(cfg, errp) &&
           enter_initial_state(cfg, errp);
}

int main(int argc, char **argv)
{
    MachineConfig cfg;
    g_autoptr(GError) err = NULL;

    machine_config_init(&cfg);
    if (!machine_parse_options(argc, argv, &cfg, &err)) {
        fprintf(stderr, "ferry: %s\n", err->message);
        return 1;
    }
    if (cfg.want_help || cfg.want_version) {
        fputs(cfg.want_help ? usage : "ferry version " FERRY_VERSION "\n",
              stdout);
        return 0;
    }
    current_config = &cfg;
    if (!start(&cfg, &err)) {
        fprintf(stderr, "ferry: %s\n", err->message);
        ferry_log("start-up failed: %s", err->message);
        os_daemonize_finish(false);
        return 1;
    }
    os_daemonize_finish(true);
    ferry_main_loop_run();

    {
        g_autoptr(GError) stop_err = NULL;
        vm_stop(RUN_STATE_SHUTDOWN, &stop_err);
    }
    monitor_cleanup();
    pc_machine_cleanup();
    ram_blocks_destroy();
    os_pidfile_remove();
    machine_config_clear(&cfg);
    return 0;
}
