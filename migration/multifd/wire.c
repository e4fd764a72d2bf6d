/*
 * Encoding and validation of multifd's init message and packet headers
 * (wire.h).  The decoders are the first code to see bytes from the
 * network: every count is bounded before it sizes anything.
 */
#include <string.h>
#include "migration/multifd/wire.h"
#include "util/error.h"

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, v >> 32);
    put_be32(p + 4, (uint32_t)v);
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
    return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

void multifd_init_encode(const MultiFDInit *init,
                         uint8_t buf[MULTIFD_INIT_SIZE])
{
    memset(buf, 0, MULTIFD_INIT_SIZE);
    put_be32(buf, MULTIFD_MAGIC);
    put_be32(buf + 4, MULTIFD_VERSION);
    memcpy(buf + 8, init->uuid, 16);
    buf[24] = init->id;
}

bool multifd_init_decode(const uint8_t buf[MULTIFD_INIT_SIZE],
                         const uint8_t uuid[16], unsigned channels,
                         MultiFDInit *init, GError **errp)
{
    uint32_t magic = get_be32(buf), version = get_be32(buf + 4);

    if (magic != MULTIFD_MAGIC) {
        error_setg(errp, "multifd: channel magic 0x%08x is not 0x%08x",
                   magic, MULTIFD_MAGIC);
        return false;
    }
    if (version != MULTIFD_VERSION) {
        error_setg(errp, "multifd: channel version %u is not supported "
                   "(%u)", version, MULTIFD_VERSION);
        return false;
    }
    memcpy(init->uuid, buf + 8, 16);
    init->id = buf[24];
    if (memcmp(init->uuid, uuid, 16)) {
        error_setg(errp, "multifd: channel %u belongs to another VM (uuid "
                   "mismatch)", init->id);
        return false;
    }
    if (init->id >= channels) {
        error_setg(errp, "multifd: channel id %u is out of range: "
                   "multifd-channels is %u here", init->id, channels);
        return false;
    }
    return true;
}

void multifd_packet_encode(const MultiFDPacket *p,
                           uint8_t buf[MULTIFD_HDR_SIZE])
{
    unsigned n = p->normal_pages + p->zero_pages;

    memset(buf, 0, MULTIFD_HDR_SIZE);
    put_be32(buf, MULTIFD_MAGIC);
    put_be32(buf + 4, MULTIFD_VERSION);
    put_be32(buf + 8, p->flags);
    put_be32(buf + 12, MULTIFD_PAGES_PER_PACKET);
    put_be32(buf + 16, p->normal_pages);
    put_be32(buf + 20, p->next_packet_size);
    put_be64(buf + 24, p->packet_num);
    put_be32(buf + 32, p->zero_pages);
    /* 36..63 reserved */
    memcpy(buf + 64, p->block, strnlen(p->block, MULTIFD_BLOCK_NAME_SIZE - 1));
    for (unsigned i = 0; i < n && i < MULTIFD_PAGES_PER_PACKET; i++) {
        put_be64(buf + MULTIFD_HDR_FIXED_SIZE + 8 * i, p->offset[i]);
    }
}

const char *multifd_compress_name(uint32_t flag)
{
    switch (flag & MULTIFD_FLAG_COMPRESS_MASK) {
    case MULTIFD_FLAG_NOCOMP:
        return "none";
    case MULTIFD_FLAG_ZLIB:
        return "zlib";
    case MULTIFD_FLAG_ZSTD:
        return "zstd";
    }
    return "unknown";
}

static bool check_payload(const MultiFDPacket *p, uint32_t compress_flag,
                          uint32_t max_payload, GError **errp)
{
    uint64_t raw = (uint64_t)p->normal_pages * MULTIFD_PAGE_SIZE;

    if (compress_flag == MULTIFD_FLAG_NOCOMP && p->next_packet_size != raw) {
        error_setg(errp, "multifd: packet %" G_GUINT64_FORMAT " announces "
                   "%u payload bytes for %u pages", p->packet_num,
                   p->next_packet_size, p->normal_pages);
        return false;
    }
    if (compress_flag != MULTIFD_FLAG_NOCOMP &&
        (p->next_packet_size > max_payload ||
         (p->normal_pages == 0) != (p->next_packet_size == 0))) {
        error_setg(errp, "multifd: packet %" G_GUINT64_FORMAT " announces "
                   "%u compressed bytes for %u pages (at most %u)",
                   p->packet_num, p->next_packet_size, p->normal_pages,
                   max_payload);
        return false;
    }
    return true;
}

bool multifd_packet_decode(const uint8_t buf[MULTIFD_HDR_SIZE],
                           uint32_t compress_flag, uint32_t max_payload,
                           MultiFDPacket *p, GError **errp)
{
    uint32_t magic = get_be32(buf), version = get_be32(buf + 4);
    uint32_t alloc = get_be32(buf + 12);

    if (magic != MULTIFD_MAGIC || version != MULTIFD_VERSION) {
        error_setg(errp, "multifd: bad packet header (magic 0x%08x, "
                   "version %u)", magic, version);
        return false;
    }
    p->flags = get_be32(buf + 8);
    p->normal_pages = get_be32(buf + 16);
    p->next_packet_size = get_be32(buf + 20);
    p->packet_num = get_be64(buf + 24);
    p->zero_pages = get_be32(buf + 32);
    if (alloc > MULTIFD_PAGES_PER_PACKET) {
        error_setg(errp, "multifd: packet of %u pages, at most %u expected",
                   alloc, MULTIFD_PAGES_PER_PACKET);
        return false;
    }
    if (p->normal_pages > alloc || p->zero_pages > alloc - p->normal_pages) {
        error_setg(errp, "multifd: packet %" G_GUINT64_FORMAT " holds %u "
                   "normal and %u zero pages, more than its %u",
                   p->packet_num, p->normal_pages, p->zero_pages, alloc);
        return false;
    }
    if ((p->flags & MULTIFD_FLAG_COMPRESS_MASK) != compress_flag) {
        error_setg(errp, "multifd: packet compressed with %s, but "
                   "multifd-compression is %s here",
                   multifd_compress_name(p->flags),
                   multifd_compress_name(compress_flag));
        return false;
    }
    if (!check_payload(p, compress_flag, max_payload, errp)) {
        return false;
    }
    memcpy(p->block, buf + 64, MULTIFD_BLOCK_NAME_SIZE);
    if (!memchr(p->block, 0, MULTIFD_BLOCK_NAME_SIZE)) {
        error_setg(errp, "multifd: packet %" G_GUINT64_FORMAT "'s block "
                   "name is not NUL-terminated", p->packet_num);
        return false;
    }
    for (unsigned i = 0; i < p->normal_pages + p->zero_pages; i++) {
        p->offset[i] = get_be64(buf + MULTIFD_HDR_FIXED_SIZE + 8 * i);
    }
    return true;
}

bool multifd_packet_check_offsets(const MultiFDPacket *p,
                                  uint64_t block_size, GError **errp)
{
    for (unsigned i = 0; i < p->normal_pages + p->zero_pages; i++) {
        uint64_t off = p->offset[i];

        if (off % MULTIFD_PAGE_SIZE || block_size < MULTIFD_PAGE_SIZE ||
            off > block_size - MULTIFD_PAGE_SIZE) {
            error_setg(errp, "multifd: packet %" G_GUINT64_FORMAT ": page "
                       "offset 0x%" G_GINT64_MODIFIER "x is outside RAM "
                       "block '%s' (%" G_GUINT64_FORMAT " bytes)",
                       p->packet_num, off, p->block, block_size);
            return false;
        }
    }
    return true;
}
