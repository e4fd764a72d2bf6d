/*
 * The command line: QEMU-style options ("-m 512M", "-smp 2", "-S").
 *
 * GOption cannot parse single-dash long options (it reads "-smp" as the
 * short options -s -m -p), so this is a small declarative parser instead:
 * one table row per option with its name, whether it takes an argument and
 * a handler that validates and stores the value.  Like QEMU, "--opt" is
 * accepted as "-opt", a repeated option overrides the earlier one (except
 * the repeatable ones: -qmp, -chardev, -object, ...), and -help/-version
 * stop parsing.  Option values with keys go through QEMU's key=value
 * parser (util/keyval.h), JSON form included; -blockdev, -device, -qmp,
 * -monitor, -chardev and -mon are kept as given and parsed the same way by
 * their owners at machine init.
 *
 * The handlers live with their kind: options-machine.c (the machine,
 * RAM, vCPUs, objects), options-char.c (chardevs, monitors, fd sets),
 * options-host.c (the process), options-compat.c (what libvirt sends and
 * ferry has no use for).  docs/libvirt.md has the table of all of them.
 */
#include <string.h>
#include "options-internal.h"
#include "util/error.h"
#include "util/json.h"
#include "monitor/migration-channel.h"
#include "qapi/qapi-visit.h"

typedef struct OptionDef {
    const char *name;       /* without the leading dash */
    const char *arg_name;   /* NULL: the option takes no argument */
    OptionHandler *handler;
    const char *help;       /* NULL: an alias, left out of -help */
} OptionDef;

void option_set_str(char **dst, const char *arg)
{
    g_free(*dst);
    *dst = g_strdup(arg);
}

bool option_error(const char *opt, GError **errp)
{
    g_prefix_error(errp, "%s: ", opt);
    return false;
}

static bool require_nonempty(const char *opt, const char *arg, GError **errp)
{
    if (!*arg) {
        error_setg(errp, "%s: requires a non-empty argument", opt);
        return false;
    }
    return true;
}

Keyval *option_parse(const char *opt, const char *arg, const char *implied,
                     const char *const *known, GError **errp)
{
    g_autoptr(Keyval) kv = keyval_parse(arg, implied, errp);

    if (!kv || !keyval_check_known(kv, known, errp)) {
        option_error(opt, errp);
        return NULL;
    }
    return g_steal_pointer(&kv);
}

bool option_str(const char *opt, const Keyval *kv, const char *key,
                const char **out, GError **errp)
{
    if (!keyval_get_str(kv, key, out, errp)) {
        return option_error(opt, errp);
    }
    *out = *out ? *out : "";
    return true;
}

/* Repeatable options kept as given; their owners validate them at
 * machine init (the monitor, the block layer, the device model). */
static bool add_nonempty(GPtrArray *list, const char *opt, const char *arg,
                         GError **errp)
{
    if (!require_nonempty(opt, arg, errp)) {
        return false;
    }
    g_ptr_array_add(list, g_strdup(arg));
    return true;
}

static bool set_nonempty(char **dst, const char *opt, const char *arg,
                         GError **errp)
{
    if (!require_nonempty(opt, arg, errp)) {
        return false;
    }
    option_set_str(dst, arg);
    return true;
}

#define LIST_OPTION(fn, field)                                              \
    static bool fn(MachineConfig *cfg, const char *opt, const char *arg,    \
                   GError **errp)                                           \
    {                                                                       \
        return add_nonempty(cfg->field, opt, arg, errp);                    \
    }

LIST_OPTION(opt_qmp, qmp)
LIST_OPTION(opt_blockdev, blockdevs)
LIST_OPTION(opt_device, devices)
LIST_OPTION(opt_chardev, chardevs)
LIST_OPTION(opt_mon, mons)

/* Options that store a non-empty string as given, in @field. */
#define STRING_OPTION(fn, field)                                            \
    static bool fn(MachineConfig *cfg, const char *opt, const char *arg,    \
                   GError **errp)                                           \
    {                                                                       \
        return set_nonempty(&cfg->field, opt, arg, errp);                   \
    }

STRING_OPTION(opt_kernel, kernel)
STRING_OPTION(opt_monitor, monitor)
STRING_OPTION(opt_pidfile, pidfile)
STRING_OPTION(opt_logfile, logfile)

