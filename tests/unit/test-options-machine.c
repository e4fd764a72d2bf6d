/*
 * -machine, -accel, -smp and -object (system/options-machine.c and
 * options-object.c): the forms libvirt sends, the topology arithmetic,
 * the memory backend against -m, and each refusal's exact message.
 */
#include <glib/gstdio.h>
#include "options-test.h"

static void test_machine(void)
{
    MachineConfig cfg;

    ACCEPT(&cfg, "-machine", "pc-i440fx-7.2,usb=off,dump-guest-core=off");
    g_assert_cmpint(cfg.machine, ==, MACHINE_TYPE_PC);
    g_assert_false(cfg.dump_guest_core);
    g_assert_true(cfg.prefault);
    machine_config_clear(&cfg);

    ACCEPT(&cfg, "-machine", "pc,x-prefault=off");
    g_assert_false(cfg.prefault);
    machine_config_clear(&cfg);

    /* The probe's: no guest, the first usable accelerator of a list */
    ACCEPT(&cfg, "-machine", "none,accel=kvm:tcg");
    g_assert_cmpint(cfg.machine, ==, MACHINE_TYPE_NONE);
    g_assert_cmpstr(cfg.accel, ==, "kvm:soft");
    machine_config_clear(&cfg);

    ACCEPT(&cfg, "-machine", "pc");
    g_assert_cmpint(cfg.machine, ==, MACHINE_TYPE_PC);
    machine_config_clear(&cfg);

    /* A later -machine without a type keeps the one chosen */
    ACCEPT(&cfg, "-machine", "none", "-machine", "accel=tcg");
    g_assert_cmpint(cfg.machine, ==, MACHINE_TYPE_NONE);
    g_assert_cmpstr(cfg.accel, ==, "soft");
    machine_config_clear(&cfg);

    ACCEPT(&cfg, "-machine", "{\"type\": \"pc\", \"usb\": false, "
           "\"dump-guest-core\": true}");
    g_assert_true(cfg.dump_guest_core);
    machine_config_clear(&cfg);
}

static const OptionCase machine_cases[] = {
    { { "-machine", "pc,usb=on" } },
    { { "-machine", "type=none" } },
    { { "-machine", "q35" },
      "-machine: unsupported machine type 'q35' (ferry has: pc-i440fx-7.2 "
      "(alias pc), none)" },
    { { "-machine", "pc-i440fx-8.0" },
      "-machine: unsupported machine type 'pc-i440fx-8.0' (ferry has: "
      "pc-i440fx-7.2 (alias pc), none)" },
    { { "-machine", "pc,usb=maybe" },
      "-machine: Parameter 'usb' expects 'on' or 'off', not 'maybe'" },
    { { "-machine", "pc,vmport=off" },
      "-machine: Unknown parameter 'vmport' (accepted: type, accel, usb, "
      "dump-guest-core, memory-backend, x-prefault)" },
    { { "-machine", "pc,x-prefault=maybe" },
      "-machine: Parameter 'x-prefault' expects 'on' or 'off', not 'maybe'" },
    { { "-machine", "none,accel=xen" },
      "-machine: invalid accelerator 'xen' in accel 'xen' (accepted: kvm, "
      "tcg, soft)" },
    { { "-machine", "none,accel=kvm:" },
      "-machine: invalid accelerator '' in accel 'kvm:' (accepted: kvm, "
      "tcg, soft)" },
    { { "-machine", "pc,memory-backend=1x" },
      "-machine: Parameter 'memory-backend' expects an identifier (a "
      "letter, then letters, digits, '-', '.', '_'), not '1x'" },
    { { "-machine", "pc,memory-backend=pc.ram" },
      "-machine: memory-backend 'pc.ram' is not a memory-backend-ram "
      "-object" },
    { { "-accel", "kvm", "-machine", "pc,accel=kvm" },
      "-accel: cannot be combined with -machine accel=" },
    { { "-machine", "none", "-kernel", "k.elf" },
      "-kernel: the 'none' machine has no guest (no RAM, vCPUs or devices)" },
    { { "-machine", "none", "-device", "pvblk,drive=d" },
      "-device: the 'none' machine has no guest (no RAM, vCPUs or devices)" },
    { { "-machine", "none", "-incoming", "defer" },
      "-incoming: the 'none' machine has no guest (no RAM, vCPUs or "
      "devices)" },
    { { "-machine" }, "-machine: requires an argument" },
};

static void test_machine_cases(void)
{
    run_option_cases(machine_cases, G_N_ELEMENTS(machine_cases));
}

