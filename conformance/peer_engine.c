/* peer_engine.c: the timing-critical half of `intervm conformance run`.
 *
 * intervm/conformance/engine.py compiles this file with cc on first use (cached by
 * content hash) and runs it as the peer of the binary under test. The engine plays
 * the reference protocol with nanosecond timing; every verdict stays in Python,
 * which watches the shared words and the doorbells while the engine runs.
 *
 *   peer_engine producer REGION IRQ_FD DONE_FD SEED MS FIRST_ID COUNT LAYOUT
 *   peer_engine consumer REGION IRQ_FD DONE_FD SEED MS 0 0 LAYOUT
 *
 * LAYOUT is "tail,pwait,head,flag,slot0,slot_size,capacity,stall_ms" (byte offsets
 * from spec/layout.py, the normative layout; this file hard-codes none of them).
 *
 * producer (binary = consumer): publishes ids FIRST_ID.. one at a time, each just
 * before the consumer's SLEEPING store. Mostly (P_SPURIOUS) it rings a doorbell with
 * nothing new while the consumer sleeps (a consumer must tolerate spurious wakeups);
 * the consumer wakes, stores ACTIVE, finds nothing and re-arms within ~100 ns, and
 * the engine publishes the instant it sees ACTIVE. Otherwise it publishes at a learnt
 * delay after the consumer's last commit, or a burst. A publish is slot, tail by
 * one xchg (store + full fence), load flag, ring if SLEEPING (and not latched).
 * consumer (binary = producer): a correct consumer that arms (SLEEPING, full fence,
 * re-check tail) the instant it sees the producer leave its pwait wait, i.e. just
 * as it publishes: its flag load is then racing with our SLEEPING store.
 * Both wait for the peer to catch up; if it does not within STALL_MS the engine
 * reports `stall` and exits, leaving the bad state for Python's watchdog. SIGUSR1
 * (sent after a finding) or the end of MS stops the racing; the consumer then
 * drains plainly to the stop request so the producer under test can finish.
 *
 * stdout, one line each: `consumed ID` (consumer), then `done K=V ...`, or
 * `violation FIELD VALUE WHY` (exit 3), or `stall ...` (exit 5).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ACTIVE 0u
#define SLEEPING 1u
#define WAITING 1u
#define STOP_ID UINT64_MAX
#define LEARN 16
#ifndef SPIN_NS
#define SPIN_NS 200000
#endif
#ifndef P_BURST
#define P_BURST 0.05
#endif
#ifndef P_SPURIOUS
#define P_SPURIOUS 0.95
#endif
#define GAPS 64

static unsigned char *base;
static size_t o_tail, o_pwait, o_head, o_flag, o_slot0, slot_size;
static uint32_t cap;
static int irq_fd, done_fd;
static uint64_t rng_state, stall_ns, deadline;
static volatile sig_atomic_t wind_up; /* SIGUSR1: finish the current step, report, exit */
static void on_usr1(int sig) { (void)sig; wind_up = 1; }

static _Atomic uint32_t *u32(size_t off) { return (_Atomic uint32_t *)(base + off); }
static _Atomic uint64_t *u64(size_t off) { return (_Atomic uint64_t *)(base + off); }
#define LD(off) atomic_load_explicit(u32(off), memory_order_acquire)
#define ST(off, v) atomic_store_explicit(u32(off), (v), memory_order_release)

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int go_on(void) { return !wind_up && now_ns() < deadline; }

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static uint64_t rnd(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}
static double unif(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }

static void spin_for(uint64_t ns) {
    uint64_t until = now_ns() + ns;
    while (now_ns() < until) relax();
}

/* Spin ~20 us, then nap 50 us per round: cheap on a shared machine, bounded. */
static int wait_until(int (*cond)(void), uint64_t limit_ns) {
    uint64_t start = now_ns();
    for (unsigned i = 0;; i++) {
        if (cond()) return 1;
        if (i > 200) {
            uint64_t t = now_ns();
            if (t - start >= limit_ns) return 0;
            if (t - start > SPIN_NS) {
                struct timespec nap = {0, 50000};
                nanosleep(&nap, NULL);
            }
        } else {
            relax();
        }
    }
}

static void violation(const char *field, uint64_t v, const char *why) {
    printf("violation %s %" PRIu64 " %s\n", field, v, why);
    fflush(stdout);
    exit(3);
}

static void ring(int fd) {
    uint64_t one = 1;
    if (write(fd, &one, sizeof one) < 0 && errno != EAGAIN) {
        perror("peer_engine: eventfd write");
        exit(2);
    }
}

static uint64_t take(int fd) {
    uint64_t n = 0;
    if (read(fd, &n, sizeof n) != (ssize_t)sizeof n) return 0;
    return n;
}

