/*
 * The command line: QEMU-style options ("-m 512M", "-smp 2", "-S").
 *
 * GOption cannot parse single-dash long options (it reads "-smp" as the
 * short options -s -m -p), so this is a small declarative parser instead:
 * one table row per option with its name, whether it takes an argument and
 * a handler that validates and stores the value.  Like QEMU, "--opt" is
 * accepted as "-opt", a repeated option overrides the earlier one (except
 * -qmp, which adds a server), and -help/-version stop parsing.  Option
 * values with keys (-name, -m, -smp) go through QEMU's key=value parser
 * (util/keyval.h); -blockdev, -device, -qmp and -monitor are kept as
 * given and parsed the same way by their owners at machine init.
 */
#include <string.h>
#include "system/machine.h"
#include "util/error.h"
#include "util/keyval.h"
#include "util/size.h"

#define RAM_DEFAULT (128ULL << 20)      /* QEMU's default -m */
#define RAM_MAX     (1ULL << 40)
#define RAM_ALIGN   4096ULL             /* KVM maps whole pages */
#define SMP_MAX     64

/* @opt is the option as the user typed it, for error messages. */
typedef bool (*OptionHandler)(MachineConfig *cfg, const char *opt,
                              const char *arg, GError **errp);

typedef struct OptionDef {
    const char *name;       /* without the leading dash */
    const char *arg_name;   /* NULL: the option takes no argument */
    OptionHandler handler;
    const char *help;       /* NULL: an alias, left out of -help */
} OptionDef;

static void set_str(char **dst, const char *arg)
{
    g_free(*dst);
    *dst = g_strdup(arg);
}

static bool require_nonempty(const char *opt, const char *arg, GError **errp)
{
    if (!*arg) {
        error_setg(errp, "%s: requires a non-empty argument", opt);
        return false;
    }
    return true;
}

/*
 * Parses @arg in QEMU's option syntax (util/keyval.h) with @implied as the
 * key the first item may omit ("-m 4G" is "-m size=4G"), refusing keys
 * not in @known.  Errors name the option as typed.
 */
static Keyval *parse_keyval(const char *opt, const char *arg,
                            const char *implied, const char *const *known,
                            GError **errp)
{
    g_autoptr(Keyval) kv = keyval_parse(arg, implied, errp);

    if (!kv || !keyval_check_known(kv, known, errp)) {
        g_prefix_error(errp, "%s: ", opt);
        return NULL;
    }
    return g_steal_pointer(&kv);
}

/* The value of @key; "" when absent, for the caller's "invalid" message. */
static bool option_str(const char *opt, const Keyval *kv, const char *key,
                       const char **out, GError **errp)
{
    if (!keyval_get_str(kv, key, out, errp)) {
        g_prefix_error(errp, "%s: ", opt);
        return false;
    }
    *out = *out ? *out : "";
    return true;
}

static bool opt_name(MachineConfig *cfg, const char *opt, const char *arg,
                     GError **errp)
{
    /* process= and debug-threads= name host threads in QEMU: accepted, unused */
    static const char *const known[] = {
        "guest", "process", "debug-threads", NULL
    };
    g_autoptr(Keyval) kv = parse_keyval(opt, arg, "guest", known, errp);
    const char *guest;
    bool debug_threads;

    if (!kv || !option_str(opt, kv, "guest", &guest, errp)) {
        return false;
    }
    if (!keyval_get_bool(kv, "debug-threads", false, &debug_threads, errp)) {
        g_prefix_error(errp, "%s: ", opt);
        return false;
    }
    if (!*guest) {
        error_setg(errp, "%s: missing guest name in '%s'", opt, arg);
        return false;
    }
    set_str(&cfg->name, guest);
    return true;
}

static bool check_ram_size(const char *opt, const char *str, uint64_t size,
                           GError **errp)
{
    if (size == 0) {
        error_setg(errp, "%s: invalid size '%s': RAM size must be greater "
                   "than 0", opt, str);
    } else if (size % RAM_ALIGN) {
        error_setg(errp, "%s: invalid size '%s': RAM size must be a multiple "
                   "of 4 KiB", opt, str);
    } else if (size > RAM_MAX) {
        error_setg(errp, "%s: invalid size '%s': RAM size must be at most 1T",
                   opt, str);
    } else {
        return true;
    }
    return false;
}

static bool opt_m(MachineConfig *cfg, const char *opt, const char *arg,
                  GError **errp)
{
    static const char *const known[] = { "size", NULL };
    g_autoptr(Keyval) kv = parse_keyval(opt, arg, "size", known, errp);
    const char *str;
    uint64_t size;

    if (!kv || !option_str(opt, kv, "size", &str, errp)) {
        return false;
    }
    /* A plain number is MiB, as in QEMU */
    if (!parse_size(str, 1ULL << 20, &size, errp)) {
        g_prefix_error(errp, "%s: ", opt);
        return false;
    }
    if (!check_ram_size(opt, str, size, errp)) {
        return false;
    }
    cfg->ram_size = size;
    return true;
}

static bool opt_smp(MachineConfig *cfg, const char *opt, const char *arg,
                    GError **errp)
{
    static const char *const known[] = { "cpus", NULL };
    g_autoptr(Keyval) kv = parse_keyval(opt, arg, "cpus", known, errp);
    const char *str;
    guint64 n;

    if (!kv || !option_str(opt, kv, "cpus", &str, errp)) {
        return false;
    }
    if (!g_ascii_isdigit(str[0]) ||
        !g_ascii_string_to_unsigned(str, 10, 1, SMP_MAX, &n, NULL)) {
        error_setg(errp, "%s: invalid number of CPUs '%s' (expected 1 to %d)",
                   opt, str, SMP_MAX);
        return false;
    }
    cfg->smp = n;
    return true;
}

