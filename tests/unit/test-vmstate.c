/*
 * The vmstate engine (migration/vmstate-*.c) over a real QEMUFile on a
 * memfd: round trips of every field type, versions, subsections, the
 * error for a stream cut at every byte, the vmdesc JSON, the registry,
 * and the serial and workload devices' descriptions.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "hw/serial.h"
#include "hw/workload.h"
#include "migration/transport/channel.h"
#include "migration/format/qemu-file.h"
#include "migration/context.h"
#include "migration/format/vmstate-int.h"
#include "mig-test-vmm.h"

/* What the savevm layer puts after a section (QEMU_VM_SECTION_FOOTER):
 * the engine peeks past the fields for subsections, as QEMU's does. */
#define FOOTER 0x7e

/* The devices register on a migration context, as in ferry. */
static FerryMig *mig;
#define REG (&mig->saved.devices)

static GByteArray *save(const VMStateDescription *vmsd, void *opaque,
                        JsonBuilder *vmdesc)
{
    int fd = memfd_create("vmstate-out", MFD_CLOEXEC);
    MigChannel *chan = mig_channel_new("mem", -1, dup(fd), NULL, NULL);
    QEMUFile *f = qemu_file_new_output(chan);
    GByteArray *b = g_byte_array_new();
    off_t len;

    mig_channel_unref(chan);
    g_assert_cmpint(vmstate_save_state(f, vmsd, opaque, vmdesc), ==, 0);
    g_assert_cmpint(qemu_fclose(f, NULL), ==, 0);
    len = lseek(fd, 0, SEEK_END);
    g_byte_array_set_size(b, (guint)len);
    g_assert_cmpint(pread(fd, b->data, len, 0), ==, len);
    close(fd);
    return b;
}

/* Loads @len bytes of @data, then expects the footer if @footer. */
static int load(const guint8 *data, size_t len, bool footer,
                const VMStateDescription *vmsd, void *opaque, int version,
                GError **errp)
{
    int fd = memfd_create("vmstate-in", MFD_CLOEXEC);
    guint8 foot = FOOTER;
    MigChannel *chan;
    QEMUFile *f;
    int ret;

    g_assert_cmpint(write(fd, data, len), ==, (ssize_t)len);
    if (footer) {
        g_assert_cmpint(write(fd, &foot, 1), ==, 1);
    }
    lseek(fd, 0, SEEK_SET);
    chan = mig_channel_new("mem", fd, -1, NULL, NULL);
    f = qemu_file_new_input(chan);
    mig_channel_unref(chan);
    ret = vmstate_load_state(f, vmsd, opaque, version, errp);
    if (ret == 0 && footer) {
        g_assert_cmpint(qemu_get_byte(f), ==, FOOTER);  /* all consumed */
        g_assert_cmpint(qemu_file_get_error(f), ==, 0);
    }
    qemu_fclose(f, NULL);
    return ret;
}

/* --- a struct with every field type --------------------------------------- */

typedef struct Inner {
    uint32_t a;
    int16_t b;
} Inner;

typedef struct Every {
    bool flag;
    int8_t i8;
    int16_t i16;
    int32_t i32;
    int64_t i64;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    uint8_t buf[5];
    uint32_t u32a[3];
    int64_t i64a[2];
    bool ba[2];
    uint32_t nvar;
    uint64_t var[8];
    Inner inner;
    Inner inners[2];
    uint32_t ninner;
    Inner vinners[4];
    uint32_t since2;        /* appeared in version 2 */
    uint8_t extra;          /* in a subsection, sent when non-zero */
} Every;

static const VMStateDescription vmstate_inner = {
    .name = "inner",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(a, Inner),
        VMSTATE_INT16(b, Inner),
        VMSTATE_END_OF_LIST()
    },
};

static bool extra_needed(void *opaque)
{
    return ((Every *)opaque)->extra != 0;
}

static const VMStateDescription vmstate_every_extra = {
    .name = "every/extra",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = extra_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT8(extra, Every),
        VMSTATE_END_OF_LIST()
    },
};