/* Learnt gaps (ns) between a visible event and the peer's racing store. */
struct gaps { uint64_t v[GAPS]; unsigned n; };
static void gap_add(struct gaps *g, uint64_t ns) {
    if (ns > 1000000) return;
    g->v[g->n < GAPS ? g->n++ : rnd() % GAPS] = ns;
}
static uint64_t gap_pick(const struct gaps *g) {
    uint64_t pick = g->v[rnd() % g->n];
    return (uint64_t)(unif() * 1.3 * (double)pick);
}
static int learning(const struct gaps *g) { return g->n < LEARN || unif() < 0.05; }

/* ---------------------------------------------------------------- producer */
static uint32_t head, tail, rung_at;
static int rung;
static uint64_t rings, spurious, published, lat_max, *pub_ns, saw_sleeping;
static uint64_t first_id;
static uint32_t tail0;

static uint32_t load_head(void) {
    uint32_t h = LD(o_head);
    if ((uint32_t)(h - head) > (uint32_t)(tail - head))
        violation("head", h, "moved backwards or past tail");
    uint64_t t = now_ns();
    for (; head != h; head++) {
        uint64_t lat = t - pub_ns[head - tail0];
        if (lat > lat_max) lat_max = lat;
    }
    return h;
}
static int caught_up(void) { return load_head() == tail; }
static int is_sleeping(void) { return LD(o_flag) == SLEEPING; }
static int is_active(void) { return LD(o_flag) == ACTIVE; }

static void publish(uint64_t id) {
    size_t slot = o_slot0 + (size_t)(tail % cap) * slot_size;
    atomic_store_explicit(u64(slot), id, memory_order_relaxed);
    atomic_store_explicit(u64(slot + 8), 0, memory_order_relaxed);
    uint32_t at = tail - tail0;
    tail++;
    atomic_exchange_explicit(u32(o_tail), tail, memory_order_seq_cst); /* store + full fence */
    uint32_t flag = LD(o_flag);
    pub_ns[at] = now_ns();
    if (flag > SLEEPING) violation("flag", flag, "must be 0 or 1");
    published++;
    if (flag == ACTIVE) return;
    saw_sleeping++;
    if (rung) {
        uint32_t pending = rung_at - load_head();
        if (pending > 0 && pending <= cap) return; /* the doorbell rung at rung_at is latched */
    }
    ring(irq_fd);
    rings++;
    rung = 1;
    rung_at = tail;
}

static void stall(const char *what) {
    printf("stall %s head %" PRIu32 " tail %" PRIu32 " flag %" PRIu32 "\n", what,
           LD(o_head), tail, LD(o_flag));
    fflush(stdout);
    exit(5);
}

static int play_producer(uint64_t count) {
    struct gaps commit = {0};
    uint64_t chases = 0;
    pub_ns = calloc(count + cap + 1, sizeof *pub_ns);
    if (!pub_ns) return 2;
    tail = tail0 = LD(o_tail);
    head = tail;
    load_head();
    for (uint64_t id = first_id; id < first_id + count && go_on();) {
        if (!wait_until(caught_up, stall_ns)) stall("consumer did not commit");
        double r = unif();
        if (r < P_BURST) { /* burst up to capacity */
            for (uint32_t k = 1 + (uint32_t)(rnd() % cap); k && id < first_id + count; k--)
                publish(id++);
            continue;
        }
        if (r < P_SPURIOUS && wait_until(is_sleeping, 2000000)) {
            /* spurious doorbell: the consumer wakes, stores ACTIVE, re-arms */
            ring(irq_fd);
            spurious++;
            if (!wait_until(is_active, 2000000)) continue;
            /* publish at once: measured here, any added delay (0..1.3x the ACTIVE ->
             * SLEEPING gap) only lowered the hit rate */
            chases++;
            publish(id++);
            continue;
        }
        /* chase the commit: from head == tail to the SLEEPING store */
        uint64_t th = now_ns();
        if (learning(&commit)) {
            if (wait_until(is_sleeping, 2000000)) gap_add(&commit, now_ns() - th);
        } else {
            spin_for(gap_pick(&commit));
            chases++;
        }
        publish(id++);
    }
    if (!wait_until(caught_up, stall_ns)) stall("consumer did not commit");
    printf("done published %" PRIu64 " rings %" PRIu64 " spurious %" PRIu64 " chases %" PRIu64
           " max_latency_ns %" PRIu64 " saw_sleeping %" PRIu64 "\n", published, rings, spurious,
           chases, lat_max, saw_sleeping);
    return 0;
}

/* ---------------------------------------------------------------- consumer */
static uint32_t c_head, tail_seen;
static uint64_t sleeps, arms, got_rings;
static int stopped;

static uint32_t load_tail(void) {
    uint32_t t = LD(o_tail);
    if ((uint32_t)(t - tail_seen) > (uint32_t)(c_head + cap - tail_seen))
        violation("tail", t, "moved backwards or more than capacity past head");
    tail_seen = t;
    return t;
}
static int producer_running(void) { return LD(o_pwait) != WAITING; }

