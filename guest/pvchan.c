/* Ring 3: the pvchannel driver (see guest/pvchan.h). */
#include "guest/kernel.h"
#include "guest/pvchan.h"

#define PAGE 4096ull

static uint64_t ring_bytes(uint32_t size)
{
    return (PVCHAN_RING_BYTES(size) + PAGE - 1) & ~(PAGE - 1);
}

uint64_t pvchan_mem_bytes(uint32_t size)
{
    return 2 * ring_bytes(size);
}

static bool name_is(uint64_t mmio, const char *name)
{
    char got[PVCHAN_NAME_MAX + 1];
    size_t n = strlen(name);

    for (unsigned i = 0; i < PVCHAN_NAME_MAX; i += 8) {
        uint64_t v = mmio_read64(mmio + PVCHAN_REG_NAME + i);
        memcpy(got + i, &v, sizeof(v));
    }
    got[PVCHAN_NAME_MAX] = 0;
    return n <= PVCHAN_NAME_MAX && !memcmp(got, name, n) &&
           (n == PVCHAN_NAME_MAX || got[n] == 0);
}

uint64_t pvchan_find(const char *name)
{
    for (unsigned i = 0; i < PVCHAN_MAX_DEVS; i++) {
        uint64_t mmio = PVCHAN_DEV_ADDR(i);

        if (mmio_read64(mmio + PVCHAN_REG_ID) == PVCHAN_DEV_MAGIC &&
            name_is(mmio, name)) {
            return mmio;
        }
    }
    return 0;
}

bool pvchan_open(struct pvchan *c, uint64_t mmio, void *mem, uint32_t size)
{
    uint8_t *p = mem;

    memset(p, 0, pvchan_mem_bytes(size));
    c->mmio = mmio;
    c->size = size;
    c->tx = (struct pvchan_ring_hdr *)p;
    c->txd = p + sizeof(struct pvchan_ring_hdr);
    c->rx = (struct pvchan_ring_hdr *)(p + ring_bytes(size));
    c->rxd = (uint8_t *)c->rx + sizeof(struct pvchan_ring_hdr);
    mmio_write64(mmio + PVCHAN_REG_CONTROL, 0);
    mmio_write64(mmio + PVCHAN_REG_G2H_GPA, (uint64_t)c->tx);
    mmio_write64(mmio + PVCHAN_REG_G2H_SIZE, size);
    mmio_write64(mmio + PVCHAN_REG_H2G_GPA, (uint64_t)c->rx);
    mmio_write64(mmio + PVCHAN_REG_H2G_SIZE, size);
    mmio_write64(mmio + PVCHAN_REG_CONTROL, PVCHAN_CTL_ENABLE);
    return (pvchan_status(c) & (PVCHAN_STATUS_ENABLED | PVCHAN_STATUS_ERROR))
           == PVCHAN_STATUS_ENABLED;
}

uint32_t pvchan_tx_room(const struct pvchan *c)
{
    uint32_t cons = __atomic_load_n(&c->tx->cons, __ATOMIC_ACQUIRE);

    return c->size - (c->tx->prod - cons);
}

void pvchan_tx(struct pvchan *c, const void *buf, uint32_t len)
{
    const uint8_t *b = buf;
    uint32_t prod = c->tx->prod;

    for (uint32_t i = 0; i < len; i++) {
        c->txd[(prod + i) % c->size] = b[i];
    }
    __atomic_store_n(&c->tx->prod, prod + len, __ATOMIC_RELEASE);
}

uint32_t pvchan_rx(struct pvchan *c, void *buf, uint32_t max)
{
    uint32_t prod = __atomic_load_n(&c->rx->prod, __ATOMIC_ACQUIRE);
    uint32_t cons = c->rx->cons, n = prod - cons;
    uint8_t *b = buf;

    if (n > max) {
        n = max;
    }
    for (uint32_t i = 0; i < n; i++) {
        b[i] = c->rxd[(cons + i) % c->size];
    }
    __atomic_store_n(&c->rx->cons, cons + n, __ATOMIC_RELEASE);
    return n;
}

void pvchan_notify(struct pvchan *c)
{
    mmio_write64(c->mmio + PVCHAN_REG_DOORBELL, 1);
}

uint64_t pvchan_status(const struct pvchan *c)
{
    return mmio_read64(c->mmio + PVCHAN_REG_STATUS);
}
