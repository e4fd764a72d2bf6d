/*
 * -machine, -accel, -m, -smp and -object: what the guest machine is made
 * of.  Values are checked as they are parsed; what depends on several
 * options (the memory backend against -m, the none machine) is checked by
 * options_check_machine() once the whole command line is read.
 */
#include <string.h>
#include "options-internal.h"
#include "util/error.h"
#include "util/size.h"

#define RAM_MAX     (1ULL << 40)
#define RAM_ALIGN   4096ULL             /* KVM maps whole pages */
#define SMP_MAX     64

/* The machine type libvirt finds in query-machines, and its alias. */
#define PC_MACHINE  "pc-i440fx-7.2"

bool option_check_ram_size(const char *opt, const char *str, uint64_t size,
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

bool opt_m(MachineConfig *cfg, const char *opt, const char *arg,
           GError **errp)
{
    static const char *const known[] = { "size", NULL };
    g_autoptr(Keyval) kv = option_parse(opt, arg, "size", known, errp);
    const char *str;
    uint64_t size;

    if (!kv || !option_str(opt, kv, "size", &str, errp)) {
        return false;
    }
    /* A plain number is MiB, as in QEMU */
    if (!parse_size(str, 1ULL << 20, &size, errp)) {
        return option_error(opt, errp);
    }
    if (!option_check_ram_size(opt, str, size, errp)) {
        return false;
    }
    cfg->ram_size = size;
    cfg->ram_size_set = true;
    return true;
}

/*
 * "kvm:tcg" as ferry's accelerator list ("kvm:soft"): tcg is QEMU's name
 * for running without KVM, which ferry's soft accelerator does.
 */
static char *accel_list(const char *opt, const char *key, const char *list,
                        GError **errp)
{
    g_auto(GStrv) names = g_strsplit(list, ":", -1);

    for (int i = 0; names[i]; i++) {
        if (!strcmp(names[i], "tcg")) {
            option_set_str(&names[i], "soft");
        } else if (strcmp(names[i], "kvm") && strcmp(names[i], "soft")) {
            error_setg(errp, "%s: invalid accelerator '%s' in %s '%s' "
                       "(accepted: kvm, tcg, soft)", opt, names[i], key, list);
            return NULL;
        }
    }
    return g_strjoinv(":", names);
}

bool opt_accel(MachineConfig *cfg, const char *opt, const char *arg,
               GError **errp)
{
    static const char *const known[] = { "accel", NULL };
    static const char *const names[] = { "kvm", "tcg", "soft", NULL };
    g_autoptr(Keyval) kv = option_parse(opt, arg, "accel", known, errp);
    const char *name;

    if (!kv || !option_str(opt, kv, "accel", &name, errp)) {
        return false;
    }
    if (!g_strv_contains(names, name)) {
        error_setg(errp, "%s: invalid accelerator '%s' (accepted: kvm, tcg, "
                   "soft)", opt, name);
        return false;
    }
    name = !strcmp(name, "tcg") ? "soft" : name;
    /* As QEMU: each -accel is tried in turn until one works. */
    if (cfg->accel) {
        g_autofree char *prev = cfg->accel;
        cfg->accel = g_strdup_printf("%s:%s", prev, name);
    } else {
        cfg->accel = g_strdup(name);
    }
    return true;
}

static bool machine_type(MachineConfig *cfg, const char *opt,
                         const Keyval *kv, GError **errp)
{
    static const char *const types[] = { PC_MACHINE, "pc", "none", NULL };
    const char *type;
    int i;

    if (!keyval_get_str(kv, "type", &type, errp)) {
        return option_error(opt, errp);
    }
    if (!type) {
        return true;            /* keys alone: the machine chosen so far */
    }
    for (i = 0; types[i] && strcmp(types[i], type); i++) {
    }
    if (!types[i]) {
        error_setg(errp, "%s: unsupported machine type '%s' (ferry has: "
                   PC_MACHINE " (alias pc), none)", opt, type);
        return false;
    }
    cfg->machine = !strcmp(type, "none") ? MACHINE_TYPE_NONE
                                         : MACHINE_TYPE_PC;
    return true;
}

/* usb=: ferry's machine has no USB controller either way (docs/libvirt.md) */
bool opt_machine(MachineConfig *cfg, const char *opt, const char *arg,
                 GError **errp)
{
    static const char *const known[] = {
        "type", "accel", "usb", "dump-guest-core", "memory-backend",
        "x-prefault", NULL
    };
    g_autoptr(Keyval) kv = option_parse(opt, arg, "type", known, errp);
    const char *accel, *backend;
    bool usb;

    if (!kv || !machine_type(cfg, opt, kv, errp)) {
        return false;
    }
    if (!keyval_get_str(kv, "accel", &accel, errp) ||
        !keyval_get_bool(kv, "usb", false, &usb, errp) ||
        !keyval_get_bool(kv, "dump-guest-core", cfg->dump_guest_core,
                         &cfg->dump_guest_core, errp) ||
        !keyval_get_bool(kv, "x-prefault", cfg->prefault, &cfg->prefault,
                         errp) ||
        !keyval_get_id(kv, "memory-backend", &backend, errp)) {
        return option_error(opt, errp);
    }
    if (accel) {
        g_autofree char *list = accel_list(opt, "accel", accel, errp);

        if (!list) {
            return false;
        }
        option_set_str(&cfg->machine_accel, list);
    }
    if (backend) {
        option_set_str(&cfg->memory_backend, backend);
    }
    return true;
}

/* --- -smp ------------------------------------------------------------- */

/* A topology value: 0 when absent; given, it must be 1 to SMP_MAX. */
static bool smp_get(const char *opt, const Keyval *kv, const char *key,
                    unsigned *out, GError **errp)
{
    uint64_t v;
    const char *str;

    if (!keyval_get_str(kv, key, &str, errp) ||
        !keyval_get_u64(kv, key, 0, &v, errp)) {
        return option_error(opt, errp);
    }
    if (str && (v < 1 || v > SMP_MAX)) {
        error_setg(errp, "%s: invalid %s '%s' (expected 1 to %d)", opt, key,
                   str, SMP_MAX);
        return false;
    }
    *out = (unsigned)v;
    return true;
}

static bool smp_cpus(const char *opt, const Keyval *kv, unsigned *cpus,
                     GError **errp)
{
    const char *str;
    guint64 n;

    if (!keyval_get_str(kv, "cpus", &str, errp)) {
        return option_error(opt, errp);
    }
    if (!str) {
        *cpus = 0;
        return true;
    }
    if (!g_ascii_isdigit(str[0]) ||
        !g_ascii_string_to_unsigned(str, 10, 1, SMP_MAX, &n, NULL)) {
        error_setg(errp, "%s: invalid number of CPUs '%s' (expected 1 to %d)",
                   opt, str, SMP_MAX);
        return false;
    }
    *cpus = (unsigned)n;
    return true;
}

/* What -smp gave; 0 is "not given". */
typedef struct SmpArgs {
    unsigned cpus, sockets, dies, cores, threads, maxcpus;
} SmpArgs;

/* What is left of @max for the missing level, at least 1 (what does
 * not divide shows as a product that does not match). */
static unsigned smp_rest(unsigned max, unsigned others)
{
    return MAX(max / others, 1);
}

/*
 * Fills in what the topology leaves out as QEMU 7.2 does for
 * pc-i440fx-7.2: dies default to 1; from the CPUs (or maxcpus), cores
 * take what sockets and threads (default 1) leave, or sockets what cores
 * leave; threads come last.
 */
static void smp_fill(SmpArgs *a)
{
    unsigned max = a->maxcpus ? a->maxcpus : a->cpus;

    a->dies = a->dies ? a->dies : 1;
    if (!max) {
        a->sockets = a->sockets ? a->sockets : 1;
        a->cores = a->cores ? a->cores : 1;
        a->threads = a->threads ? a->threads : 1;
    } else if (!a->cores) {
        a->sockets = a->sockets ? a->sockets : 1;
        a->threads = a->threads ? a->threads : 1;
        a->cores = smp_rest(max, a->sockets * a->dies * a->threads);
    } else if (!a->sockets) {
        a->threads = a->threads ? a->threads : 1;
        a->sockets = smp_rest(max, a->dies * a->cores * a->threads);
    }
    if (!a->threads) {
        a->threads = smp_rest(max, a->sockets * a->dies * a->cores);
    }
    a->maxcpus = max ? max : a->sockets * a->dies * a->cores * a->threads;
    a->cpus = a->cpus ? a->cpus : a->maxcpus;
}

/*
 * ferry cannot hot-plug vCPUs, so maxcpus must equal the CPUs, and so
 * must the topology's product.
 */
static bool smp_check(const char *opt, const SmpArgs *a, GError **errp)
{
    unsigned product = a->sockets * a->dies * a->cores * a->threads;

    if (a->maxcpus != a->cpus) {
        error_setg(errp, "%s: maxcpus (%u) must equal the number of CPUs "
                   "(%u): ferry cannot hot-plug vCPUs", opt, a->maxcpus,
                   a->cpus);
        return false;
    }
    if (product != a->cpus) {
        error_setg(errp, "%s: sockets (%u) * dies (%u) * cores (%u) * "
                   "threads (%u) = %u does not match the number of CPUs (%u)",
                   opt, a->sockets, a->dies, a->cores, a->threads, product,
                   a->cpus);
        return false;
    }
    if (a->cpus > SMP_MAX) {
        error_setg(errp, "%s: invalid number of CPUs '%u' (expected 1 to %d)",
                   opt, a->cpus, SMP_MAX);
        return false;
    }
    return true;
}

bool opt_smp(MachineConfig *cfg, const char *opt, const char *arg,
             GError **errp)
{
    static const char *const known[] = {
        "cpus", "sockets", "dies", "cores", "threads", "maxcpus", NULL
    };
    g_autoptr(Keyval) kv = option_parse(opt, arg, "cpus", known, errp);
    SmpArgs a = { 0 };

    if (!kv || !smp_cpus(opt, kv, &a.cpus, errp) ||
        !smp_get(opt, kv, "sockets", &a.sockets, errp) ||
        !smp_get(opt, kv, "dies", &a.dies, errp) ||
        !smp_get(opt, kv, "cores", &a.cores, errp) ||
        !smp_get(opt, kv, "threads", &a.threads, errp) ||
        !smp_get(opt, kv, "maxcpus", &a.maxcpus, errp)) {
        return false;
    }
    if (!a.cpus && !a.sockets && !a.dies && !a.cores && !a.threads &&
        !a.maxcpus) {
        error_setg(errp, "%s: invalid number of CPUs '' (expected 1 to %d)",
                   opt, SMP_MAX);
        return false;
    }
    smp_fill(&a);
    if (!smp_check(opt, &a, errp)) {
        return false;
    }
    cfg->smp = a.cpus;
    cfg->sockets = a.sockets;
    cfg->dies = a.dies;
    cfg->cores = a.cores;
    cfg->threads = a.threads;
    return true;
}

/* --- the whole command line ------------------------------------------- */

/* -machine none has no guest: options that need one are mistakes. */
static bool check_none_machine(const MachineConfig *cfg, GError **errp)
{
    const char *opt = cfg->kernel ? "-kernel" :
                      cfg->devices->len ? "-device" :
                      cfg->incoming ? "-incoming" :
                      cfg->memory_backend ? "-machine memory-backend" : NULL;

    if (cfg->machine != MACHINE_TYPE_NONE || !opt) {
        return true;
    }
    error_setg(errp, "%s: the 'none' machine has no guest (no RAM, vCPUs or "
               "devices)", opt);
    return false;
}

bool options_check_machine(MachineConfig *cfg, GError **errp)
{
    if (cfg->accel && cfg->machine_accel) {
        error_setg(errp, "-accel: cannot be combined with -machine accel=");
        return false;
    }
    if (cfg->machine_accel) {
        cfg->accel = g_steal_pointer(&cfg->machine_accel);
    }
    return check_none_machine(cfg, errp) && options_check_objects(cfg, errp);
}