static void check_pwait(void) {
    atomic_thread_fence(memory_order_seq_cst);
    uint32_t p = LD(o_pwait);
    if (p > WAITING) violation("pwait", p, "must be 0 or 1");
    if (p == WAITING) ring(done_fd);
}

static void drain(void) {
    while (load_tail() != c_head) {
        while (c_head != tail_seen) {
            uint64_t id = atomic_load_explicit(u64(o_slot0 + (size_t)(c_head % cap) * slot_size),
                                               memory_order_acquire);
            c_head++;
            if (id == STOP_ID) {
                ST(o_head, c_head);
                stopped = 1;
                check_pwait();
                return;
            }
            printf("consumed %" PRIu64 "\n", id);
            ST(o_head, c_head);
        }
        check_pwait();
    }
}

static int play_consumer(void) {
    uint64_t chases = 0;
    c_head = LD(o_head);
    tail_seen = c_head;
    load_tail();
    ST(o_flag, ACTIVE);
    while (!stopped && go_on()) {
        drain();
        if (stopped) break;
        check_pwait();
        got_rings += take(irq_fd);
        /* the producer leaves its pwait wait and publishes: arm right then. Measured
         * here: arming at once beat any learnt delay (0..0.5x or 0..1.3x the gap from
         * pwait RUNNING to the tail store: 12/12 in <= 0.72 s vs 11/12, up to 1.7 s) */
        if (wait_until(producer_running, 1000000) && LD(o_tail) == c_head) chases++;
        ST(o_flag, SLEEPING);
        arms++;
        atomic_thread_fence(memory_order_seq_cst);
        if (load_tail() != c_head) {
            ST(o_flag, ACTIVE);
            continue;
        }
        sleeps++;
        fflush(stdout);
        struct pollfd p = {.fd = irq_fd, .events = POLLIN};
        int n = poll(&p, 1, (int)(stall_ns / 1000000));
        if (n < 0 && errno == EINTR && wind_up) {
            ST(o_flag, ACTIVE);
            break;
        }
        if (n <= 0) {
            printf("stall producer did not ring head %" PRIu32 " tail %" PRIu32 "\n", c_head,
                   LD(o_tail));
            fflush(stdout);
            return 5;
        }
        got_rings += take(irq_fd);
        ST(o_flag, ACTIVE);
    }
    /* time is up or a lost wakeup was found: stop racing, consume plainly to the stop
     * request (no sleeping, so the producer never needs to ring), until it goes idle */
    for (uint64_t idle = now_ns(); !stopped;) {
        uint32_t before = c_head;
        drain();
        if (!stopped) check_pwait();
        if (c_head != before) idle = now_ns();
        else if (now_ns() - idle > stall_ns) break;
        else relax();
    }
    printf("done sleeps %" PRIu64 " arms %" PRIu64 " rings %" PRIu64 " chases %" PRIu64
           " stopped %d\n", sleeps, arms, got_rings, chases, stopped);
    return 0;
}

static long arg(const char *s, const char *what) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 0) {
        fprintf(stderr, "peer_engine: %s %s is not a non-negative integer\n", what, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    if (argc != 10) {
        fprintf(stderr, "usage: peer_engine producer|consumer REGION IRQ_FD DONE_FD SEED MS "
                        "FIRST_ID COUNT LAYOUT\n");
        return 2;
    }
    long lay[8];
    char *p = argv[9];
    for (int i = 0; i < 8; i++) {
        char *end;
        lay[i] = strtol(p, &end, 10);
        if (end == p || (i < 7 && *end != ',') || (i == 7 && *end)) {
            fprintf(stderr, "peer_engine: bad LAYOUT %s\n", argv[9]);
            return 2;
        }
        p = end + 1;
    }
    o_tail = (size_t)lay[0], o_pwait = (size_t)lay[1], o_head = (size_t)lay[2];
    o_flag = (size_t)lay[3], o_slot0 = (size_t)lay[4], slot_size = (size_t)lay[5];
    cap = (uint32_t)lay[6];
    stall_ns = (uint64_t)lay[7] * 1000000u;
    irq_fd = (int)arg(argv[3], "IRQ_FD");
    done_fd = (int)arg(argv[4], "DONE_FD");
    rng_state = (uint64_t)arg(argv[5], "SEED") * 0x9E3779B97F4A7C15ull + 1;
    deadline = now_ns() + (uint64_t)arg(argv[6], "MS") * 1000000u;
    first_id = (uint64_t)arg(argv[7], "FIRST_ID");
    uint64_t count = (uint64_t)arg(argv[8], "COUNT");
    int fd = open(argv[2], O_RDWR);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "peer_engine: cannot open %s: %s\n", argv[2], strerror(errno));
        return 2;
    }
    base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (base == MAP_FAILED) return 2;
    int rc = strcmp(argv[1], "producer") == 0 ? play_producer(count)
           : strcmp(argv[1], "consumer") == 0 ? play_consumer()
           : 2;
    fflush(stdout);
    return rc;
}
