/* State shared by the soft accelerator's files; locking in soft-accel.c. */
#ifndef FERRY_ACCEL_SOFT_INTERNAL_H
#define FERRY_ACCEL_SOFT_INTERNAL_H

#include "accel/accel.h"
#include "accel/soft.h"
#include "guest/workload.h"

/* Aligned so that one vCPU's hot fields never share a line with another's. */
typedef struct SoftCPU {
    struct wl_state wl;         /* private copy: ops.opaque is this SoftCPU */
    struct wl_cpu *ctx;         /* in guest RAM */
    uint64_t ctx_gpa;
    unsigned index;
    int kicked;                 /* atomic: set by vcpu_kick */
    int in_run;                 /* atomic: may be marking pages dirty */
    uint64_t quiesce_seq;       /* atomic: bumped between rounds */
} __attribute__((aligned(64))) SoftCPU;

typedef struct SoftState {
    unsigned ncpus;
    bool prepared;              /* wl and the ctx pointers are valid */
    struct wl_state wl;         /* cfg and layout; ops are per vCPU */
    /* wl's any_round_ns: host memory, so whole-guest stalls are measured
     * within one process only, not across a migration */
    uint64_t any_round_ns;
    SoftCPU cpus[WL_MAX_CPUS];
} SoftState;

extern SoftState soft_state;

/* soft-dirty.c */
extern const DirtyLogOps soft_dirty_log_ops;
/* Records a guest write at @gpa; a no-op while dirty logging is off. */
void soft_dirty_mark(uint64_t gpa);

#endif