static bool opt_accel(MachineConfig *cfg, const char *opt, const char *arg,
                      GError **errp)
{
    if (strcmp(arg, "kvm") && strcmp(arg, "soft")) {
        error_setg(errp, "%s: invalid accelerator '%s' (accepted: kvm, soft)",
                   opt, arg);
        return false;
    }
    set_str(&cfg->accel, arg);
    return true;
}

static bool opt_serial(MachineConfig *cfg, const char *opt, const char *arg,
                       GError **errp)
{
    if (!strcmp(arg, "none")) {
        g_clear_pointer(&cfg->serial, g_free);   /* NULL means none */
        return true;
    }
    if (strcmp(arg, "stdio") &&
        !(g_str_has_prefix(arg, "file:") && arg[strlen("file:")])) {
        error_setg(errp, "%s: invalid serial spec '%s' (accepted: file:PATH, "
                   "stdio, none)", opt, arg);
        return false;
    }
    set_str(&cfg->serial, arg);
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
    set_str(dst, arg);
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

/* Options that store a non-empty string as given, in @field. */
#define STRING_OPTION(fn, field)                                            \
    static bool fn(MachineConfig *cfg, const char *opt, const char *arg,    \
                   GError **errp)                                           \
    {                                                                       \
        return set_nonempty(&cfg->field, opt, arg, errp);                   \
    }

STRING_OPTION(opt_kernel, kernel)
STRING_OPTION(opt_monitor, monitor)
STRING_OPTION(opt_incoming, incoming)
STRING_OPTION(opt_pidfile, pidfile)
STRING_OPTION(opt_logfile, logfile)

static bool opt_append(MachineConfig *cfg, const char *opt, const char *arg,
                       GError **errp)
{
    set_str(&cfg->append, arg);     /* an empty command line is valid */
    return true;
}

static bool opt_S(MachineConfig *cfg, const char *opt, const char *arg,
                  GError **errp)
{
    cfg->start_paused = true;
    return true;
}

static bool opt_daemonize(MachineConfig *cfg, const char *opt,
                          const char *arg, GError **errp)
{
    cfg->daemonize = true;
    return true;
}

static bool opt_help(MachineConfig *cfg, const char *opt, const char *arg,
                     GError **errp)
{
    cfg->want_help = true;
    return true;
}

static bool opt_version(MachineConfig *cfg, const char *opt, const char *arg,
                        GError **errp)
{
    cfg->want_version = true;
    return true;
}

static const OptionDef options[] = {
    { "name", "[guest=]NAME", opt_name, "name of the guest" },
    { "m", "[size=]SIZE", opt_m,
      "guest RAM, e.g. 512M or 4G; a plain number is MiB (default 128M)" },
    { "smp", "[cpus=]N", opt_smp, "number of vCPUs, 1 to 64 (default 1)" },
    { "accel", "kvm|soft", opt_accel,
      "accelerator (default kvm when /dev/kvm is usable)" },
    { "kernel", "FILE", opt_kernel,
      "Multiboot kernel to boot (default: the built-in test guest)" },
    { "append", "STR", opt_append, "kernel command line" },
    { "qmp", "SPEC", opt_qmp,
      "QMP server: unix:PATH,server=on,wait=off or tcp:HOST:PORT,... "
      "(repeatable)" },
    { "blockdev", "driver=DRV,node-name=NAME,...", opt_blockdev,
      "a block node: driver=file,filename=PATH[,cache.direct=on]"
      "[,aio=io_uring|threads], driver=http,url=URL, or "
      "driver=blkdelay,file=NODE[,attach-latency-ms=N][,io-latency-us=N] "
      "(repeatable)" },
    { "device", "pvblk,drive=NODE,id=ID", opt_device,
      "a paravirtual disk on block node NODE (repeatable)" },
    { "monitor", "SPEC", opt_monitor, "human monitor: stdio or unix:PATH,..." },
    { "serial", "DEV", opt_serial, "serial port: file:PATH, stdio or none" },
    { "S", NULL, opt_S, "do not start the vCPUs (resume with QMP 'cont')" },
    { "incoming", "URI", opt_incoming,
      "wait for an incoming migration from URI, or 'defer'" },
    { "daemonize", NULL, opt_daemonize,
      "detach from the terminal once start-up succeeded" },
    { "pidfile", "FILE", opt_pidfile, "write the process id to FILE (locked)" },
    { "D", "FILE", opt_logfile, "write the log to FILE instead of stderr" },
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
    cfg->ram_size = RAM_DEFAULT;
    cfg->smp = 1;
    cfg->qmp = g_ptr_array_new_with_free_func(g_free);
    cfg->blockdevs = g_ptr_array_new_with_free_func(g_free);
    cfg->devices = g_ptr_array_new_with_free_func(g_free);
}

void machine_config_clear(MachineConfig *cfg)
{
    g_free(cfg->name);
    g_free(cfg->accel);
    g_free(cfg->kernel);
    g_free(cfg->append);
    g_clear_pointer(&cfg->qmp, g_ptr_array_unref);
    g_clear_pointer(&cfg->blockdevs, g_ptr_array_unref);
    g_clear_pointer(&cfg->devices, g_ptr_array_unref);
    g_free(cfg->monitor);
    g_free(cfg->serial);
    g_free(cfg->incoming);
    g_free(cfg->pidfile);
    g_free(cfg->logfile);
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
    return check_daemonize(cfg, errp);
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
