/*
 * The other options libvirt 9.0 sends (system/options-host.c,
 * options-compat.c, options-char.c): the command lines of its capability
 * probe and of a domain start parse whole, and every option's accepted
 * forms and refusals, with exact messages.
 */
#include "options-test.h"

/* FERRY-GAP.md section 1: libvirt's capability probe */
static void test_probe_command_line(void)
{
    MachineConfig cfg;

    ACCEPT(&cfg, "-S", "-no-user-config", "-nodefaults", "-nographic",
           "-machine", "none,accel=kvm:tcg",
           "-qmp", "unix:/var/lib/libvirt/qemu/qmp-X/qmp.monitor,server=on,"
           "wait=off",
           "-pidfile", "/var/lib/libvirt/qemu/qmp-X/qmp.pid", "-daemonize");
    g_assert_cmpint(cfg.machine, ==, MACHINE_TYPE_NONE);
    g_assert_cmpstr(cfg.accel, ==, "kvm:soft");
    g_assert_true(cfg.daemonize);
    g_assert_true(cfg.start_paused);
    machine_config_clear(&cfg);
}

/* FERRY-GAP.md section 2: a domain start (fd numbers as libvirt's) */
static void test_domain_command_line(void)
{
    MachineConfig cfg;
    AddFdConfig *fd;

    ACCEPT(&cfg, "-name", "guest=ferry1,debug-threads=on", "-S",
           "-object", "{\"qom-type\":\"secret\",\"id\":\"masterKey0\","
           "\"format\":\"raw\",\"data\":\"0123456789abcdef\"}",
           "-machine", "pc-i440fx-7.2,usb=off,dump-guest-core=off,"
           "memory-backend=pc.ram",
           "-accel", "kvm", "-m", "128",
           "-object", "memory-backend-ram,id=pc.ram,size=134217728",
           "-overcommit", "mem-lock=off",
           "-smp", "2,sockets=2,cores=1,threads=1",
           "-uuid", "a0cd4a3b-5b8a-4c6f-9f4e-0d7e6b6c1a2b",
           "-display", "none", "-no-user-config", "-nodefaults",
           "-chardev", "socket,id=charmonitor,fd=23,server=on,wait=off",
           "-mon", "chardev=charmonitor,id=monitor,mode=control",
           "-rtc", "base=utc", "-no-reboot", "-no-acpi", "-boot", "strict=on",
           "-usb", "-kernel", "/k.elf", "-append", "dirty-rate=16M",
           "-add-fd", "set=0,fd=24,opaque=serial0-source",
           "-chardev", "file,id=charserial0,path=/dev/fdset/0,append=on",
           "-device", "isa-serial,chardev=charserial0,id=serial0,index=0",
           "-audiodev", "{\"id\":\"audio1\",\"driver\":\"none\"}",
           "-blockdev", "driver=file,node-name=ferrydisk0,filename=/d.img",
           "-device", "pvblk,drive=ferrydisk0,id=disk0",
           "-msg", "timestamp=on", "-incoming", "defer");
    g_assert_cmpstr(cfg.name, ==, "ferry1");
    g_assert_true(cfg.debug_threads);
    g_assert_cmpuint(cfg.ram_size, ==, 128 * MiB);
    g_assert_cmpuint(cfg.smp, ==, 2);
    g_assert_cmpuint(cfg.sockets, ==, 2);
    g_assert_false(cfg.dump_guest_core);
    g_assert_true(cfg.no_reboot);
    g_assert_false(cfg.no_shutdown);
    g_assert_false(cfg.mem_lock);
    g_assert_true(cfg.msg_timestamp);
    g_assert_cmpstr(cfg.uuid, ==, "a0cd4a3b-5b8a-4c6f-9f4e-0d7e6b6c1a2b");
    g_assert_cmpuint(cfg.chardevs->len, ==, 2);
    g_assert_cmpuint(cfg.mons->len, ==, 1);
    g_assert_cmpuint(cfg.devices->len, ==, 2);
    g_assert_cmpuint(cfg.objects->len, ==, 2);
    g_assert_cmpuint(cfg.add_fds->len, ==, 1);
    fd = g_ptr_array_index(cfg.add_fds, 0);
    g_assert_cmpint(fd->fd, ==, 24);
    g_assert_cmpint(fd->set, ==, 0);
    g_assert_cmpstr(fd->opaque, ==, "serial0-source");
    machine_config_clear(&cfg);
}

static void test_host_options(void)
{
    MachineConfig cfg;

    ACCEPT(&cfg, "-name", "vm,process=ferry-vm,debug-threads=on",
           "-no-shutdown", "-overcommit", "mem-lock=on", "-msg",
           "timestamp=off");
    g_assert_cmpstr(cfg.process_name, ==, "ferry-vm");
    g_assert_true(cfg.debug_threads);
    g_assert_true(cfg.no_shutdown);
    g_assert_true(cfg.mem_lock);
    g_assert_false(cfg.msg_timestamp);
    machine_config_clear(&cfg);
}

