/*
 * Migration transports: one byte-stream channel for every migration URI.
 *
 *   tcp:HOST:PORT         socket; both directions (the return path)
 *   unix:PATH             socket; both directions
 *   fd:NAME               a descriptor the VMM received (QMP's getfd),
 *                         found through a MigFdSource; both directions
 *                         when it is a socket
 *   exec:COMMAND          /bin/sh -c COMMAND; outgoing writes its stdin,
 *                         incoming reads its stdout
 *   file:PATH[,offset=N]  outgoing creates/truncates PATH and writes from
 *                         byte N; incoming reads from byte N.  N takes size
 *                         suffixes (QEMU's qemu_strtosz); QEMU's plain
 *                         stream needs no alignment, nor does ferry.
 *
 * Threads: a channel is read by one thread and written by one thread (the
 * same or another: the return path).  mig_channel_shutdown() may be called
 * from any thread and wakes both.  The last reference is dropped once no
 * other thread uses the channel.  A listener is used only from the thread
 * of its GMainContext.
 */
#ifndef FERRY_MIGRATION_CHANNEL_H
#define FERRY_MIGRATION_CHANNEL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <signal.h>
#include <sys/uio.h>
#include <glib.h>

typedef struct MigChannel MigChannel;

/*
 * Finds the descriptor named @name for "fd:NAME" and hands it over: the
 * channel owns (and closes) what it returns.  -1 with @errp set when there
 * is none.  The VMM's fd_lookup hook (its getfd table); tests have their
 * own.
 */
typedef int (*MigFdLookupFn)(void *opaque, const char *name, GError **errp);
typedef struct MigFdSource {
    MigFdLookupFn lookup;       /* NULL: fd: URIs are refused */
    void *opaque;
} MigFdSource;

/* Outgoing: connects, spawns or opens @uri.  Blocking (tcp connect). */
MigChannel *mig_channel_connect(const char *uri, const MigFdSource *fds,
                                GError **errp);
/* As mig_channel_connect; a socket connect gives up once @cancel_fd (an
 * eventfd, -1 for none) becomes readable, so a cancel is never stuck
 * behind a peer that does not accept. */
MigChannel *mig_channel_connect_cancellable(const char *uri, int cancel_fd,
                                            const MigFdSource *fds,
                                            GError **errp);

/*
 * Incoming: called from the listener's GMainContext with the new channel
 * (the callee owns that reference), never from inside
 * mig_listener_listen().  @chan is NULL when accepting the connection
 * failed (the reason is logged).
 */
typedef void (*MigChannelAccepted)(MigChannel *chan, void *opaque);

/* What waits for a migration's incoming channels, on @context. */
typedef struct MigListener MigListener;
MigListener *mig_listener_new(GMainContext *context, const MigFdSource *fds);
void mig_listener_free(MigListener *l);
/*
 * Prepares an incoming migration: tcp/unix listen and accept ONE
 * connection; exec/file/fd open at once and are handed over from an idle
 * callback.  Fails when something is already pending.
 */
/*
 * A live update: the listening socket of a tcp/unix listener that waits
 * for its connection (-1 if none); the next mig_listener_listen() listens
 * on @fd (taken) instead of binding.
 */
int mig_listener_socket(MigListener *l, const char **uri);
void mig_listener_adopt_socket(MigListener *l, int fd);
bool mig_listener_listen(MigListener *l, const char *uri,
                         MigChannelAccepted cb, void *opaque, GError **errp);
/*
 * With @keep, a tcp/unix listen stays open after the first connection and
 * hands every further one to the same callback (postcopy-preempt opens a
 * second connection), until mig_listener_cancel().
 */
void mig_listener_keep(MigListener *l, bool keep);
/*
 * The address actually listened on ("tcp:127.0.0.1:40123" for port 0,
 * "unix:PATH"), to be g_free()d; NULL when the pending or last incoming
 * migration is not a socket.  Kept after the accept, until the next listen
 * or cancel, so query-migrate can still show it.
 */
char *mig_listener_address(MigListener *l);
/* Drops a pending listen (closing the listener or the unclaimed channel). */
void mig_listener_cancel(MigListener *l);