/* Options without an argument that set @field. */
#define FLAG_OPTION(fn, field)                                              \
    static bool fn(MachineConfig *cfg, const char *opt, const char *arg,    \
                   GError **errp)                                           \
    {                                                                       \
        cfg->field = true;                                                  \
        return true;                                                        \
    }

FLAG_OPTION(opt_S, start_paused)
FLAG_OPTION(opt_daemonize, daemonize)
FLAG_OPTION(opt_help, want_help)
FLAG_OPTION(opt_version, want_version)

/*
 * -x-handoff fd=FD[,fault=NAME]: started by a live update
 * (system/live-update/), with the handoff socket at FD and, in tests, a
 * fault to inject.  Not for people: the predecessor adds it.
 */
static bool opt_handoff(MachineConfig *cfg, const char *opt, const char *arg,
                        GError **errp)
{
    static const char *const known[] = { "fd", "fault", NULL };
    g_autoptr(Keyval) kv = keyval_parse(arg, "fd", errp);
    const char *fd, *fault;
    guint64 n;

    if (!kv || !keyval_check_known(kv, known, errp) ||
        !keyval_get_str(kv, "fd", &fd, errp) ||
        !keyval_get_str(kv, "fault", &fault, errp)) {
        g_prefix_error(errp, "-%s: ", opt);
        return false;
    }
    if (!fd || !g_ascii_string_to_unsigned(fd, 10, 3, G_MAXINT, &n, NULL)) {
        error_setg(errp, "-%s: fd=%s is not a descriptor number above 2",
                   opt, fd ? fd : "");
        return false;
    }
    cfg->handoff_fd = (int)n;
    option_set_str(&cfg->handoff_fault, fault);
    return true;
}

/*
 * -incoming URI, or QEMU 8.2's JSON channel form: a 'main' channel is
 * the URI, a 'cpr' channel (QEMU 10's cpr-transfer) makes this process
 * wait for its predecessor on that unix socket.
 */
static bool opt_incoming(MachineConfig *cfg, const char *opt,
                         const char *arg, GError **errp)
{
    g_autoptr(JsonNode) node = NULL;
    g_autoptr(MigrationChannel) ch = NULL;
    const char *path;

    if (arg[0] != '{') {
        return set_nonempty(&cfg->incoming, opt, arg, errp);
    }
    if (!(node = qjson_parse(arg, strlen(arg), errp)) ||
        !qapi_MigrationChannel_from_json(node, &ch, errp)) {
        return option_error(opt, errp);
    }
    if (ch->channel_type == MIGRATION_CHANNEL_TYPE_MAIN) {
        g_free(cfg->incoming);
        cfg->incoming = migration_channel_uri(ch->addr, errp);
        return cfg->incoming || option_error(opt, errp);
    }
    if (!(path = migration_channel_cpr_path(ch, errp))) {
        return option_error(opt, errp);
    }
    option_set_str(&cfg->cpr_incoming, path);
    return true;
}

static bool opt_append(MachineConfig *cfg, const char *opt, const char *arg,
                       GError **errp)
{
    option_set_str(&cfg->append, arg);     /* an empty command line is valid */
    return true;
}