#define EVERY_FIELDS                                                    \
    VMSTATE_BOOL(flag, Every),                                          \
    VMSTATE_INT8(i8, Every),                                            \
    VMSTATE_INT16(i16, Every),                                          \
    VMSTATE_INT32(i32, Every),                                          \
    VMSTATE_INT64(i64, Every),                                          \
    VMSTATE_UINT8(u8, Every),                                           \
    VMSTATE_UINT16(u16, Every),                                         \
    VMSTATE_UINT32(u32, Every),                                         \
    VMSTATE_UINT64(u64, Every),                                         \
    VMSTATE_BUFFER(buf, Every),                                         \
    VMSTATE_UINT32_ARRAY(u32a, Every, 3),                               \
    VMSTATE_INT64_ARRAY(i64a, Every, 2),                                \
    VMSTATE_BOOL_ARRAY(ba, Every, 2),                                   \
    VMSTATE_UINT32(nvar, Every),                                        \
    VMSTATE_UINT64_VARRAY_UINT32(var, Every, nvar),                     \
    VMSTATE_STRUCT(inner, Every, 0, vmstate_inner, Inner),              \
    VMSTATE_STRUCT_ARRAY(inners, Every, 2, 0, vmstate_inner, Inner),    \
    VMSTATE_UINT32(ninner, Every),                                      \
    VMSTATE_STRUCT_VARRAY_UINT32(vinners, Every, ninner, 0,             \
                                 vmstate_inner, Inner)

static const VMStateDescription vmstate_every = {
    .name = "every",
    .version_id = 2,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        EVERY_FIELDS,
        VMSTATE_UINT32_V(since2, Every, 2),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription *const[]) {
        &vmstate_every_extra,
        NULL
    },
};

/* What a source at version 1 had: no since2. */
static const VMStateDescription vmstate_every_v1 = {
    .name = "every",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        EVERY_FIELDS,
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription *const[]) {
        &vmstate_every_extra,
        NULL
    },
};

static Every every_sample(void)
{
    Every e = {
        .flag = true, .i8 = -2, .i16 = -300, .i32 = -70000,
        .i64 = -5000000000LL, .u8 = 0xab, .u16 = 0xbeef, .u32 = 0xdeadbeef,
        .u64 = 0x0123456789abcdefULL, .buf = "abcd", .u32a = { 1, 2, 3 },
        .i64a = { -1, INT64_MIN }, .ba = { false, true }, .nvar = 3,
        .var = { 10, 20, 30 }, .inner = { 7, -7 },
        .inners = { { 8, -8 }, { 9, -9 } }, .ninner = 2,
        .vinners = { { 11, -11 }, { 12, -12 } }, .since2 = 22, .extra = 0,
    };
    return e;
}

static void test_round_trip(void)
{
    Every src = every_sample(), dst;
    g_autoptr(GByteArray) b = save(&vmstate_every, &src, NULL);
    static const guint8 head[] = { 0x01, 0xfe, 0xfe, 0xd4 };

    /* bool, then int8 -2, then int16 -300 big-endian */
    g_assert_cmpmem(b->data, sizeof(head), head, sizeof(head));
    memset(&dst, 0, sizeof(dst));
    g_assert_cmpint(load(b->data, b->len, true, &vmstate_every, &dst, 2,
                         NULL), ==, 0);
    g_assert_cmpmem(&src, sizeof(src), &dst, sizeof(dst));
}

static void test_subsection(void)
{
    Every src = every_sample(), dst = every_sample();
    g_autoptr(GByteArray) without = save(&vmstate_every, &src, NULL);
    g_autoptr(GByteArray) with = NULL;

    src.extra = 0x42;
    with = save(&vmstate_every, &src, NULL);
    /* marker, counted name, be32 version, the field */
    g_assert_cmpuint(with->len, ==, without->len + 1 + 1 + 11 + 4 + 1);
    g_assert_cmpmem(with->data + without->len, 13, "\x05\x0b" "every/extra",
                    13);
    dst.extra = 0x55;
    g_assert_cmpint(load(without->data, without->len, true, &vmstate_every,
                         &dst, 2, NULL), ==, 0);
    g_assert_cmpuint(dst.extra, ==, 0x55);      /* not sent: untouched */
    g_assert_cmpint(load(with->data, with->len, true, &vmstate_every, &dst,
                         2, NULL), ==, 0);
    g_assert_cmpuint(dst.extra, ==, 0x42);
}

static void test_older_version(void)
{
    Every src = every_sample(), dst;
    g_autoptr(GByteArray) b = save(&vmstate_every_v1, &src, NULL);

    memset(&dst, 0, sizeof(dst));
    dst.since2 = 99;
    g_assert_cmpint(load(b->data, b->len, true, &vmstate_every, &dst, 1,
                         NULL), ==, 0);
    g_assert_cmpuint(dst.since2, ==, 99);       /* not in version 1 */
    dst.since2 = src.since2;
    g_assert_cmpmem(&src, sizeof(src), &dst, sizeof(dst));
}

