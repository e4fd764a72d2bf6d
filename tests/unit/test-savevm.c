/*
 * The migration stream end to end in one process: RAM and a device are
 * saved to a file, scrambled, loaded back and compared byte for byte.
 * The test embeds the migration core the way another VMM would: its own
 * FerryMigVMM over plain memory, nothing from ferry's system/.
 * Then every class of bad stream (truncated anywhere, wrong magic,
 * version, machine, unknown section, corrupt footer, oversized length,
 * mismatched RAM size, random byte flips) must fail cleanly with a
 * message, never crash or hang.
 */
#include <string.h>
#include <unistd.h>
#include "migration/transport/channel.h"
#include "migration/format/qemu-file.h"
#include "migration/ram/ram.h"
#include "migration/format/savevm.h"
#include "migration/format/vmstate-int.h"
#include "migration/context.h"
#include "mig-test-vmm.h"
#include "util/bitmap.h"

#define RAM_SIZE (4u << 20)

typedef struct TestDev {
    uint32_t a;
    uint64_t b[4];
} TestDev;

static const VMStateDescription test_dev_vmsd = {
    .name = "test-dev",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(a, TestDev),
        VMSTATE_UINT64_ARRAY(b, TestDev, 4),
        VMSTATE_END_OF_LIST()
    },
};

static TestDev dev;
static char *dir;
static unsigned pings;
static FerryMig *mig;

/* --- a minimal VMM: one RAM block in plain memory ------------------------ */

static struct {
    uint8_t *host;
    unsigned long dirty[BITS_TO_LONGS(RAM_SIZE / 4096)];
} ram;

static unsigned test_block_count(void *opaque) { return 1; }

static void test_block_get(void *opaque, unsigned index, MigRAMBlock *out)
{
    *out = (MigRAMBlock){ "pc.ram", ram.host, RAM_SIZE, -1 };
}

static bool test_log_start(void *opaque, GError **errp)
{
    memset(ram.dirty, 0, sizeof(ram.dirty));
    return true;
}

static long test_log_sync(void *opaque, unsigned index,
                          unsigned long *bitmap)
{
    bitmap_steal_or(bitmap, ram.dirty, RAM_SIZE / 4096);
    return (long)bitmap_count(bitmap, RAM_SIZE / 4096);
}

static void test_log_stop(void *opaque) { }

/* The "guest" writes through here, so the dirty log sees it. */
static void guest_write(uint64_t offset, const void *data, size_t len)
{
    memcpy(ram.host + offset, data, len);
    bitmap_set_atomic(ram.dirty, offset / 4096);
}

static const FerryMigVMM test_vmm = {
    .ram_block_count = test_block_count,
    .ram_block_get = test_block_get,
    .dirty_log_start = test_log_start,
    .dirty_log_sync = test_log_sync,
    .dirty_log_stop = test_log_stop,
};

static void fill_ram(void)
{
    for (uint64_t p = 0; p < RAM_SIZE / 4096; p++) {
        uint64_t *w = (uint64_t *)(ram.host + p * 4096);
        for (int i = 0; i < 512; i++) {
            w[i] = p % 3 ? p * 0x9e3779b97f4a7c15ULL + (uint64_t)i : 0;
        }
    }
}

static char *stream_path(const char *name)
{
    return g_build_filename(dir, name, NULL);
}