/* -smp: what is given, and the topology the parser must make of it */
static const struct {
    const char *arg;
    unsigned cpus, sockets, dies, cores, threads;
} smp_topologies[] = {
    { "2", 2, 1, 1, 2, 1 },                 /* QEMU 7.2 prefers cores */
    { "2,sockets=2,cores=1,threads=1", 2, 2, 1, 1, 1 },    /* libvirt's */
    { "2,sockets=2", 2, 2, 1, 1, 1 },
    { "4,cores=2", 4, 2, 1, 2, 1 },
    { "4,sockets=1,cores=2", 4, 1, 1, 2, 2 },
    { "8,sockets=2,dies=2,cores=2,threads=1", 8, 2, 2, 2, 1 },
    { "sockets=2,cores=2", 4, 2, 1, 2, 1 },
    { "maxcpus=4", 4, 1, 1, 4, 1 },
    { "4,maxcpus=4,sockets=4", 4, 4, 1, 1, 1 },
    { "{\"cpus\": 2, \"sockets\": 2}", 2, 2, 1, 1, 1 },
    { "64,sockets=4,cores=8,threads=2", 64, 4, 1, 8, 2 },
};

static void test_smp_topology(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(smp_topologies); i++) {
        MachineConfig cfg;

        ACCEPT(&cfg, "-smp", smp_topologies[i].arg);
        g_assert_cmpuint(cfg.smp, ==, smp_topologies[i].cpus);
        g_assert_cmpuint(cfg.sockets, ==, smp_topologies[i].sockets);
        g_assert_cmpuint(cfg.dies, ==, smp_topologies[i].dies);
        g_assert_cmpuint(cfg.cores, ==, smp_topologies[i].cores);
        g_assert_cmpuint(cfg.threads, ==, smp_topologies[i].threads);
        machine_config_clear(&cfg);
    }
}

static const OptionCase smp_cases[] = {
    { { "-smp", "2,maxcpus=4" },
      "-smp: maxcpus (4) must equal the number of CPUs (2): ferry cannot "
      "hot-plug vCPUs" },
    { { "-smp", "2,sockets=2,cores=2" },
      "-smp: sockets (2) * dies (1) * cores (2) * threads (1) = 4 does not "
      "match the number of CPUs (2)" },
    { { "-smp", "3,sockets=2" },
      "-smp: sockets (2) * dies (1) * cores (1) * threads (1) = 2 does not "
      "match the number of CPUs (3)" },
    { { "-smp", "2,sockets=4" },
      "-smp: sockets (4) * dies (1) * cores (1) * threads (1) = 4 does not "
      "match the number of CPUs (2)" },
    { { "-smp", "sockets=8,cores=16" },
      "-smp: invalid number of CPUs '128' (expected 1 to 64)" },
    { { "-smp", "2,sockets=0" },
      "-smp: invalid sockets '0' (expected 1 to 64)" },
    { { "-smp", "2,threads=65" },
      "-smp: invalid threads '65' (expected 1 to 64)" },
    { { "-smp", "2,cores=x" },
      "-smp: Parameter 'cores' expects a non-negative integer, not 'x'" },
    { { "-smp", "2,clusters=1" },
      "-smp: Unknown parameter 'clusters' (accepted: cpus, sockets, dies, "
      "cores, threads, maxcpus)" },
};

static void test_smp_cases(void)
{
    run_option_cases(smp_cases, G_N_ELEMENTS(smp_cases));
}

static void test_memory_backend(void)
{
    MachineConfig cfg;

    /* libvirt's: the backend is the RAM, its size equal to -m */
    ACCEPT(&cfg, "-machine", "pc-i440fx-7.2,memory-backend=pc.ram",
           "-m", "128", "-object", "memory-backend-ram,id=pc.ram,"
           "size=134217728");
    g_assert_cmpuint(cfg.ram_size, ==, 128 * MiB);
    g_assert_cmpstr(cfg.memory_backend, ==, "pc.ram");
    machine_config_clear(&cfg);

    /* Without -m, the backend sizes the RAM; the JSON form; any order */
    ACCEPT(&cfg, "-object", "{\"qom-type\": \"memory-backend-ram\", "
           "\"id\": \"mem\", \"size\": 268435456}",
           "-machine", "memory-backend=mem");
    g_assert_cmpuint(cfg.ram_size, ==, 256 * MiB);
    g_assert_true(cfg.objects->len == 1);
    machine_config_clear(&cfg);
}