static void test_version_refused(void)
{
    Every src = every_sample(), dst;
    g_autoptr(GByteArray) b = save(&vmstate_every, &src, NULL);
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(load(b->data, b->len, true, &vmstate_every, &dst, 3,
                         &err), ==, -EINVAL);
    g_assert_cmpstr(err->message, ==, "every: incoming version 3 is too new "
                    "(this side reads versions 1 to 2)");
    g_clear_error(&err);
    g_assert_cmpint(load(b->data, b->len, true, &vmstate_every, &dst, 0,
                         &err), ==, -EINVAL);
    g_assert_cmpstr(err->message, ==, "every: incoming version 0 is too old "
                    "(this side reads versions 1 to 2)");
}

static void test_truncated(void)
{
    Every src = every_sample(), dst;
    g_autoptr(GByteArray) b = NULL;
    g_autoptr(GRegex) re = g_regex_new(
        "^every(/extra)?: (field|subsection|after field) '[a-z0-9/.\\[\\]]+'"
        ": unexpected end of stream$", 0, 0, NULL);

    src.extra = 1;
    b = save(&vmstate_every, &src, NULL);
    /* Every cut, the footer included: a whole section is never enough. */
    for (guint off = 0; off <= b->len; off++) {
        g_autoptr(GError) err = NULL;

        memset(&dst, 0, sizeof(dst));
        g_assert_cmpint(load(b->data, off, false, &vmstate_every, &dst, 2,
                             &err), ==, -EIO);
        if (!g_regex_match(re, err->message, 0, NULL)) {
            g_error("cut at %u: %s", off, err->message);
        }
        if (off == 0) {
            g_assert_cmpstr(err->message, ==,
                            "every: field 'flag': unexpected end of stream");
        } else if (off == 2) {
            g_assert_cmpstr(err->message, ==,
                            "every: field 'i16': unexpected end of stream");
        } else if (off == b->len - 1) {
            g_assert_cmpstr(err->message, ==, "every/extra: field 'extra': "
                            "unexpected end of stream");
        }
    }
}

static void test_nested_error_path(void)
{
    Every src = every_sample(), dst;
    g_autoptr(GByteArray) b = save(&vmstate_every, &src, NULL);
    g_autoptr(GError) err = NULL;
    /* Cut in the middle of the last struct's int16. */
    guint off = b->len - 4 /* since2 */ - 1;

    g_assert_cmpint(load(b->data, off, false, &vmstate_every, &dst, 2,
                         &err), ==, -EIO);
    g_assert_cmpstr(err->message, ==, "every: field 'vinners[1].b': "
                    "unexpected end of stream");
}

static void test_bad_values(void)
{
    Every src = every_sample(), dst;
    g_autoptr(GByteArray) b = save(&vmstate_every, &src, NULL);
    g_autoptr(GError) err = NULL;

    b->data[0] = 2;                             /* the bool */
    g_assert_cmpint(load(b->data, b->len, true, &vmstate_every, &dst, 2,
                         &err), ==, -EINVAL);
    g_assert_cmpstr(err->message, ==, "every: field 'flag': invalid value");
}

static void test_bad_subsection(void)
{
    static const struct { const char *from, *to; } cases[] = {
        { "every/extra", "every/eXtra" },   /* ours by its prefix */
        { "every/extra", "evexy/extra" },   /* nobody's */
    };
    Every src = every_sample(), dst;
    g_autoptr(GByteArray) b = NULL;

    src.extra = 1;
    b = save(&vmstate_every, &src, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GByteArray) bad = g_byte_array_new();
        g_autoptr(GError) err = NULL;
        g_autofree char *want = g_strdup_printf(
            "every: unknown subsection '%s'", cases[i].to);
        guint8 *name;

        g_byte_array_append(bad, b->data, b->len);
        name = memmem(bad->data, bad->len, cases[i].from, 11);
        g_assert_nonnull(name);
        memcpy(name, cases[i].to, 11);
        g_assert_cmpint(load(bad->data, bad->len, true, &vmstate_every, &dst,
                             2, &err), ==, -ENOENT);
        g_assert_cmpstr(err->message, ==, want);
    }
}

/* --- the vmdesc ------------------------------------------------------------ */

typedef struct Sample {
    uint32_t a;
    uint16_t arr[3];
    Inner in;
    uint8_t buf[4];
    uint8_t x;
} Sample;

