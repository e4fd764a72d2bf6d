/*
 * The command-line parser (system/options.c): every option, accepted and
 * malformed, and the exact shape of the error messages main prints.
 */
#include "options-test.h"

static void test_defaults(void)
{
    MachineConfig cfg;

    ACCEPT(&cfg, NULL);
    g_assert_cmpuint(cfg.ram_size, ==, 128 * MiB);
    g_assert_cmpuint(cfg.smp, ==, 1);
    g_assert_null(cfg.name);
    g_assert_null(cfg.accel);
    g_assert_null(cfg.kernel);
    g_assert_null(cfg.append);
    g_assert_nonnull(cfg.qmp);
    g_assert_cmpuint(cfg.qmp->len, ==, 0);
    g_assert_null(cfg.monitor);
    g_assert_null(cfg.serial);
    g_assert_false(cfg.start_paused);
    g_assert_null(cfg.incoming);
    g_assert_false(cfg.daemonize);
    g_assert_null(cfg.pidfile);
    g_assert_null(cfg.logfile);
    g_assert_false(cfg.want_help);
    g_assert_false(cfg.want_version);
    g_assert_cmpint(cfg.machine, ==, MACHINE_TYPE_PC);
    g_assert_false(cfg.ram_size_set);
    g_assert_true(cfg.dump_guest_core);
    g_assert_false(cfg.debug_threads);
    g_assert_false(cfg.no_reboot);
    g_assert_false(cfg.no_shutdown);
    g_assert_cmpuint(cfg.sockets * cfg.dies * cfg.cores * cfg.threads, ==, 1);
    g_assert_cmpuint(cfg.chardevs->len + cfg.mons->len + cfg.objects->len +
                     cfg.add_fds->len, ==, 0);
    machine_config_clear(&cfg);
}

static void test_clear_twice(void)
{
    MachineConfig cfg;

    ACCEPT(&cfg, "-name", "a", "-qmp", "unix:/x", "-kernel", "k");
    machine_config_clear(&cfg);
    g_assert_null(cfg.name);
    g_assert_null(cfg.qmp);
    machine_config_clear(&cfg);
}

static void test_name(void)
{
    MachineConfig cfg;

    ACCEPT(&cfg, "-name", "vm1");
    g_assert_cmpstr(cfg.name, ==, "vm1");
    machine_config_clear(&cfg);

    ACCEPT(&cfg, "-name", "guest=vm2");
    g_assert_cmpstr(cfg.name, ==, "vm2");
    machine_config_clear(&cfg);

    ACCEPT(&cfg, "-name", "guest=vm3,process=ferry-vm3,debug-threads=on");
    g_assert_cmpstr(cfg.name, ==, "vm3");
    machine_config_clear(&cfg);

    ACCEPT(&cfg, "-name", "vm4,debug-threads=off");
    g_assert_cmpstr(cfg.name, ==, "vm4");
    machine_config_clear(&cfg);

    /* QEMU's syntax: ",," is a comma; the JSON form */
    ACCEPT(&cfg, "-name", "a,,b,debug-threads=yes");
    g_assert_cmpstr(cfg.name, ==, "a,b");
    machine_config_clear(&cfg);

    ACCEPT(&cfg, "-name", "{\"guest\": \"vm5\", \"debug-threads\": true}");
    g_assert_cmpstr(cfg.name, ==, "vm5");
    machine_config_clear(&cfg);

    /* The last -name wins */
    ACCEPT(&cfg, "-name", "old", "-name", "new");
    g_assert_cmpstr(cfg.name, ==, "new");
    machine_config_clear(&cfg);
}