/* The URI, for messages ("tcp:127.0.0.1:4444"). */
const char *mig_channel_name(const MigChannel *chan);
bool mig_channel_can_read(const MigChannel *chan);
bool mig_channel_can_write(const MigChannel *chan);
/*
 * A read that waits longer than @ms (0: forever) fails with -ETIMEDOUT:
 * how postcopy notices a silent network.  Any thread.
 */
void mig_channel_set_read_timeout(MigChannel *chan, int ms);
/*
 * Sockets: keep what the kernel queues for one direction to about @bytes,
 * so a message written now does not wait behind megabytes already
 * queued.  Receiving over TCP: a window of at least 4 segments, and every
 * read ACKed at once; else SO_RCVBUF.  Sending: SO_SNDBUF.  No-op for
 * other channels.  Any thread.
 */
void mig_channel_limit_receive(MigChannel *chan, int bytes);
void mig_channel_limit_send(MigChannel *chan, int bytes);
/*
 * A queue limit that holds a stream back only where the link does not:
 * @floor, or the bytes @bytes_per_sec keeps in flight over the smallest
 * round trip TCP measured on @chan (TCP_INFO's min_rtt: the link's,
 * without the queueing a bulk stream adds), whichever is larger.  @floor
 * for other channels.
 */
int mig_channel_queue_for_rate(MigChannel *chan, int floor,
                               uint64_t bytes_per_sec);
/*
 * Postcopy's main stream, from postcopy-active on.  Without a preempt
 * channel requested pages share it with background pages, so they wait
 * behind whatever both sockets queue.  The sender holds ~64 KiB (the
 * kernel doubles SO_SNDBUF): a requested page waits ~0.1 ms behind it on
 * loopback.  With 256 KiB the median p99 fault latency of four runs on a
 * busy 2-core host was 6.3 ms, with this 1.7 ms (docs/performance.md, "The
 * postcopy fault tail").  The receiver's window stays larger: with every
 * read ACKed at once the sender's buffer is what limits the bytes in
 * flight.  With a preempt channel the requested pages do not wait here,
 * but the threads carrying background pages flat out kept the cores from
 * those serving faults; held to this queue they block every 64 KiB, and
 * over eight runs each the faults slower than 1 ms fell from 16% to 2.5%.
 */
#define MIG_POSTCOPY_SEND_QUEUE_BYTES (32 << 10)
#define MIG_POSTCOPY_RECEIVE_WINDOW_BYTES (64 << 10)
/*
 * On a link with a long round trip those sizes would be the limit (64 KiB
 * per round trip: 65 MB/s at 1 ms).  Both ends size their queue so that
 * it holds back no stream slower than this (mig_channel_queue_for_rate):
 * on loopback and short links the sizes above, on long ones a queue of
 * the link's bandwidth-delay product at this rate.
 */
#define MIG_POSTCOPY_QUEUE_RATE (2500ULL * 1000 * 1000)
/* True for sockets: the reverse direction carries the return path. */
bool mig_channel_has_reverse_direction(const MigChannel *chan);

/*
 * Data path, -errno on failure.  A read blocks until at least one byte is
 * there and returns it, 0 at end of stream.  A write returns only when all
 * of it went out.  After mig_channel_shutdown() both return -ESHUTDOWN.
 */
ssize_t mig_channel_readv(MigChannel *chan, const struct iovec *iov, int iovcnt);
ssize_t mig_channel_read(MigChannel *chan, void *buf, size_t len);
ssize_t mig_channel_writev_all(MigChannel *chan, const struct iovec *iov,
                               int iovcnt);
/* Reads until @iov is full: its size, less at end of stream, or -errno. */
ssize_t mig_channel_readv_all(MigChannel *chan, const struct iovec *iov,
                              int iovcnt);
/*
 * Gives @len bytes back to the reader: the next reads return them first
 * (telling a channel apart by its first bytes).  The reading thread only,
 * at most once before they were read again.
 */
void mig_channel_unread(MigChannel *chan, const void *buf, size_t len);
/*
 * True when the peer of a socket closed or reset its end, or the channel
 * was shut down (a sender that has nothing to write notices it so).
 */