static const VMStateDescription vmstate_sample_sub = {
    .name = "sample/sub",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT8(x, Sample),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_sample = {
    .name = "sample",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(a, Sample),
        VMSTATE_UINT16_ARRAY(arr, Sample, 3),
        VMSTATE_STRUCT(in, Sample, 0, vmstate_inner, Inner),
        VMSTATE_BUFFER(buf, Sample),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription *const[]) {
        &vmstate_sample_sub,
        NULL
    },
};

static void test_vmdesc(void)
{
    Sample s = { 0 };
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonBuilder) jb = json_builder_new();
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = NULL;
    g_autofree char *text = NULL;
    g_autoptr(GByteArray) b = NULL;
    const VMStateEntry *e;

    g_assert_true(vmstate_register(REG, "sample", 0, &vmstate_sample, &s,
                                   MIG_PRI_DEFAULT, &err));
    e = vmstate_find(REG, "sample", 0);
    vmstate_vmdesc_begin(jb, 4096);
    vmstate_vmdesc_device_begin(jb, e);
    b = save(e->vmsd, e->opaque, jb);
    vmstate_vmdesc_device_end(jb);
    vmstate_vmdesc_end(jb);
    root = json_builder_get_root(jb);
    json_generator_set_root(gen, root);
    text = json_generator_to_data(gen, NULL);
    g_assert_cmpstr(text, ==,
        "{\"page_size\":4096,\"devices\":[{\"name\":\"sample\","
        "\"instance_id\":0,\"vmsd_name\":\"sample\",\"version\":1,"
        "\"fields\":["
        "{\"name\":\"a\",\"type\":\"uint32\",\"size\":4},"
        "{\"name\":\"arr\",\"array_len\":3,\"type\":\"uint16\",\"size\":2},"
        "{\"name\":\"in\",\"type\":\"struct\",\"struct\":{"
        "\"vmsd_name\":\"inner\",\"version\":1,\"fields\":["
        "{\"name\":\"a\",\"type\":\"uint32\",\"size\":4},"
        "{\"name\":\"b\",\"type\":\"int16\",\"size\":2}]},\"size\":6},"
        "{\"name\":\"buf\",\"type\":\"buffer\",\"size\":4}],"
        "\"subsections\":[{\"vmsd_name\":\"sample/sub\",\"version\":1,"
        "\"fields\":[{\"name\":\"x\",\"type\":\"uint8\",\"size\":1}]}]}]}");
    g_assert_cmpuint(b->len, ==, 4 + 6 + 6 + 4 + 1 + 1 + 10 + 4 + 1);
    vmstate_unregister(REG, &vmstate_sample, &s);
}

/* --- the registry ---------------------------------------------------------- */

static int collect(const VMStateEntry *e, void *opaque)
{
    g_string_append_printf(opaque, "%s.%u ", e->idstr, e->instance_id);
    return 0;
}

static void test_registry(void)
{
    static const struct { const char *id; int pri; } regs[] = {
        { "low", MIG_PRI_DEFAULT }, { "iommu", MIG_PRI_IOMMU },
        { "low2", MIG_PRI_DEFAULT }, { "gic", MIG_PRI_GICV3 },
        { "iommu2", MIG_PRI_IOMMU },
    };
    int state[G_N_ELEMENTS(regs)];
    g_autoptr(GString) order = g_string_new(NULL);
    g_autoptr(GError) err = NULL;

    for (size_t i = 0; i < G_N_ELEMENTS(regs); i++) {
        g_assert_true(vmstate_register(REG, regs[i].id, 0, &vmstate_sample,
                                       &state[i], regs[i].pri, &err));
    }
    g_assert_false(vmstate_register(REG, "low", 0, &vmstate_sample, &state[0],
                                    MIG_PRI_DEFAULT, &err));
    g_assert_cmpstr(err->message, ==,
                    "vmstate: 'low' instance 0 is already registered");
    g_assert_true(vmstate_register(REG, "low", VMSTATE_INSTANCE_ID_ANY,
                                   &vmstate_sample, &state[0],
                                   MIG_PRI_DEFAULT, NULL));
    vmstate_foreach(REG, collect, order);
    g_assert_cmpstr(order->str, ==,
                    "gic.0 iommu.0 iommu2.0 low.0 low2.0 low.1 ");
    g_assert_true(vmstate_find(REG, "low2", 0)->opaque == &state[2]);
    g_assert_null(vmstate_find(REG, "low2", 1));
    for (size_t i = 0; i < G_N_ELEMENTS(regs); i++) {
        vmstate_unregister(REG, &vmstate_sample, &state[i]);
    }
    g_string_truncate(order, 0);
    vmstate_foreach(REG, collect, order);
    g_assert_cmpstr(order->str, ==, "");
}