static const OptionDef options[] = {
    { "name", "[guest=]NAME,...", opt_name,
      "name of the guest; debug-threads=on names vCPU threads as QEMU does, "
      "process=P the process" },
    { "uuid", "UUID", opt_uuid, "the guest's UUID (kept for management)" },
    { "machine", "[type=]TYPE,...", opt_machine,
      "pc-i440fx-7.2 (alias pc, the default) or none (no guest); "
      "accel=A[:A...], memory-backend=ID, dump-guest-core=off, usb=off, "
      "x-prefault=off (guest RAM faulted in on first touch only)" },
    { "m", "[size=]SIZE", opt_m,
      "guest RAM, e.g. 512M or 4G; a plain number is MiB (default 128M)" },
    { "object", "TYPE,id=ID,...", opt_object,
      "memory-backend-ram,id=ID,size=SIZE (the -m RAM) or "
      "secret,id=ID,file=F|data=D (repeatable)" },
    { "smp", "[cpus=]N,...", opt_smp,
      "number of vCPUs, 1 to 64 (default 1); sockets=, dies=, cores=, "
      "threads=, maxcpus= (equal to N)" },
    { "accel", "kvm|tcg|soft", opt_accel,
      "accelerator, tcg meaning soft; repeat to give fallbacks "
      "(default kvm when /dev/kvm is usable)" },
    { "kernel", "FILE", opt_kernel,
      "Multiboot kernel to boot (default: the built-in test guest)" },
    { "append", "STR", opt_append, "kernel command line" },
    { "qmp", "SPEC", opt_qmp,
      "QMP server: unix:PATH,server=on,wait=off or tcp:HOST:PORT,... "
      "(repeatable)" },
    { "chardev", "BACKEND,id=ID,...", opt_chardev,
      "socket,path=P|fd=N,server=on,wait=off; file,path=P[,append=on]; "
      "pty; null; stdio (repeatable)" },
    { "mon", "chardev=ID,...", opt_mon,
      "a monitor (mode=control for QMP, readline for HMP) on a socket "
      "chardev, one client at a time (repeatable)" },
    { "add-fd", "fd=N,set=M,...", opt_add_fd,
      "puts inherited fd N in fd set M, opened as /dev/fdset/M (repeatable)" },
    { "blockdev", "driver=DRV,node-name=NAME,...", opt_blockdev,
      "a block node: driver=file,filename=PATH[,cache.direct=on]"
      "[,aio=io_uring|threads], driver=http,url=URL, or "
      "driver=blkdelay,file=NODE[,attach-latency-ms=N][,io-latency-us=N] "
      "(repeatable)" },
    { "device", "DRIVER,...", opt_device,
      "pvblk,drive=NODE,id=ID: a paravirtual disk on a block node; "
      "isa-serial,chardev=ID: COM1 on a chardev (repeatable)" },
    { "monitor", "SPEC", opt_monitor, "human monitor: stdio or unix:PATH,..." },
    { "serial", "DEV", opt_serial,
      "COM1: file:PATH, stdio, pty, null, chardev:ID or none" },
    { "S", NULL, opt_S, "do not start the vCPUs (resume with QMP 'cont')" },
    { "no-reboot", NULL, opt_no_reboot, "exit instead of resetting the guest" },
    { "no-shutdown", NULL, opt_no_shutdown,
      "pause instead of exiting when the guest shuts down" },
    { "incoming", "URI", opt_incoming,
      "wait for an incoming migration from URI, or 'defer'" },
    { "daemonize", NULL, opt_daemonize,
      "detach from the terminal once start-up succeeded" },
    { "pidfile", "FILE", opt_pidfile, "write the process id to FILE (locked)" },
    { "D", "FILE", opt_logfile, "write the log to FILE instead of stderr" },
    { "x-handoff", "fd=FD", opt_handoff,
      "internal: take the guest over from a live update's handoff socket" },
    { "overcommit", "mem-lock=on|off", opt_overcommit,
      "mem-lock=on locks all of ferry's memory (mlockall)" },
    { "msg", "timestamp=on|off", opt_msg, "timestamps on error messages" },
    { "sandbox", "off", opt_sandbox, "accepted off only (no seccomp filter)" },
    { "display", "none", opt_display, "accepted: ferry has no display" },
    { "nographic", NULL, opt_ignored_flag, "accepted: ferry has no display" },
    { "rtc", "base=utc,...", opt_rtc, "accepted: ferry has no RTC" },
    { "boot", "strict=on,...", opt_boot,
      "accepted: ferry boots -kernel directly" },
    { "audiodev", "none,id=ID", opt_audiodev, "accepted: ferry has no sound" },
    { "usb", NULL, opt_ignored_flag, "accepted: ferry has no USB" },
    { "no-acpi", NULL, opt_ignored_flag, "accepted: ferry has no ACPI" },
    { "nodefaults", NULL, opt_ignored_flag,
      "accepted: ferry creates no default devices" },
    { "no-user-config", NULL, opt_ignored_flag,
      "accepted: ferry reads no configuration files" },
    { "h", NULL, opt_help, NULL },
    { "help", NULL, opt_help, "print this help and exit" },
    { "version", NULL, opt_version, "print the version and exit" },
};

/* "-name" and "--name" both find the row "name". */
static const OptionDef *lookup_option(const char *arg)
{
    const char *name;

    if (arg[0] != '-') {
        return NULL;
    }
    name = arg[1] == '-' ? arg + 2 : arg + 1;
    for (gsize i = 0; i < G_N_ELEMENTS(options); i++) {
        if (!strcmp(options[i].name, name)) {
            return &options[i];
        }
    }
    return NULL;
}

/* The configuration this process runs with (set by main). */
const MachineConfig *current_config;