bool mig_channel_peer_gone(MigChannel *chan);
ssize_t mig_channel_write_all(MigChannel *chan, const void *buf, size_t len);

/* Around a write that may raise SIGPIPE: blocks it in the calling thread,
 * then (with the write's result and errno) consumes the one it raised. */
void mig_sigpipe_hold(sigset_t *old);
void mig_sigpipe_release(const sigset_t *old, ssize_t n, int err);

/* Moves *@iov past @n bytes (entries emptied are dropped); the entries
 * left. */
int mig_iov_advance(struct iovec **iov, int *iovcnt, size_t n);

/* --- sends without a copy (channel-splice.c) --------------------------------
 * vmsplice(2) into a pipe, splice(2) into the socket: the kernel takes
 * references to the pages instead of copying them.  Sockets without TLS
 * only (mig_channel_can_splice); the writing thread only.
 */
typedef struct MigSplice {
    int pipe[2];
} MigSplice;

bool mig_channel_can_splice(MigChannel *chan);
/* A pipe for up to @bytes at a time; false with @errp naming the pipe. */
bool mig_splice_init(MigSplice *sp, size_t bytes, GError **errp);
void mig_splice_destroy(MigSplice *sp);
/*
 * Writes @iov, whole pages of memory that stays mapped (it may change: the
 * kernel may read it after the call returned), to @chan: the bytes
 * written, or -errno (-ESHUTDOWN after mig_channel_shutdown()).
 */
ssize_t mig_channel_splice_pages(MigChannel *chan, MigSplice *sp,
                                 const struct iovec *iov, int iovcnt);

/* --- zero-copy sends (channel-zerocopy.c) ----------------------------------
 * Linux MSG_ZEROCOPY on a tcp socket: the kernel sends from the caller's
 * pages instead of copying them, and says later, on the socket's error
 * queue, which sends no longer use them.  The writing thread only.
 */
typedef struct MigZeroCopy {
    uint32_t queued;            /* sendmsg() calls that sent bytes */
    uint32_t done;              /* of those, completions the kernel reported */
    bool copied;                /* a completion said the kernel copied after
                                 * all (loopback always does); the caller
                                 * clears it */
} MigZeroCopy;

/* One completion notification: sends lo..hi (inclusive) are done. */
typedef struct MigZeroCopyDone {
    uint32_t lo, hi;
    bool copied;
} MigZeroCopyDone;

/* False with @errp naming SO_ZEROCOPY when this kernel refuses it on a
 * TCP socket (a probe, for enabling the capability). */
bool mig_zerocopy_supported(GError **errp);
/* Sets SO_ZEROCOPY on a tcp channel; false with @errp naming it. */
bool mig_channel_enable_zerocopy(MigChannel *chan, GError **errp);
/*
 * A write of @iov with MSG_ZEROCOPY: the pages must stay mapped (their
 * content may change: precopy sends a changed page again) until
 * mig_zerocopy_flush() returned.  As mig_channel_writev_all() otherwise.
 */
ssize_t mig_channel_writev_zerocopy(MigChannel *chan, const struct iovec *iov,
                                    int iovcnt, MigZeroCopy *zc);
/* Takes the completions queued by now without waiting: 0 or -errno. */
int mig_zerocopy_reap(MigChannel *chan, MigZeroCopy *zc);
/* Waits until every send counted in @zc completed: 0 or -errno
 * (-ESHUTDOWN after mig_channel_shutdown()). */
int mig_zerocopy_flush(MigChannel *chan, MigZeroCopy *zc);
/*
 * Reads one error-queue message: 1 with *@done filled for a zero-copy
 * completion, -errno for a socket error the queue reported, -EPROTO for
 * anything else.  Pure, for tests.
 */
struct msghdr;
int mig_zerocopy_parse(const struct msghdr *msg, MigZeroCopyDone *done);

/*
 * Wakes every thread blocked on the channel and fails all later I/O; on a
 * socket also shutdown(2) both directions so the peer sees it.  Any thread;
 * idempotent.
 */
void mig_channel_shutdown(MigChannel *chan);

