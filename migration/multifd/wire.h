/*
 * multifd's wire format (QEMU's migration/multifd.h, QEMU 9 layout): every
 * extra connection starts with an init message, then carries packets, each
 * a fixed-size header followed by its payload.  All integers big-endian.
 *
 *   init (64 bytes)     be32 magic 0x11223344, be32 version 1,
 *                       16 bytes uuid, u8 channel id, 39 bytes reserved
 *   packet header       be32 magic, be32 version, be32 flags,
 *   (320 + 8 * 128)     be32 pages_alloc, be32 normal_pages,
 *                       be32 next_packet_size, be64 packet_num,
 *                       be32 zero_pages, 28 bytes reserved,
 *                       256 bytes block name (NUL-terminated),
 *                       be64 offset[pages_alloc]: the normal pages' offsets
 *                       in the block, then the zero pages'
 *   payload             next_packet_size bytes: the normal pages in order
 *                       (or, compressed, one buffer that inflates to them)
 *
 * flags: MULTIFD_FLAG_SYNC ends a dirty-bitmap round on this channel; bits
 * 1-4 name the compression.  A packet holds pages of one block only.
 */
#ifndef FERRY_MIGRATION_MULTIFD_WIRE_H
#define FERRY_MIGRATION_MULTIFD_WIRE_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#define MULTIFD_MAGIC               0x11223344U
#define MULTIFD_VERSION             1
#define MULTIFD_FLAG_SYNC           (1U << 0)
#define MULTIFD_FLAG_COMPRESS_MASK  (0xfU << 1)
#define MULTIFD_FLAG_NOCOMP         (0U << 1)
#define MULTIFD_FLAG_ZLIB           (1U << 1)
#define MULTIFD_FLAG_ZSTD           (2U << 1)

#define MULTIFD_MAX_CHANNELS        255
/* QEMU's MULTIFD_PACKET_SIZE (512 KiB) in 4 KiB pages */
#define MULTIFD_PAGES_PER_PACKET    128
#define MULTIFD_PAGE_SIZE           4096
#define MULTIFD_INIT_SIZE           64
#define MULTIFD_HDR_FIXED_SIZE      320
#define MULTIFD_HDR_SIZE            (MULTIFD_HDR_FIXED_SIZE + \
                                     8 * MULTIFD_PAGES_PER_PACKET)
#define MULTIFD_BLOCK_NAME_SIZE     256

typedef struct MultiFDInit {
    uint8_t uuid[16];
    uint8_t id;
} MultiFDInit;

typedef struct MultiFDPacket {
    uint32_t flags;
    uint32_t normal_pages;
    uint32_t zero_pages;
    uint32_t next_packet_size;      /* payload bytes after the header */
    uint64_t packet_num;
    char block[MULTIFD_BLOCK_NAME_SIZE];
    uint64_t offset[MULTIFD_PAGES_PER_PACKET];  /* normal, then zero */
} MultiFDPacket;

void multifd_init_encode(const MultiFDInit *init,
                         uint8_t buf[MULTIFD_INIT_SIZE]);
/*
 * Checks the version, the uuid (@uuid) and that the id is below
 * @channels; the magic was checked by whoever told the channel apart.
 */
bool multifd_init_decode(const uint8_t buf[MULTIFD_INIT_SIZE],
                         const uint8_t uuid[16], unsigned channels,
                         MultiFDInit *init, GError **errp);

void multifd_packet_encode(const MultiFDPacket *p,
                           uint8_t buf[MULTIFD_HDR_SIZE]);
/*
 * Untrusted input: checks magic, version, the page counts against the
 * packet's capacity, the block name's NUL, that the payload size fits
 * the pages (exactly for uncompressed packets, at most @max_payload for
 * compressed ones), and that flags name @compress_flag.  Offsets are
 * checked against the block with multifd_packet_check_offsets().
 */
bool multifd_packet_decode(const uint8_t buf[MULTIFD_HDR_SIZE],
                           uint32_t compress_flag, uint32_t max_payload,
                           MultiFDPacket *p, GError **errp);
/* Every offset page-aligned and inside a block of @block_size bytes. */
bool multifd_packet_check_offsets(const MultiFDPacket *p,
                                  uint64_t block_size, GError **errp);
const char *multifd_compress_name(uint32_t flag);

#endif