static void save_stream(const char *path)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *uri = g_strdup_printf("file:%s", path);
    MigChannel *ch = mig_channel_connect(uri, NULL, &err);
    g_assert_no_error(err);
    QEMUFile *f = qemu_file_new_output(ch);
    mig_channel_unref(ch);
    uint8_t ping[4] = { 0, 0, 0, 7 };
    int ret;

    savevm_put_header(f);
    savevm_put_command(f, MIG_CMD_PING, 4, ping);
    g_assert_cmpint(savevm_setup(&mig->saved, f, &err), ==, 0);
    while ((ret = savevm_iterate(&mig->saved, f)) == 0) {
    }
    g_assert_cmpint(ret, ==, 1);
    /* Pages written after they were sent must go again. */
    uint64_t marker = 0x1122334455667788ULL;
    guest_write(5 * 4096 + 8, &marker, sizeof(marker));
    guest_write(RAM_SIZE - 4096, &marker, sizeof(marker));
    g_assert_cmpuint(savevm_pending(&mig->saved, true), ==, 2 * 4096);
    while ((ret = savevm_iterate(&mig->saved, f)) == 0) {
    }
    g_assert_cmpint(savevm_complete(&mig->saved, f, &err), ==, 0);
    g_assert_no_error(err);
    savevm_cleanup(&mig->saved);
    g_assert_cmpint(qemu_fclose(f, &err), ==, 0);
}

static int on_command(uint16_t cmd, const uint8_t *data, uint16_t len,
                      void *opaque, GError **errp)
{
    if (cmd == MIG_CMD_PING && len == 4) {
        pings++;
    }
    return 0;
}

static int load_stream(const char *path, GError **errp)
{
    g_autofree char *uri = g_strdup_printf("file:%s", path);
    MigChannel *ch = mig_file_open(uri, false, errp);
    if (!ch) {
        return -1;
    }
    QEMUFile *f = qemu_file_new_input(ch);
    mig_channel_unref(ch);
    int ret = savevm_load(&mig->saved, f, on_command, NULL, errp);
    qemu_fclose(f, NULL);
    return ret;
}

static void setup(void)
{
    g_autoptr(GError) err = NULL;

    dir = g_dir_make_tmp("ferry-savevm-XXXXXX", &err);
    ram.host = g_malloc(RAM_SIZE);
    mig = mig_test_new(&test_vmm, NULL);
    g_assert_true(ferry_mig_register_device(mig, "test-dev", 0,
                                            &test_dev_vmsd, &dev,
                                            MIG_PRI_DEFAULT, &err));
    fill_ram();
    dev = (TestDev){ 42, { 1, 2, 3, UINT64_MAX } };
    g_autofree char *path = stream_path("good");
    save_stream(path);
}

static void test_round_trip(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *path = stream_path("good");
    g_autofree char *before = g_compute_checksum_for_data(G_CHECKSUM_SHA256,
                                                         ram.host, RAM_SIZE);
    TestDev saved = dev;

    memset(ram.host, 0xaa, RAM_SIZE);
    memset(&dev, 0, sizeof(dev));
    pings = 0;
    int ret = load_stream(path, &err);
    g_assert_no_error(err);
    g_assert_cmpint(ret, ==, 0);
    g_autofree char *after = g_compute_checksum_for_data(G_CHECKSUM_SHA256,
                                                         ram.host, RAM_SIZE);
    g_assert_cmpstr(before, ==, after);
    g_assert_cmpmem(&dev, sizeof(dev), &saved, sizeof(saved));
    g_assert_cmpuint(pings, ==, 1);
}

static GBytes *good_bytes(void)
{
    g_autofree char *path = stream_path("good");
    gchar *data;
    gsize len;

    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    return g_bytes_new_take(data, len);
}

/* Loads @data; it must fail with a message containing @word (if set). */
static void expect_failure(const uint8_t *data, gsize len, const char *word)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *path = stream_path("bad");

    g_assert_true(g_file_set_contents(path, (const char *)data, (gssize)len, NULL));
    g_assert_cmpint(load_stream(path, &err), <, 0);
    g_assert_nonnull(err);
    if (word && !strstr(err->message, word)) {
        g_error("expected '%s' in: %s", word, err->message);
    }
}

static gsize find(const uint8_t *d, gsize len, const char *needle);

/* Offset of the EOF byte: the vmdesc (type, be32 length, JSON) follows. */
static gsize eof_offset(const uint8_t *d, gsize len)
{
    return find(d, len, "{\"page_size\"") - 4 - 1 - 1;
}