static void test_name_invalid(void)
{
    REJECT("-name: missing guest name", "-name", "");
    REJECT("-name: missing guest name", "-name", "guest=");
    REJECT("-name: missing guest name", "-name", "process=p");
    REJECT("-name: Unknown parameter 'color' (accepted: guest, process, "
           "debug-threads)", "-name", "vm,color=red");
    REJECT("-name: Parameter 'b' has no value (expected KEY=VALUE)",
           "-name", "a,b");
    REJECT("-name: Parameter 'guest' is given twice", "-name", "a,guest=b");
    REJECT("-name: Parameter 'debug-threads' expects 'on' or 'off', not "
           "'maybe'", "-name", "vm,debug-threads=maybe");
    REJECT("-name: Parameter 'guest' conflicts with 'guest.x'", "-name",
           "guest.x=1,guest=a");
    REJECT("-name: requires an argument", "-name");
}

static void test_m(void)
{
    static const struct {
        const char *arg;
        uint64_t bytes;
    } cases[] = {
        { "512M", 512 * MiB },
        { "512m", 512 * MiB },
        { "4G", 4 * GiB },
        { "1024", 1 * GiB },            /* plain number: MiB, as QEMU */
        { "1", 1 * MiB },
        { "size=4G", 4 * GiB },
        { "size=256", 256 * MiB },
        { "65536k", 64 * MiB },
        { "4096b", 4096 },              /* one page is the minimum */
        { "1T", 1024 * GiB },           /* the maximum */
        { "1048576M", 1024 * GiB },
        { "size=2G,", 2 * GiB },        /* QEMU allows a trailing comma */
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        MachineConfig cfg;

        ACCEPT(&cfg, "-m", cases[i].arg);
        g_assert_cmpuint(cfg.ram_size, ==, cases[i].bytes);
        machine_config_clear(&cfg);
    }
}

static void test_m_invalid(void)
{
    REJECT("-m: invalid size 'abc'", "-m", "abc");
    REJECT("-m: invalid size ''", "-m", "");
    REJECT("-m: invalid size '-1'", "-m", "-1");
    REJECT("-m: invalid size '512X'", "-m", "512X");
    REJECT("-m: invalid size '1.5G'", "-m", "1.5G");
    REJECT("-m: invalid size '0': RAM size must be greater than 0",
           "-m", "0");
    REJECT("-m: invalid size '0G'", "-m", "0G");
    REJECT("-m: invalid size '4097k': RAM size must be a multiple of 4 KiB",
           "-m", "4097k");
    REJECT("-m: invalid size '2048b'", "-m", "2048b");
    REJECT("-m: invalid size '1025G': RAM size must be at most 1T",
           "-m", "1025G");
    REJECT("-m: invalid size '2T'", "-m", "2T");
    REJECT("-m: invalid size '99999999999999999999'",
           "-m", "99999999999999999999");
    REJECT("-m: invalid size '17592186044416T'", "-m", "17592186044416T");
    REJECT("-m: Unknown parameter 'slots' (accepted: size)", "-m", "1G,slots=2");
    REJECT("-m: Unknown parameter 'maxmem'", "-m", "size=1G,maxmem=2G");
    REJECT("-m: Parameter 'size' is given twice", "-m", "1G,size=2G");
    REJECT("-m: requires an argument", "-m");
    /* --m is -m, and the message names the option as typed */
    REJECT("--m: invalid size 'x'", "--m", "x");
}

static void test_m_last_wins(void)
{
    MachineConfig cfg;

    ACCEPT(&cfg, "-m", "1G", "-m", "256M");
    g_assert_cmpuint(cfg.ram_size, ==, 256 * MiB);
    machine_config_clear(&cfg);
}

static void test_smp(void)
{
    MachineConfig cfg;

    ACCEPT(&cfg, "-smp", "1");
    g_assert_cmpuint(cfg.smp, ==, 1);
    machine_config_clear(&cfg);

    ACCEPT(&cfg, "-smp", "64");
    g_assert_cmpuint(cfg.smp, ==, 64);
    machine_config_clear(&cfg);

    ACCEPT(&cfg, "-smp", "cpus=8");
    g_assert_cmpuint(cfg.smp, ==, 8);
    machine_config_clear(&cfg);

    ACCEPT(&cfg, "--smp", "2");
    g_assert_cmpuint(cfg.smp, ==, 2);
    machine_config_clear(&cfg);
}