static const OptionCase backend_cases[] = {
    { { "-m", "256", "-machine", "memory-backend=pc.ram",
        "-object", "memory-backend-ram,id=pc.ram,size=128M" },
      "-object: memory backend 'pc.ram' has size 134217728 but -m is "
      "268435456 bytes: it is the guest's RAM, the two must match" },
    { { "-object", "memory-backend-ram,id=pc.ram,size=128M" },
      "-object: memory backend 'pc.ram' is not used (ferry has no NUMA): "
      "name it with -machine memory-backend=pc.ram" },
    { { "-object", "memory-backend-ram,id=pc.ram" },
      "-object: memory-backend-ram 'pc.ram' needs size=" },
    { { "-object", "memory-backend-ram,id=pc.ram,size=4097" },
      "-object: invalid size '4097': RAM size must be a multiple of 4 KiB" },
    { { "-object", "memory-backend-ram,id=pc.ram,size=1G,share=on" },
      "-object: Unknown parameter 'share' (accepted: qom-type, id, size)" },
    { { "-object", "memory-backend-ram,size=1G" },
      "-object: memory-backend-ram needs id=" },
    { { "-object", "memory-backend-file,id=m,size=1G,mem-path=/dev/shm" },
      "-object: unsupported object type 'memory-backend-file' (ferry has: "
      "memory-backend-ram, secret, tls-creds-x509, tls-creds-psk, authz-list)" },
    { { "-object", "iothread,id=io0" },
      "-object: unsupported object type 'iothread' (ferry has: "
      "memory-backend-ram, secret, tls-creds-x509, tls-creds-psk, authz-list)" },
    { { "-object", "secret,id=k,data=x", "-object",
        "tls-creds-x509,id=k,dir=." },
      "-object: duplicate object id 'k'" },
    { { "-machine", "memory-backend=t", "-object",
        "tls-creds-x509,id=t,dir=." },
      "-machine: memory-backend 't' is not a memory-backend-ram -object" },
    { { "-machine", "memory-backend=k", "-object", "secret,id=k,data=x" },
      "-machine: memory-backend 'k' is not a memory-backend-ram -object" },
};

static void test_memory_backend_cases(void)
{
    run_option_cases(backend_cases, G_N_ELEMENTS(backend_cases));
}

static void test_secret(void)
{
    g_autofree char *dir = g_dir_make_tmp("ferry-secret-XXXXXX", NULL);
    g_autofree char *file = g_build_filename(dir, "master-key.aes", NULL);
    g_autofree char *spec = g_strdup_printf("secret,id=masterKey0,format=raw,"
                                            "file=%s", file);
    MachineConfig cfg;
    ObjectConfig *obj;

    g_assert_true(g_file_set_contents(file, "0123456789abcdef", 16, NULL));
    ACCEPT(&cfg, "-object", spec, "-object",
           "{\"qom-type\": \"secret\", \"id\": \"s1\", \"format\": "
           "\"base64\", \"data\": \"aGVsbG8=\"}");
    g_assert_cmpuint(cfg.objects->len, ==, 2);
    obj = g_ptr_array_index(cfg.objects, 0);
    g_assert_cmpuint(g_bytes_get_size(obj->secret), ==, 16);
    obj = g_ptr_array_index(cfg.objects, 1);
    g_assert_cmpmem(g_bytes_get_data(obj->secret, NULL),
                    g_bytes_get_size(obj->secret), "hello", 5);
    machine_config_clear(&cfg);
    g_unlink(file);
    g_rmdir(dir);
}

static const OptionCase secret_cases[] = {
    { { "-object", "secret,id=s,data=x,file=/f" },
      "-object: secret 's' needs exactly one of data= and file=" },
    { { "-object", "secret,id=s" },
      "-object: secret 's' needs exactly one of data= and file=" },
    { { "-object", "secret,id=s,format=base64,data=abc" },
      "-object: secret 's' is not valid base64" },
    { { "-object", "secret,id=s,format=hex,data=ab" },
      "-object: Parameter 'format' expects 'raw' or 'base64', not 'hex'" },
    { { "-object", "secret,id=s,data=x,keyid=k" },
      "-object: Unknown parameter 'keyid' (accepted: qom-type, id, format, "
      "data, file)" },
    { { "-object", "secret,id=s,file=/nonexistent/key" },
      "-object: secret 's': cannot read file=/nonexistent/key" },
    { { "-object", "secret,id=s,data=a", "-object", "secret,id=s,data=b" },
      "-object: duplicate object id 's'" },
    { { "-object", "secret,id=9s,data=a" },
      "-object: Parameter 'id' expects an identifier (a letter, then "
      "letters, digits, '-', '.', '_'), not '9s'" },
};

static void test_secret_cases(void)
{
    run_option_cases(secret_cases, G_N_ELEMENTS(secret_cases));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/options-machine/machine", test_machine);
    g_test_add_func("/options-machine/machine/cases", test_machine_cases);
    g_test_add_func("/options-machine/smp/topology", test_smp_topology);
    g_test_add_func("/options-machine/smp/cases", test_smp_cases);
    g_test_add_func("/options-machine/memory-backend", test_memory_backend);
    g_test_add_func("/options-machine/memory-backend/cases",
                    test_memory_backend_cases);
    g_test_add_func("/options-machine/secret", test_secret);
    g_test_add_func("/options-machine/secret/cases", test_secret_cases);
    return g_test_run();
}