static void test_truncated_everywhere(void)
{
    g_autoptr(GBytes) good = good_bytes();
    gsize len;
    const uint8_t *data = g_bytes_get_data(good, &len);
    gsize eof = eof_offset(data, len);

    g_assert_cmphex(data[eof], ==, QEMU_VM_EOF);
    /* Every byte of the headers and first pages, then 64 cuts further in,
     * and the last bytes before EOF: all must fail. */
    for (gsize cut = 0; cut <= eof; cut += cut < 4096 ? 1 : len / 64 + 1) {
        expect_failure(data, cut, NULL);
    }
    for (gsize cut = eof - 64; cut <= eof; cut++) {
        expect_failure(data, cut, NULL);
    }
}

/* The description after EOF is for tools: a stream cut inside it loads. */
static void test_cut_in_description_loads(void)
{
    g_autoptr(GBytes) good = good_bytes();
    gsize len;
    const uint8_t *data = g_bytes_get_data(good, &len);
    g_autofree char *path = stream_path("short-vmdesc");

    for (gsize cut = eof_offset(data, len) + 1; cut < len; cut += 97) {
        g_autoptr(GError) err = NULL;
        g_assert_true(g_file_set_contents(path, (const char *)data,
                                          (gssize)cut, NULL));
        g_assert_cmpint(load_stream(path, &err), ==, 0);
        g_assert_no_error(err);
    }
}

static void test_bad_headers(void)
{
    g_autoptr(GBytes) good = good_bytes();
    gsize len;
    const uint8_t *orig = g_bytes_get_data(good, &len);
    g_autofree uint8_t *d = g_memdup2(orig, len);
    size_t name_at = 4 + 4 + 1 + 4;

    d[0] ^= 0xff;
    expect_failure(d, len, "magic");
    d[0] ^= 0xff;
    d[7] = 2;
    expect_failure(d, len, "version");
    d[7] = 3;
    d[name_at] ^= 0x20;
    expect_failure(d, len, "machine type");
    d[name_at] ^= 0x20;
    d[9] = 0xff;                        /* configuration length */
    expect_failure(d, len, "too long");
}

static gsize find(const uint8_t *d, gsize len, const char *needle)
{
    size_t n = strlen(needle);

    for (gsize i = 0; i + n <= len; i++) {
        if (!memcmp(d + i, needle, n)) {
            return i;
        }
    }
    g_assert_not_reached();
}

static void test_bad_sections(void)
{
    g_autoptr(GBytes) good = good_bytes();
    gsize len;
    const uint8_t *orig = g_bytes_get_data(good, &len);
    g_autofree uint8_t *d = g_memdup2(orig, len);

    /* The first section is START "ram": rename it. */
    gsize ram_name = find(d, len, "\003ram") + 1;
    d[ram_name + 2] = 'x';
    expect_failure(d, len, "unknown section 'rax'");
    memcpy(d, orig, len);
    /* The device section's footer marker. */
    gsize devname = find(d, len, "\010test-dev");
    gsize footer = devname + 1 + 8 + 4 + 4 + 4 + 8 * 4;
    g_assert_cmphex(d[footer], ==, QEMU_VM_SECTION_FOOTER);
    d[footer] = 0x55;
    expect_failure(d, len, "footer");
    memcpy(d, orig, len);
    /* A section type that does not exist, right after the header. */
    gsize first = 4 + 4 + 1 + 4 + strlen(SAVEVM_MACHINE_NAME);
    d[first] = 0x42;
    expect_failure(d, len, "unknown section type");
    memcpy(d, orig, len);
    /* RAM block size in the MEM_SIZE list (be64 after "\006pc.ram"). */
    gsize blk = find(d, len, "\006pc.ram") + 7;
    d[blk + 4] ^= 0x01;
    expect_failure(d, len, "pc.ram");
}

/*
 * A stream that starts the same entry again under a new section id is
 * refused at once: otherwise every such section would grow the
 * destination's section table, a stream of them without end.
 */