/* --- the devices ----------------------------------------------------------- */

static const VMStateEntry *registered(const char *idstr)
{
    const VMStateEntry *e = vmstate_find(REG, idstr, 0);

    g_assert_nonnull(e);
    return e;
}

static void test_serial(void)
{
    SerialState src = { 0x0c01, 0x05, 0xc7, 0x83, 0x0b, 0x5a }, dst = { 0 };
    g_autoptr(GByteArray) b = NULL;
    g_autoptr(GError) err = NULL;
    const VMStateDescription *vmsd;

    g_assert_true(serial_vmstate_register(mig, &src, NULL));
    g_assert_true(serial_vmstate_register(mig, &src, NULL));   /* re-init */
    vmsd = registered("serial")->vmsd;
    b = save(vmsd, &src, NULL);
    g_assert_cmpuint(b->len, ==, 7);
    g_assert_cmpint(load(b->data, b->len, true, vmsd, &dst, 3, NULL), ==, 0);
    g_assert_cmpmem(&src, sizeof(src), &dst, sizeof(dst));

    g_assert_cmpint(load(b->data, 3, false, vmsd, &dst, 3, &err), ==, -EIO);
    g_assert_cmpstr(err->message, ==,
                    "serial: field 'lcr': unexpected end of stream");
    g_clear_error(&err);
    b->data[2] = 0xff;                          /* ier */
    g_assert_cmpint(load(b->data, b->len, true, vmsd, &dst, 3, &err), ==,
                    -EINVAL);
    g_assert_cmpstr(err->message, ==, "serial: invalid register values "
                    "(ier 0xff, mcr 0xb)");
    vmstate_unregister(REG, vmsd, &src);
}

static void test_workload(void)
{
    WorkloadState src = { .ncpus = 3, .boots = 1 }, dst, other = { .ncpus = 2 };
    g_autoptr(GByteArray) b = NULL;
    g_autoptr(GError) err = NULL;
    const VMStateDescription *vmsd;

    for (unsigned i = 0; i < src.ncpus; i++) {
        src.cpu[i] = (WorkloadCPUState) { 100 + i, 200 + i, 300 + i, i,
                                          i == 2 };
    }
    g_assert_true(workload_vmstate_register(mig, &src, NULL));
    vmsd = registered("ferry-workload")->vmsd;
    b = save(vmsd, &src, NULL);
    g_assert_cmpuint(b->len, ==, 4 + 8 + 3 * 5 * 8);
    memset(&dst, 0, sizeof(dst));
    g_assert_cmpint(load(b->data, b->len, true, vmsd, &dst, 2, NULL), ==, 0);
    g_assert_cmpmem(&src, sizeof(src), &dst, sizeof(dst));

    /* Now the machine has 2 vCPUs. */
    vmstate_unregister(REG, vmsd, &src);
    g_assert_true(workload_vmstate_register(mig, &other, NULL));
    g_assert_cmpint(load(b->data, b->len, true, vmsd, &other, 2, &err), ==,
                    -EINVAL);
    g_assert_cmpstr(err->message, ==, "ferry-workload: the incoming state "
                    "is for 3 vCPU(s), this machine has 2");
    g_clear_error(&err);

    b->data[3] = WL_MAX_CPUS + 1;               /* be32 ncpus */
    g_assert_cmpint(load(b->data, b->len, true, vmsd, &dst, 2, &err), ==,
                    -EINVAL);
    g_assert_cmpstr(err->message, ==, "ferry-workload: field 'cpu': 65 "
                    "elements do not fit in 64");
    vmstate_unregister(REG, vmsd, &other);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmstate/round-trip", test_round_trip);
    g_test_add_func("/vmstate/subsection", test_subsection);
    g_test_add_func("/vmstate/older-version", test_older_version);
    g_test_add_func("/vmstate/version-refused", test_version_refused);
    g_test_add_func("/vmstate/truncated", test_truncated);
    g_test_add_func("/vmstate/nested-error-path", test_nested_error_path);
    g_test_add_func("/vmstate/bad-values", test_bad_values);
    g_test_add_func("/vmstate/bad-subsection", test_bad_subsection);
    g_test_add_func("/vmstate/vmdesc", test_vmdesc);
    g_test_add_func("/vmstate/registry", test_registry);
    g_test_add_func("/vmstate/serial", test_serial);
    g_test_add_func("/vmstate/workload", test_workload);
    mig = mig_test_new(NULL, NULL);
    int ret = g_test_run();
    ferry_mig_free(mig);
    return ret;
}
