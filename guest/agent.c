/*
 * Ring 3: the guest agent's protocol plumbing (guest/agent.h).
 *
 * Requests are JSON objects, one per line: {"execute": CMD, "arguments":
 * {...}, "id": ID}.  A reply is one line {"return": ...} or {"error":
 * {...}}, carrying the request's id.  A 0xFF byte from the host resets the
 * line parser (QEMU's rule), so a host that lost track mid-line can start
 * clean; guest-sync-delimited's reply starts with a 0xFF byte, so the host
 * can skip whatever came before it.
 *
 * Exactly once: every request with an id enters the id table, and a
 * repeated id is answered from it (a finished request's stored reply) or
 * not at all (one still running answers when it is done).  A host that
 * lost a reply in a migration sends the request again and gets it
 * without the command running twice.  The table lives in guest RAM, so it
 * moves with the guest.  Entries are reused oldest first; a running one
 * is never reused.
 *
 * Output goes to a queue first and into the ring as room allows, and
 * input is read only while the queue has room for the replies a chunk of
 * input can ask for: a host that does not read (none connected, or a
 * migration's blackout) stops the agent reading, never loses a reply.
 */
#include "guest/agent-int.h"
#include "guest/kernel.h"

#define PAGE      4096ull
/* A chunk of input holds at most one request with a full-size reply, or
 * a few junk lines with short error replies: the queue needs that much
 * room before the agent reads one. */
#define IN_CHUNK  16u
#define OUT_SLACK (2u * (AGENT_REPLY_MAX + 8u) + 8u * 160u)

static struct agent *ag;

static void alog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void alog(const char *fmt, ...)
{
    char line[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    ag->log(ag->log_opaque, line);
}

/* --- output --------------------------------------------------------------- */

static void outq_put(struct agent *a, const char *s, uint32_t len)
{
    for (uint32_t i = 0; i < len && a->outq_len < AGENT_OUTQ; i++) {
        a->outq[(a->outq_head + a->outq_len++) % AGENT_OUTQ] = s[i];
    }
}

/* Moves what fits from the queue into the ring; true if anything moved. */
static bool outq_flush(struct agent *a)
{
    uint32_t room = pvchan_tx_room(&a->ch), n = 0;
    char buf[256];

    while (a->outq_len && room) {
        uint32_t len = a->outq_len < room ? a->outq_len : room;

        if (len > sizeof(buf)) {
            len = sizeof(buf);
        }
        for (uint32_t i = 0; i < len; i++) {
            buf[i] = a->outq[(a->outq_head + i) % AGENT_OUTQ];
        }
        pvchan_tx(&a->ch, buf, len);
        a->outq_head = (a->outq_head + len) % AGENT_OUTQ;
        a->outq_len -= len;
        room -= len;
        n += len;
    }
    return n != 0;
}

/* --- the id table ------------------------------------------------------------ */

static struct id_entry *id_find(struct agent *a, struct jtok id)
{
    for (unsigned i = 0; i < AGENT_IDS; i++) {
        struct id_entry *e = &a->ids[i];

        if (e->state != ID_FREE && e->id_len == id.len &&
            !memcmp(e->id, id.p, id.len)) {
            return e;
        }
    }
    return 0;
}

/* A free entry, else the finished one that changed longest ago. */
static struct id_entry *id_claim(struct agent *a, struct jtok id)
{
    struct id_entry *best = 0;

    for (unsigned i = 0; i < AGENT_IDS; i++) {
        struct id_entry *e = &a->ids[i];

        if (e->state == ID_FREE) {
            best = e;
            break;
        }
        if (e->state == ID_DONE && (!best || e->seq < best->seq)) {
            best = e;
        }
    }
    if (best) {
        best->state = ID_RUNNING;
        best->id_len = id.len;
        memcpy(best->id, id.p, id.len);
        best->seq = ++a->seq;
        best->reply_len = 0;
    }
    return best;
}

/* --- replies ---------------------------------------------------------------- */

/* One reply line for @id (len 0: none) into @out; returns its length. */
static uint32_t format_reply(char *out, uint32_t size, bool error,
                             const char *body, struct jtok id)
{
    int n;

    if (error) {
        n = snprintf(out, size, "{\"error\": {\"class\": \"GenericError\", "
                     "\"desc\": \"%s\"}", body);
    } else {
        n = snprintf(out, size, "{\"return\": %s", body);
    }
    if (n > 0 && (uint32_t)n < size && id.len) {
        n += snprintf(out + n, size - (uint32_t)n, ", \"id\": %.*s",
                      (int)id.len, id.p);
    }
    if (n > 0 && (uint32_t)n + 2 < size) {
        out[n++] = '}';
        out[n++] = '\n';
        return (uint32_t)n;
    }
    return (uint32_t)snprintf(out, size, "{\"error\": {\"class\": "
                              "\"GenericError\", \"desc\": \"reply too "
                              "large\"}}\n");
}

/* Queues the reply and, for a request with an id, remembers it. */
static void reply(struct agent *a, bool error, const char *body,
                  struct jtok id)
{
    char line[AGENT_REPLY_MAX];
    uint32_t len = format_reply(line, sizeof(line), error, body, id);
    struct id_entry *e = id.len ? id_find(a, id) : 0;

    if (e) {
        memcpy(e->reply, line, len);
        e->reply_len = len;
        e->state = ID_DONE;
        e->seq = ++a->seq;
    }
    outq_put(a, line, len);
}

void agent_complete(struct agent *a, struct jtok id, const char *ret)
{
    reply(a, false, ret, id);
}

/* --- requests ---------------------------------------------------------------- */

static void handle_request(struct agent *a, struct jtok req)
{
    char body[AGENT_REPLY_MAX];
    struct jtok cmd, args = { 0, 0 }, id = { 0, 0 };
    struct id_entry *e;
    enum cmd_result r;

    if (!json_member(req, "execute", &cmd)) {
        reply(a, true, "expected {\"execute\": COMMAND, ...}", id);
        return;
    }
    json_member(req, "arguments", &args);
    if (json_member(req, "id", &id) && id.len > AGENT_ID_MAX) {
        id.len = 0;
        reply(a, true, "id too long", id);
        return;
    }
    a->requests++;
    if (id.len && (e = id_find(a, id))) {
        if (e->state == ID_DONE) {
            a->replays++;
            outq_put(a, e->reply, e->reply_len);
        }
        return;         /* running: it answers when it is done */
    }
    if (id.len && !id_claim(a, id)) {
        reply(a, true, "too many requests in flight", (struct jtok){ 0, 0 });
        return;
    }
    r = agent_run(a, cmd, args, id, body, sizeof(body));
    if (r == CMD_SYNC_DELIMITED) {
        outq_put(a, "\xff", 1);
    }
    if (r != CMD_LATER) {
        reply(a, r == CMD_ERROR, body, id);
    }
}

static void handle_line(struct agent *a)
{
    struct jtok t = json_trim((struct jtok){ a->line, a->line_len });

    if (t.len) {
        handle_request(a, t);
    }
}

static void feed(struct agent *a, const uint8_t *buf, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (buf[i] == 0xff) {
            a->line_len = a->overlong = 0;     /* the host resynchronises */
        } else if (buf[i] == '\n') {
            if (a->overlong) {
                reply(a, true, "request line too long", (struct jtok){ 0, 0 });
            } else {
                handle_line(a);
            }
            a->line_len = a->overlong = 0;
        } else if (a->line_len == AGENT_LINE_MAX) {
            a->overlong = 1;
        } else {
            a->line[a->line_len++] = (char)buf[i];
        }
    }
}