static void test_section_twice(void)
{
    g_autoptr(GBytes) good = good_bytes();
    gsize len;
    const uint8_t *orig = g_bytes_get_data(good, &len);
    /* type, be32 id, counted name, be32 instance, be32 version, the
     * fields (u32 + 4 x u64), footer (marker, be32 id) */
    gsize start = find(orig, len, "\010test-dev") - 4 - 1;
    gsize size = 1 + 4 + 9 + 4 + 4 + 4 + 8 * 4 + 1 + 4;
    g_autoptr(GByteArray) d = g_byte_array_new();

    g_assert_cmphex(orig[start], ==, QEMU_VM_SECTION_FULL);
    g_byte_array_append(d, orig, start + size);
    g_byte_array_append(d, orig + start, size);
    /* the copy's ids, in the header and the footer: another section id */
    d->data[start + size + 4] ^= 0x40;
    d->data[start + 2 * size - 1] ^= 0x40;
    g_byte_array_append(d, orig + start + size, len - start - size);
    expect_failure(d->data, d->len, "started twice");
}

/*
 * A page before the RAM block list (MEM_SIZE), in a context that never
 * had one: refused, where the destination once marked it in a received
 * bitmap that did not exist yet (found by fuzz-stream-load; the input is
 * tests/fuzz/regress/stream-load/page-before-block-list).
 */
static void test_page_before_block_list(void)
{
    static const uint8_t stream[] =
        "QEVM\0\0\0\3\7\0\0\0\12ferry-pc-1"
        "\1\0\0\0\0\3ram\0\0\0\0\0\0\0\4"   /* START "ram" v4 */
        "\0\0\0\0\0\0\0\2\6pc.ram\42";         /* ZERO page at 0 */
    g_autoptr(GError) err = NULL;
    g_autofree char *path = stream_path("page-first");
    FerryMig *saved = mig;

    mig = mig_test_new(&test_vmm, NULL);
    g_assert_true(g_file_set_contents(path, (const char *)stream,
                                      sizeof(stream) - 1, NULL));
    g_assert_cmpint(load_stream(path, &err), <, 0);
    g_assert_nonnull(strstr(err->message, "before the RAM block list"));
    ferry_mig_free(mig);
    mig = saved;
}

static void test_random_flips(void)
{
    g_autoptr(GBytes) good = good_bytes();
    gsize len;
    const uint8_t *orig = g_bytes_get_data(good, &len);
    g_autofree uint8_t *d = g_memdup2(orig, len);
    g_autofree char *path = stream_path("flip");
    GRand *rng = g_rand_new_with_seed(20261122);
    unsigned failed = 0;

    for (int i = 0; i < 300; i++) {
        g_autoptr(GError) err = NULL;
        gsize at = (gsize)g_rand_int_range(rng, 0, (gint32)MIN(len, 1u << 30));
        /* Most flips land in page data; aim half of them at the headers. */
        if (i % 2) {
            at %= 4096;
        }
        d[at] ^= (uint8_t)g_rand_int_range(rng, 1, 256);
        g_assert_true(g_file_set_contents(path, (const char *)d, (gssize)len, NULL));
        if (load_stream(path, &err) < 0) {
            g_assert_nonnull(err);
            failed++;
        }
        d[at] = orig[at];
    }
    g_rand_free(rng);
    g_assert_cmpuint(failed, >, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    setup();
    g_test_add_func("/savevm/round-trip", test_round_trip);
    g_test_add_func("/savevm/truncated-everywhere", test_truncated_everywhere);
    g_test_add_func("/savevm/cut-in-description-loads",
                    test_cut_in_description_loads);
    g_test_add_func("/savevm/bad-headers", test_bad_headers);
    g_test_add_func("/savevm/bad-sections", test_bad_sections);
    g_test_add_func("/savevm/section-twice", test_section_twice);
    g_test_add_func("/savevm/page-before-block-list",
                    test_page_before_block_list);
    g_test_add_func("/savevm/random-flips", test_random_flips);
    int ret = g_test_run();
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
    (void)!system(cmd);
    return ret;
}