static void test_smp_invalid(void)
{
    REJECT("-smp: invalid number of CPUs '0' (expected 1 to 64)", "-smp", "0");
    REJECT("-smp: invalid number of CPUs '65'", "-smp", "65");
    REJECT("-smp: invalid number of CPUs 'abc'", "-smp", "abc");
    REJECT("-smp: invalid number of CPUs '-1'", "-smp", "-1");
    REJECT("-smp: invalid number of CPUs '+2'", "-smp", "+2");
    REJECT("-smp: invalid number of CPUs ' 2'", "-smp", " 2");
    REJECT("-smp: invalid number of CPUs '2x'", "-smp", "2x");
    REJECT("-smp: invalid number of CPUs ''", "-smp", "");
    REJECT("-smp: invalid number of CPUs '99999999999999999999'",
           "-smp", "99999999999999999999");
    REJECT("-smp: Unknown parameter 'books' (accepted: cpus, sockets, dies, "
           "cores, threads, maxcpus)", "-smp", "2,books=2");
    REJECT("-smp: Parameter 'cpus' is given twice", "-smp", "2,cpus=2");
    REJECT("-smp: requires an argument", "-smp");
}

static void test_accel(void)
{
    MachineConfig cfg;

    ACCEPT(&cfg, "-accel", "kvm");
    g_assert_cmpstr(cfg.accel, ==, "kvm");
    machine_config_clear(&cfg);

    ACCEPT(&cfg, "-accel", "soft");
    g_assert_cmpstr(cfg.accel, ==, "soft");
    machine_config_clear(&cfg);

    /* As QEMU: repeated, they are tried in turn; tcg is ferry's soft */
    ACCEPT(&cfg, "-accel", "kvm", "-accel", "tcg");
    g_assert_cmpstr(cfg.accel, ==, "kvm:soft");
    machine_config_clear(&cfg);

    ACCEPT(&cfg, "-accel", "accel=tcg");
    g_assert_cmpstr(cfg.accel, ==, "soft");
    machine_config_clear(&cfg);
}

static void test_accel_invalid(void)
{
    REJECT("-accel: invalid accelerator 'xen' (accepted: kvm, tcg, soft)",
           "-accel", "xen");
    REJECT("-accel: invalid accelerator 'KVM'", "-accel", "KVM");
    REJECT("-accel: Unknown parameter 'thread' (accepted: accel)",
           "-accel", "kvm,thread=single");
    REJECT("-accel: invalid accelerator ''", "-accel", "");
    REJECT("-accel: requires an argument", "-accel");
}

static void test_kernel_append(void)
{
    MachineConfig cfg;

    ACCEPT(&cfg, "-kernel", "/boot/k.elf", "-append", "dirty-rate=64M x=1");
    g_assert_cmpstr(cfg.kernel, ==, "/boot/k.elf");
    g_assert_cmpstr(cfg.append, ==, "dirty-rate=64M x=1");
    machine_config_clear(&cfg);

    /* An empty kernel command line is a valid command line */
    ACCEPT(&cfg, "-append", "");
    g_assert_cmpstr(cfg.append, ==, "");
    machine_config_clear(&cfg);

    /* An argument may itself start with a dash */
    ACCEPT(&cfg, "-append", "-v");
    g_assert_cmpstr(cfg.append, ==, "-v");
    machine_config_clear(&cfg);

    REJECT("-kernel: requires a non-empty argument", "-kernel", "");
    REJECT("-kernel: requires an argument", "-kernel");
    REJECT("-append: requires an argument", "-append");
}