void machine_config_init(MachineConfig *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->ram_size = 128ULL << 20;       /* QEMU's default -m */
    cfg->smp = 1;
    cfg->sockets = cfg->dies = cfg->cores = cfg->threads = 1;
    cfg->dump_guest_core = true;
    cfg->prefault = true;
    cfg->handoff_fd = -1;
    cfg->qmp = g_ptr_array_new_with_free_func(g_free);
    cfg->blockdevs = g_ptr_array_new_with_free_func(g_free);
    cfg->devices = g_ptr_array_new_with_free_func(g_free);
    cfg->chardevs = g_ptr_array_new_with_free_func(g_free);
    cfg->mons = g_ptr_array_new_with_free_func(g_free);
    cfg->objects = g_ptr_array_new_with_free_func(
        (GDestroyNotify)object_config_free);
    cfg->add_fds = g_ptr_array_new_with_free_func(
        (GDestroyNotify)add_fd_config_free);
}

void machine_config_clear(MachineConfig *cfg)
{
    char **strings[] = {
        &cfg->name, &cfg->process_name, &cfg->uuid, &cfg->machine_accel,
        &cfg->memory_backend, &cfg->accel, &cfg->kernel, &cfg->append,
        &cfg->monitor, &cfg->serial, &cfg->incoming, &cfg->pidfile,
        &cfg->logfile, &cfg->handoff_fault, &cfg->cpr_incoming,
    };
    GPtrArray **lists[] = {
        &cfg->qmp, &cfg->blockdevs, &cfg->devices, &cfg->chardevs,
        &cfg->mons, &cfg->objects, &cfg->add_fds,
    };

    for (gsize i = 0; i < G_N_ELEMENTS(strings); i++) {
        g_clear_pointer(strings[i], g_free);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(lists); i++) {
        g_clear_pointer(lists[i], g_ptr_array_unref);
    }
    memset(cfg, 0, sizeof(*cfg));
}

/* A daemon's stdio is /dev/null, as QEMU refuses these combinations too. */
static bool check_daemonize(const MachineConfig *cfg, GError **errp)
{
    const char *user = NULL;

    if (!cfg->daemonize) {
        return true;
    }
    if (cfg->serial && !strcmp(cfg->serial, "stdio")) {
        user = "-serial stdio";
    } else if (cfg->monitor && g_str_has_prefix(cfg->monitor, "stdio")) {
        user = "-monitor stdio";
    }
    for (guint i = 0; !user && i < cfg->qmp->len; i++) {
        if (g_str_has_prefix(g_ptr_array_index(cfg->qmp, i), "stdio")) {
            user = "-qmp stdio";
        }
    }
    for (guint i = 0; !user && i < cfg->chardevs->len; i++) {
        if (g_str_has_prefix(g_ptr_array_index(cfg->chardevs, i), "stdio")) {
            user = "-chardev stdio";
        }
    }
    if (user) {
        error_setg(errp, "-daemonize: cannot be used with %s", user);
        return false;
    }
    return true;
}

bool machine_parse_options(int argc, char **argv, MachineConfig *cfg,
                           GError **errp)
{
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        const OptionDef *def = lookup_option(opt);
        const char *arg = NULL;

        if (!def) {
            if (opt[0] == '-') {
                error_setg(errp, "%s: invalid option", opt);
            } else {
                error_setg(errp, "'%s': unexpected argument (options start "
                           "with '-'; see -help)", opt);
            }
            return false;
        }
        if (def->arg_name) {
            if (i + 1 >= argc) {
                error_setg(errp, "%s: requires an argument", opt);
                return false;
            }
            arg = argv[++i];
        }
        if (!def->handler(cfg, opt, arg, errp)) {
            return false;
        }
        if (cfg->want_help || cfg->want_version) {
            return true;
        }
    }
    return options_check_machine(cfg, errp) && check_daemonize(cfg, errp);
}

void machine_print_help(FILE *out)
{
    fprintf(out, "usage: ferry [options]\n\n"
            "A KVM micro-hypervisor.  Options (\"--opt\" works too):\n");
    for (gsize i = 0; i < G_N_ELEMENTS(options); i++) {
        const OptionDef *def = &options[i];
        g_autofree char *usage = NULL;

        if (!def->help) {
            continue;
        }
        usage = g_strdup_printf("-%s %s", def->name,
                                def->arg_name ? def->arg_name : "");
        fprintf(out, "  %-22s %s\n", usage, def->help);
    }
}
