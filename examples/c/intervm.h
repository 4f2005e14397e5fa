/* intervm.h: the handoff and the layout v1 words for C implementations under test.
 *
 * `intervm conformance run --role ROLE -- ./binary` creates the region and the
 * eventfd doorbells, then starts the binary with (see docs/conformance-live.md):
 *   INTERVM_REGION     path of the region file (already created, header valid)
 *   INTERVM_ROLE       producer | consumer | timer-writer | timer-reader
 *   INTERVM_IRQ_FD     inherited fd number of the `irq` eventfd
 *   INTERVM_DONE_FD    inherited fd number of the `done` eventfd
 *   INTERVM_REQUESTS   producer: how many request ids (0..N-1) to submit
 *   INTERVM_PUBLISHES  timer writer: how many ticks to publish
 *   INTERVM_READS      timer reader: how many ticks to accept
 *   INTERVM_TIMEOUT_MS bound on every wait for the peer
 * The binary reports on stdout, one line each: `consumed ID`, `tick VALUE`,
 * `violation FIELD VALUE WHY`, `error WHY`; exit 0 done, 3 violation, 4 peer timeout.
 * Offsets are those of docs/layout.md (spec/layout.py is normative).
 */
#ifndef INTERVM_H
#define INTERVM_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define IVM_MAGIC 0x31764d48534d5649ull
#define IVM_HEADER 256u
#define IVM_FLAG_ACTIVE 0u
#define IVM_FLAG_SLEEPING 1u
#define IVM_PWAIT_RUNNING 0u
#define IVM_PWAIT_WAITING 1u
#define IVM_STOP_ID UINT64_MAX

enum { EXIT_VIOLATION = 3, EXIT_PEER_TIMEOUT = 4 };

struct ivm {
    unsigned char *base;
    uint32_t capacity, slot_size;
    int irq_fd, done_fd;
    long timeout_ms;
};

static inline _Atomic uint32_t *ivm_u32(struct ivm *r, size_t off) {
    return (_Atomic uint32_t *)(r->base + off);
}
static inline _Atomic uint64_t *ivm_u64(struct ivm *r, size_t off) {
    return (_Atomic uint64_t *)(r->base + off);
}
#define IVM_TAIL(r) ivm_u32(r, 64)
#define IVM_PWAIT(r) ivm_u32(r, 68)
#define IVM_HEAD(r) ivm_u32(r, 128)
#define IVM_FLAG(r) ivm_u32(r, 132)
#define IVM_SEQ(r) ivm_u32(r, 192)
#define IVM_TIME_LO(r) ivm_u32(r, 196)
#define IVM_TIME_HI(r) ivm_u32(r, 200)
#define IVM_TIME64(r) ivm_u64(r, 208)
#define IVM_TICK_NS(r) ivm_u64(r, 216)
#define IVM_SLOT_ID(r, i) ivm_u64(r, IVM_HEADER + (size_t)(i) * (r)->slot_size)
#define IVM_SLOT_STAMP(r, i) ivm_u64(r, IVM_HEADER + (size_t)(i) * (r)->slot_size + 8)

#define LOAD(p) atomic_load_explicit((p), memory_order_acquire)
#define STORE(p, v) atomic_store_explicit((p), (v), memory_order_release)
#define FULL_FENCE() atomic_thread_fence(memory_order_seq_cst)

static inline void ivm_die(int status, const char *kind, const char *what) {
    printf("%s %s\n", kind, what);
    fflush(stdout);
    exit(status);
}

/* A peer broke the protocol: report it on stdout and exit 3 (never crash). */
static inline void ivm_violation(const char *field, uint64_t value, const char *why) {
    printf("violation %s %" PRIu64 " %s\n", field, value, why);
    fflush(stdout);
    exit(EXIT_VIOLATION);
}

static inline long ivm_env_long(const char *name, long dflt) {
    const char *s = getenv(name);
    if (!s || !*s) return dflt;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < 0) {
        fprintf(stderr, "%s=%s is not a non-negative integer\n", name, s);
        exit(2);
    }
    return v;
}

static inline long ivm_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Map the region named by INTERVM_REGION and validate its header (each word once). */
static inline struct ivm ivm_attach(void) {
    struct ivm r = {0};
    const char *path = getenv("INTERVM_REGION");
    if (!path) {
        fprintf(stderr, "INTERVM_REGION is not set: run me under intervm conformance run\n");
        exit(2);
    }
    int fd = open(path, O_RDWR);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < (off_t)IVM_HEADER) {
        fprintf(stderr, "cannot open region %s: %s\n", path, strerror(errno));
        exit(2);
    }
    r.base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (r.base == MAP_FAILED) {
        fprintf(stderr, "cannot map region %s: %s\n", path, strerror(errno));
        exit(2);
    }
    uint64_t magic = LOAD(ivm_u64(&r, 0)), total = LOAD(ivm_u64(&r, 24));
    uint32_t version = LOAD(ivm_u32(&r, 8));
    r.capacity = LOAD(ivm_u32(&r, 12));
    r.slot_size = LOAD(ivm_u32(&r, 16));
    if (magic != IVM_MAGIC) ivm_violation("magic", magic, "not an intervm region");
    if (version != 1) ivm_violation("version", version, "this example speaks layout v1");
    if (r.capacity == 0 || r.capacity > (1u << 20) || (r.capacity & (r.capacity - 1)))
        ivm_violation("capacity", r.capacity, "not a power of two in 1..2^20");
    if (r.slot_size < 16 || r.slot_size > 4096 || r.slot_size % 8)
        ivm_violation("slot_size", r.slot_size, "not a multiple of 8 in 16..4096");
    uint64_t want = ((uint64_t)IVM_HEADER + (uint64_t)r.capacity * r.slot_size + 63) / 64 * 64;
    if (total != want || (uint64_t)st.st_size != total)
        ivm_violation("total_size", total, "does not match capacity and slot_size");
    r.irq_fd = (int)ivm_env_long("INTERVM_IRQ_FD", -1);
    r.done_fd = (int)ivm_env_long("INTERVM_DONE_FD", -1);
    r.timeout_ms = ivm_env_long("INTERVM_TIMEOUT_MS", 5000);
    return r;
}

static inline void ivm_notify(int fd) {
    uint64_t one = 1;
    if (write(fd, &one, sizeof one) < 0 && errno != EAGAIN)
        ivm_die(2, "error", "cannot write a doorbell eventfd");
}

/* Wait up to ms for the doorbell; 1 if it was rung (and reset it), 0 on timeout. */
static inline int ivm_wait(int fd, long ms) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n = poll(&p, 1, (int)ms);
    if (n <= 0) return 0;
    uint64_t count;
    if (read(fd, &count, sizeof count) != (ssize_t)sizeof count) return 0;
    return 1;
}

#endif