/* Accepted (NULL) or refused with exactly this message. */
static const OptionCase cases[] = {
    { { "-uuid", "A0CD4A3B-5B8A-4C6F-9F4E-0D7E6B6C1A2B" } },
    { { "-uuid", "a0cd4a3b5b8a4c6f9f4e0d7e6b6c1a2b" },
      "-uuid: invalid UUID 'a0cd4a3b5b8a4c6f9f4e0d7e6b6c1a2b' (expected "
      "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)" },
    { { "-uuid", "" },
      "-uuid: invalid UUID '' (expected "
      "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)" },
    { { "-overcommit", "mem-lock=off,cpu-pm=off" } },
    { { "-overcommit", "cpu-pm=on" },
      "-overcommit: cpu-pm=on is not supported (guest HLT always exits to "
      "ferry)" },
    { { "-overcommit", "mem-lock=maybe" },
      "-overcommit: Parameter 'mem-lock' expects 'on' or 'off', not 'maybe'" },
    { { "-overcommit", "off" },
      "-overcommit: Parameter 'off' has no value (expected KEY=VALUE)" },
    { { "-msg", "timestamp=on,guest-name=on" },
      "-msg: Unknown parameter 'guest-name' (accepted: timestamp)" },
    { { "-sandbox", "off" } },
    { { "-sandbox", "enable=off,spawn=deny" } },
    { { "-sandbox", "on" },
      "-sandbox: 'on' is not supported: ferry has no seccomp filter (use "
      "-sandbox off)" },
    { { "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,"
        "resourcecontrol=deny" },
      "-sandbox: 'on' is not supported: ferry has no seccomp filter (use "
      "-sandbox off)" },
    { { "-sandbox", "off,spawn=maybe" },
      "-sandbox: Parameter 'spawn' expects 'allow' or 'deny', not 'maybe'" },
    { { "-sandbox", "off,elevateprivileges=x" },
      "-sandbox: Parameter 'elevateprivileges' expects 'allow', 'deny' or "
      "'children', not 'x'" },
    { { "-display", "none" } },
    { { "-display", "type=none" } },
    { { "-display", "gtk" },
      "-display: ferry has no display: only 'none' is accepted, not 'gtk'" },
    { { "-display", "none,gl=on" },
      "-display: Unknown parameter 'gl' (accepted: type)" },
    { { "-nographic", "-usb", "-no-acpi", "-nodefaults", "-no-user-config",
        "-no-reboot", "-no-shutdown" } },
    { { "-rtc", "base=utc" } },
    { { "-rtc", "base=localtime,clock=vm,driftfix=slew" } },
    { { "-rtc", "base=2006-06-17T16:01:21" },
      "-rtc: Parameter 'base' expects 'utc' or 'localtime', not "
      "'2006-06-17T16:01:21'" },
    { { "-rtc", "base=utc,clock=wall" },
      "-rtc: Parameter 'clock' expects 'host', 'rt' or 'vm', not 'wall'" },
    { { "-boot", "strict=on" } },
    { { "-boot", "cd,menu=on,splash-time=3000,reboot-timeout=0" } },
    { { "-boot", "order=nc,once=d,strict=off" } },
    { { "-boot", "order=z" },
      "-boot: Parameter 'order' expects boot devices a to p, not 'z'" },
    { { "-boot", "strict=yes-please" },
      "-boot: Parameter 'strict' expects 'on' or 'off', not 'yes-please'" },
    { { "-boot", "splash=/img.jpg" },
      "-boot: Unknown parameter 'splash' (accepted: order, once, menu, "
      "strict, splash-time, reboot-timeout)" },
    { { "-audiodev", "{\"id\":\"audio1\",\"driver\":\"none\"}" } },
    { { "-audiodev", "none,id=audio1" } },
    { { "-audiodev", "pa,id=audio1" },
      "-audiodev: driver 'pa' is not supported: ferry has no sound device "
      "(only driver=none)" },
    { { "-audiodev", "none" }, "-audiodev: id= is required" },
    { { "-audiodev",
        "{\"id\":\"a\",\"driver\":\"none\",\"out\":{\"voices\":1}}" },
      "-audiodev: Unknown parameter 'out.voices' (accepted: driver, id)" },
    { { "-add-fd", "fd=3,set=2" } },
    { { "-add-fd", "fd=7,set=0,opaque=\"x y\"" } },
    { { "-add-fd", "set=2" }, "-add-fd: fd= is required" },
    { { "-add-fd", "fd=5" }, "-add-fd: set= is required" },
    { { "-add-fd", "fd=2,set=0" }, "-add-fd: fd=2 is a standard stream" },
    { { "-add-fd", "fd=-1,set=0" },
      "-add-fd: Parameter 'fd' expects a non-negative integer, not '-1'" },
    { { "-add-fd", "fd=4294967296,set=0" },
      "-add-fd: fd=4294967296 is out of range" },
    { { "-add-fd", "fd=3,set=0,flags=x" },
      "-add-fd: Unknown parameter 'flags' (accepted: fd, set, opaque)" },
    { { "-chardev", "" }, "-chardev: requires a non-empty argument" },
    { { "-mon", "" }, "-mon: requires a non-empty argument" },
    { { "-chardev", "stdio,id=c", "-daemonize" },
      "-daemonize: cannot be used with -chardev stdio" },
};

static void test_cases(void)
{
    run_option_cases(cases, G_N_ELEMENTS(cases));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/options-libvirt/probe", test_probe_command_line);
    g_test_add_func("/options-libvirt/domain", test_domain_command_line);
    g_test_add_func("/options-libvirt/host", test_host_options);
    g_test_add_func("/options-libvirt/cases", test_cases);
    return g_test_run();
}
