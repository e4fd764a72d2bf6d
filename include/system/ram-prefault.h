#ifndef FERRY_SYSTEM_RAM_PREFAULT_H
#define FERRY_SYSTEM_RAM_PREFAULT_H

/*
 * A destination pre-faults its guest RAM in the background while it waits
 * for (and loads) the stream.  On this kind of host the first touch of
 * fresh memory (the kernel zeroing each page) is what bounds an incoming
 * migration; done ahead of the stream it leaves the critical path.  Only
 * MADV_POPULATE_WRITE is used, which allocates without writing, so it can
 * race with the loader.  Costs RSS for pages a mostly-zero guest would
 * never have received.
 */
void ram_prefault_start(void);
/* Stops and joins the threads (idempotent). */
void ram_prefault_stop(void);

#endif