static void test_qmp_monitor(void)
{
    MachineConfig cfg;

    ACCEPT(&cfg, "-qmp", "unix:/tmp/a.sock,server=on,wait=off",
           "-qmp", "tcp:127.0.0.1:4444,server=on,wait=off",
           "-monitor", "stdio");
    g_assert_cmpuint(cfg.qmp->len, ==, 2);
    g_assert_cmpstr(g_ptr_array_index(cfg.qmp, 0), ==,
                    "unix:/tmp/a.sock,server=on,wait=off");
    g_assert_cmpstr(g_ptr_array_index(cfg.qmp, 1), ==,
                    "tcp:127.0.0.1:4444,server=on,wait=off");
    g_assert_cmpstr(cfg.monitor, ==, "stdio");
    machine_config_clear(&cfg);

    /* The raw spec is stored: the monitor validates it */
    ACCEPT(&cfg, "-qmp", "bogus");
    g_assert_cmpstr(g_ptr_array_index(cfg.qmp, 0), ==, "bogus");
    machine_config_clear(&cfg);

    REJECT("-qmp: requires a non-empty argument", "-qmp", "");
    REJECT("-qmp: requires an argument", "-qmp");
    REJECT("-monitor: requires a non-empty argument", "-monitor", "");
    REJECT("-monitor: requires an argument", "-monitor");
}

static void test_serial(void)
{
    MachineConfig cfg;

    ACCEPT(&cfg, "-serial", "file:/tmp/serial.log");
    g_assert_cmpstr(cfg.serial, ==, "file:/tmp/serial.log");
    machine_config_clear(&cfg);

    ACCEPT(&cfg, "-serial", "stdio");
    g_assert_cmpstr(cfg.serial, ==, "stdio");
    machine_config_clear(&cfg);

    ACCEPT(&cfg, "-serial", "none");
    g_assert_null(cfg.serial);
    machine_config_clear(&cfg);

    ACCEPT(&cfg, "-serial", "pty", "-serial", "chardev:c0");
    g_assert_cmpstr(cfg.serial, ==, "chardev:c0");
    machine_config_clear(&cfg);

    /* none overrides an earlier -serial */
    ACCEPT(&cfg, "-serial", "stdio", "-serial", "none");
    g_assert_null(cfg.serial);
    machine_config_clear(&cfg);
}

static void test_serial_invalid(void)
{
    REJECT("-serial: invalid serial spec 'file:' (accepted: file:PATH, "
           "stdio, pty, null, chardev:ID, none)", "-serial", "file:");
    REJECT("-serial: invalid serial spec 'chardev:'", "-serial", "chardev:");
    REJECT("-serial: invalid serial spec 'tcp::4444'", "-serial", "tcp::4444");
    REJECT("-serial: invalid serial spec '/tmp/x'", "-serial", "/tmp/x");
    REJECT("-serial: invalid serial spec 'STDIO'", "-serial", "STDIO");
    REJECT("-serial: invalid serial spec ''", "-serial", "");
    REJECT("-serial: requires an argument", "-serial");
}

static void test_flags(void)
{
    MachineConfig cfg;

    ACCEPT(&cfg, "-S", "-daemonize");
    g_assert_true(cfg.start_paused);
    g_assert_true(cfg.daemonize);
    machine_config_clear(&cfg);

    /* Flags take no argument: what follows is the next option */
    ACCEPT(&cfg, "-S", "-m", "1G");
    g_assert_true(cfg.start_paused);
    g_assert_cmpuint(cfg.ram_size, ==, 1 * GiB);
    machine_config_clear(&cfg);

    REJECT("-s: invalid option", "-s");
}

static void test_incoming(void)
{
    MachineConfig cfg;

    ACCEPT(&cfg, "-incoming", "defer");
    g_assert_cmpstr(cfg.incoming, ==, "defer");
    machine_config_clear(&cfg);

    ACCEPT(&cfg, "-incoming", "tcp:0:4444");
    g_assert_cmpstr(cfg.incoming, ==, "tcp:0:4444");
    machine_config_clear(&cfg);

    REJECT("-incoming: requires a non-empty argument", "-incoming", "");
    REJECT("-incoming: requires an argument", "-incoming");
}

