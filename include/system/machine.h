/*
 * The machine: what the command line asked for, and the single VM this
 * process runs.
 */
#ifndef FERRY_SYSTEM_MACHINE_H
#define FERRY_SYSTEM_MACHINE_H

#include <glib.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include "ferry/block.h"

/* -machine TYPE: ferry's PC (pc-i440fx-7.2, alias pc) or none. */
typedef enum MachineType {
    MACHINE_TYPE_PC,
    MACHINE_TYPE_NONE,      /* no RAM, no vCPUs, no devices: the monitors */
} MachineType;

/* -object memory-backend-ram / secret, checked at parse time. */
typedef struct ObjectConfig {
    char *qom_type;
    char *id;
    uint64_t size;          /* memory backends */
    GBytes *secret;         /* secrets: the decoded data */
    bool tls;               /* in system/tls-objects.c's table until freed */
} ObjectConfig;

/* -add-fd fd=N,set=M[,opaque=STR] */
typedef struct AddFdConfig {
    int fd;
    int64_t set;
    char *opaque;
} AddFdConfig;

typedef struct MachineConfig {
    char *name;             /* -name guest= */
    char *process_name;     /* -name process= */
    bool debug_threads;     /* -name debug-threads: QEMU's thread names */
    char *uuid;             /* -uuid */
    MachineType machine;    /* -machine type */
    char *machine_accel;    /* -machine accel=, ferry names, ':'-separated */
    char *memory_backend;   /* -machine memory-backend= */
    bool dump_guest_core;   /* -machine dump-guest-core (default on) */
    uint64_t ram_size;      /* -m, bytes */
    bool ram_size_set;      /* -m was given */
    unsigned smp;           /* -smp cpus */
    unsigned sockets, dies, cores, threads;   /* -smp topology */
    char *accel;            /* -accel, ferry names, ':'-separated in the
                             * order tried; NULL = kvm when usable */
    char *kernel;           /* -kernel; NULL = built-in test guest */
    char *append;           /* -append */
    GPtrArray *qmp;         /* -qmp specs (char *), repeatable */
    GPtrArray *blockdevs;   /* -blockdev specs (char *), repeatable */
    GPtrArray *devices;     /* -device specs (char *), repeatable */
    GPtrArray *chardevs;    /* -chardev specs (char *), repeatable */
    GPtrArray *mons;        /* -mon specs (char *), repeatable */
    GPtrArray *objects;     /* -object (ObjectConfig *), repeatable */
    GPtrArray *add_fds;     /* -add-fd (AddFdConfig *), repeatable */
    char *monitor;          /* -monitor stdio|unix:... */
    char *serial;           /* -serial file:PATH|stdio|pty|null|chardev:ID;
                             * NULL = none */
    bool start_paused;      /* -S */
    bool no_reboot;         /* -no-reboot: a guest reset ends the process */
    bool no_shutdown;       /* -no-shutdown: a guest shutdown pauses */
    bool mem_lock;          /* -overcommit mem-lock=on */
    bool msg_timestamp;     /* -msg timestamp=on */
    char *incoming;         /* -incoming URI|defer */
    char *cpr_incoming;     /* -incoming's 'cpr' channel: a unix path */
    bool daemonize;         /* -daemonize */
    char *pidfile;          /* -pidfile */
    char *logfile;          /* -D */
    int handoff_fd;         /* -x-handoff fd=FD: a live update's successor */
    char *handoff_fault;    /* -x-handoff fault=NAME (tests) */
    bool want_help;         /* -h, -help, --help: print usage, exit 0 */
    bool want_version;      /* -version, --version: print version, exit 0 */
} MachineConfig;

void machine_config_init(MachineConfig *cfg);
void machine_config_clear(MachineConfig *cfg);

/*
 * Parses QEMU-style options (single dash, "-m 512M"); argv[0] is the program
 * name and is skipped.  Unknown or malformed options set @errp with a
 * message naming the option ("-m: invalid size 'abc'..."), without the
 * program name: main prints it as "ferry: MESSAGE".  -help and -version set
 * want_help / want_version and stop parsing, as QEMU exits on them at once.
 */
bool machine_parse_options(int argc, char **argv, MachineConfig *cfg,
                           GError **errp);

/* Prints the option summary for -help, built from the parser's table. */
void machine_print_help(FILE *out);

/* Machine memory layout, as QEMU's pc machine: RAM above this goes >4G. */
#define MACHINE_LOWMEM_MAX   0xc0000000ULL
#define MACHINE_HIGHMEM_BASE 0x100000000ULL

extern const MachineConfig *current_config;

/* The machine's block nodes (system/machine-block.c), created on first
 * use; freed at machine cleanup. */
BlockGraph *machine_block_graph(void);
void machine_block_graph_free(void);

#endif