MigChannel *mig_channel_ref(MigChannel *chan);
/* Drops a reference; the last one closes, a failure is only logged. */
void mig_channel_unref(MigChannel *chan);
/*
 * Drops a reference; the last one closes and reports what went wrong, e.g.
 * an exec: command that failed ("exec:false: command exited with status 1").
 * Without the last reference it just returns true.
 */
bool mig_channel_close(MigChannel *chan, GError **errp);

/* --- for the transports (migration/channel-*.c) ------------------------ */

/*
 * A new channel over @rfd/@wfd (-1: no such direction; equal for a socket),
 * owning them.  Puts them in non-blocking mode: blocking happens in poll(),
 * where shutdown can reach it.  @release, if set, runs on close after the
 * descriptors are closed (exec: reaps the child).
 */
typedef bool (*MigChannelRelease)(MigChannel *chan, GError **errp);
MigChannel *mig_channel_new(const char *name, int rfd, int wfd,
                            MigChannelRelease release, void *priv);
void *mig_channel_priv(const MigChannel *chan);

MigChannel *mig_socket_connect(const char *uri, int cancel_fd, GError **errp);
/* A non-blocking listener; *@bound_name is the address actually bound. */
/* @bound_fd >= 0: a socket bound and listening already (taken). */
int mig_socket_listen(const char *uri, int bound_fd, char **bound_name,
                      GError **errp);
MigChannel *mig_socket_accept(int listen_fd, const char *name, GError **errp);
void mig_socket_listen_cleanup(const char *uri);

/* The transports' view of the data path (channel-tls.c wraps it). */
int mig_channel_wait(MigChannel *chan, short events);   /* POLLIN/POLLOUT */
int mig_channel_fd(const MigChannel *chan);
bool mig_channel_is_shut(MigChannel *chan);

/* --- TLS (channel-tls.c) ------------------------------------------------ */

/* Loaded credentials, shared by a migration's channels; refcounted. */
typedef struct MigTlsCreds MigTlsCreds;
typedef struct MigTlsSession MigTlsSession;
typedef struct FerryMigTlsCreds FerryMigTlsCreds;
/*
 * Checks the peer's x509 distinguished name against the allow list
 * @authz_id; false with @errp saying why it is refused.
 */
typedef bool (*MigTlsAuthzFn)(void *opaque, const char *authz_id,
                              const char *dn, GError **errp);

MigTlsCreds *mig_tls_creds_load(const FerryMigTlsCreds *desc, GError **errp);
MigTlsCreds *mig_tls_creds_ref(MigTlsCreds *creds);
void mig_tls_creds_unref(MigTlsCreds *creds);
bool mig_tls_creds_is_server(const MigTlsCreds *creds);
bool mig_tls_creds_is_x509(const MigTlsCreds *creds);

/*
 * Puts a TLS session over @chan, which must have both directions.  The
 * handshake runs on the first read or write, or in
 * mig_channel_handshake(); @hostname (client) is checked against the
 * server's certificate, @authz_id (server, "" for none) through @authz.
 */
bool mig_channel_start_tls(MigChannel *chan, MigTlsCreds *creds,
                           const char *hostname, const char *authz_id,
                           MigTlsAuthzFn authz, void *opaque, GError **errp);
/* Runs the handshake now if it has not run: true when it succeeded. */
bool mig_channel_handshake(MigChannel *chan, GError **errp);

void mig_channel_set_tls(MigChannel *chan, MigTlsSession *tls);
MigTlsSession *mig_channel_tls(const MigChannel *chan);
ssize_t mig_tls_readv(MigChannel *chan, MigTlsSession *tls,
                      const struct iovec *iov, int iovcnt);
ssize_t mig_tls_writev_all(MigChannel *chan, MigTlsSession *tls,
                           const struct iovec *iov, int iovcnt);
void mig_tls_session_free(MigTlsSession *tls);

MigChannel *mig_fd_open(const char *uri, bool outgoing,
                        const MigFdSource *fds, GError **errp);
MigChannel *mig_exec_open(const char *uri, bool outgoing, GError **errp);
MigChannel *mig_file_open(const char *uri, bool outgoing, GError **errp);

#endif