static void test_pidfile_logfile(void)
{
    MachineConfig cfg;

    ACCEPT(&cfg, "-daemonize", "-pidfile", "/run/f.pid", "-D", "f.log");
    g_assert_cmpstr(cfg.pidfile, ==, "/run/f.pid");
    g_assert_cmpstr(cfg.logfile, ==, "f.log");
    machine_config_clear(&cfg);

    REJECT("-pidfile: requires a non-empty argument", "-pidfile", "");
    REJECT("-pidfile: requires an argument", "-pidfile");
    REJECT("-D: requires a non-empty argument", "-D", "");
    REJECT("-D: requires an argument", "-D");
}

static void test_daemonize_stdio(void)
{
    MachineConfig cfg;

    REJECT("-daemonize: cannot be used with -serial stdio",
           "-daemonize", "-serial", "stdio");
    REJECT("-daemonize: cannot be used with -monitor stdio",
           "-monitor", "stdio", "-daemonize");
    REJECT("-daemonize: cannot be used with -qmp stdio",
           "-daemonize", "-qmp", "unix:/a", "-qmp", "stdio");

    ACCEPT(&cfg, "-daemonize", "-serial", "file:/tmp/s", "-monitor",
           "unix:/tmp/m,server=on,wait=off");
    machine_config_clear(&cfg);
    ACCEPT(&cfg, "-serial", "stdio", "-monitor", "stdio");
    machine_config_clear(&cfg);
}

static void test_help_version(void)
{
    static const char *const help[] = { "-h", "-help", "--help" };
    static const char *const version[] = { "-version", "--version" };
    MachineConfig cfg;

    for (gsize i = 0; i < G_N_ELEMENTS(help); i++) {
        ACCEPT(&cfg, help[i]);
        g_assert_true(cfg.want_help);
        g_assert_false(cfg.want_version);
        machine_config_clear(&cfg);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(version); i++) {
        ACCEPT(&cfg, version[i]);
        g_assert_true(cfg.want_version);
        g_assert_false(cfg.want_help);
        machine_config_clear(&cfg);
    }

    /* Parsing stops at -help, as QEMU exits there */
    ACCEPT(&cfg, "-m", "1G", "-help", "-m", "garbage", "-bogus");
    g_assert_true(cfg.want_help);
    g_assert_cmpuint(cfg.ram_size, ==, 1 * GiB);
    machine_config_clear(&cfg);

    /* ...but options before it are still checked */
    REJECT("-m: invalid size 'garbage'", "-m", "garbage", "-help");
}

static void test_unknown(void)
{
    REJECT("-foo: invalid option", "-foo");
    REJECT("--foo: invalid option", "--foo");
    REJECT("-: invalid option", "-");
    REJECT("--: invalid option", "--");
    REJECT("---m: invalid option", "---m", "1G");
    REJECT("-M: invalid option", "-M", "1G");
    REJECT("-m=1G: invalid option", "-m=1G");
    REJECT("'disk.img': unexpected argument", "disk.img");
    /* The first bad option is the one reported */
    REJECT("-foo: invalid option", "-m", "1G", "-foo", "-bar");
}

/* Every option that takes an argument says so when it is the last word. */
static void test_missing_argument(void)
{
    static const char *const with_arg[] = {
        "-name", "-m", "-smp", "-accel", "-kernel", "-append", "-qmp",
        "-monitor", "-serial", "-incoming", "-pidfile", "-D", "-machine",
        "-object", "-uuid", "-chardev", "-mon", "-add-fd", "-display",
        "-rtc", "-boot", "-audiodev", "-overcommit", "-msg", "-sandbox",
    };

    for (gsize i = 0; i < G_N_ELEMENTS(with_arg); i++) {
        g_autofree char *want = g_strdup_printf("%s: requires an argument",
                                                with_arg[i]);
        MachineConfig cfg;
        g_autoptr(GError) err = NULL;

        g_assert_false(PARSE(&cfg, &err, "-S", with_arg[i]));
        g_assert_nonnull(err);
        g_assert_cmpstr(err->message, ==, want);
        machine_config_clear(&cfg);
    }
}