/* --- setup and tick ------------------------------------------------------- */

bool agent_enabled(void)
{
    return ag != 0;
}

void agent_setup(const struct wl_range *ram, unsigned nr_ram,
                 uint64_t *reserved_end, agent_log_fn log, void *log_opaque)
{
    uint64_t base = (*reserved_end + PAGE - 1) & ~(PAGE - 1);
    uint64_t state = (sizeof(struct agent) + PAGE - 1) & ~(PAGE - 1);
    uint64_t len = state + pvchan_mem_bytes(AGENT_RING), mmio;
    bool room = false;

    if (!platform.have_device || !(mmio = pvchan_find(AGENT_CHANNEL))) {
        return;
    }
    for (unsigned i = 0; i < nr_ram; i++) {
        room |= base >= ram[i].gpa &&
                base + len <= ram[i].gpa + ram[i].npages * PAGE;
    }
    if (!room) {
        log(log_opaque, "agent: no room for the guest agent, it is off");
        return;
    }
    ag = (struct agent *)base;
    memset(ag, 0, sizeof(*ag));
    ag->log = log;
    ag->log_opaque = log_opaque;
    if (!pvchan_open(&ag->ch, mmio, (uint8_t *)base + state, AGENT_RING)) {
        alog("agent: the channel refused its rings, the agent is off");
        ag = 0;
        return;
    }
    *reserved_end = base + len;
    alog("agent: listening on %s", AGENT_CHANNEL);
}

void agent_tick(uint64_t now_ns)
{
    struct agent *a = ag;
    uint8_t buf[IN_CHUNK];
    bool notify = false;
    uint32_t n;

    a->now_ns = now_ns;
    agent_run_timers(a);
    notify |= outq_flush(a);
    while (AGENT_OUTQ - a->outq_len >= OUT_SLACK &&
           (n = pvchan_rx(&a->ch, buf, sizeof(buf))) != 0) {
        feed(a, buf, n);
        notify = true;
    }
    notify |= outq_flush(a);
    if (notify) {
        pvchan_notify(&a->ch);
    }
}