static void test_everything(void)
{
    MachineConfig cfg;

    ACCEPT(&cfg, "-name", "guest=all", "-m", "512M", "-smp", "2",
           "-accel", "kvm", "-kernel", "g.elf", "-append", "a=b",
           "-qmp", "unix:q.sock,server=on,wait=off", "-monitor", "stdio",
           "-serial", "file:s.log", "-S", "-incoming", "defer",
           "-pidfile", "f.pid", "-D", "f.log");
    g_assert_cmpstr(cfg.name, ==, "all");
    g_assert_cmpuint(cfg.ram_size, ==, 512 * MiB);
    g_assert_cmpuint(cfg.smp, ==, 2);
    g_assert_cmpstr(cfg.accel, ==, "kvm");
    g_assert_cmpstr(cfg.kernel, ==, "g.elf");
    g_assert_cmpstr(cfg.append, ==, "a=b");
    g_assert_cmpuint(cfg.qmp->len, ==, 1);
    g_assert_cmpstr(cfg.monitor, ==, "stdio");
    g_assert_cmpstr(cfg.serial, ==, "file:s.log");
    g_assert_true(cfg.start_paused);
    g_assert_cmpstr(cfg.incoming, ==, "defer");
    g_assert_false(cfg.daemonize);
    g_assert_cmpstr(cfg.pidfile, ==, "f.pid");
    g_assert_cmpstr(cfg.logfile, ==, "f.log");
    machine_config_clear(&cfg);
}

static void test_print_help(void)
{
    static const char *const listed[] = {
        "-name ", "-m ", "-smp ", "-accel ", "-kernel ", "-append ", "-qmp ",
        "-monitor ", "-serial ", "-S ", "-incoming ", "-daemonize ",
        "-pidfile ", "-D ", "-help ", "-version ", "-machine ", "-object ",
        "-uuid ", "-chardev ", "-mon ", "-add-fd ", "-no-reboot ",
        "-no-shutdown ", "-display ", "-nographic ", "-rtc ", "-boot ",
        "-audiodev ", "-usb ", "-no-acpi ", "-nodefaults ",
        "-no-user-config ", "-overcommit ", "-msg ", "-sandbox ",
    };
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    g_assert_nonnull(out);
    machine_print_help(out);
    fclose(out);
    g_assert_true(g_str_has_prefix(text, "usage: ferry"));
    for (gsize i = 0; i < G_N_ELEMENTS(listed); i++) {
        g_autofree char *line = g_strdup_printf("\n  %s", listed[i]);

        if (!strstr(text, line)) {
            g_error("-help does not list '%s':\n%s", listed[i], text);
        }
    }
    free(text);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/options/defaults", test_defaults);
    g_test_add_func("/options/clear-twice", test_clear_twice);
    g_test_add_func("/options/name", test_name);
    g_test_add_func("/options/name/invalid", test_name_invalid);
    g_test_add_func("/options/m", test_m);
    g_test_add_func("/options/m/invalid", test_m_invalid);
    g_test_add_func("/options/m/last-wins", test_m_last_wins);
    g_test_add_func("/options/smp", test_smp);
    g_test_add_func("/options/smp/invalid", test_smp_invalid);
    g_test_add_func("/options/accel", test_accel);
    g_test_add_func("/options/accel/invalid", test_accel_invalid);
    g_test_add_func("/options/kernel-append", test_kernel_append);
    g_test_add_func("/options/qmp-monitor", test_qmp_monitor);
    g_test_add_func("/options/serial", test_serial);
    g_test_add_func("/options/serial/invalid", test_serial_invalid);
    g_test_add_func("/options/flags", test_flags);
    g_test_add_func("/options/incoming", test_incoming);
    g_test_add_func("/options/pidfile-logfile", test_pidfile_logfile);
    g_test_add_func("/options/daemonize-stdio", test_daemonize_stdio);
    g_test_add_func("/options/help-version", test_help_version);
    g_test_add_func("/options/unknown", test_unknown);
    g_test_add_func("/options/missing-argument", test_missing_argument);
    g_test_add_func("/options/everything", test_everything);
    g_test_add_func("/options/print-help", test_print_help);
    return g_test_run();
}
