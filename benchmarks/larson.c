/* larson: a server-style allocator benchmark after Larson and Krishnan ("Memory allocation
 * for long-running server applications", ISMM 1998). hakmem's own implementation.
 *
 * The program models a server whose worker threads come and go while the data they
 * allocated lives on. Each lineage (one per -t) owns an array of `chunks` slots filled with
 * blocks of random size in [min,max]. Its current thread repeatedly picks a random slot,
 * frees the block there and puts a freshly allocated block of random size in its place.
 * At the end of a round the thread starts a successor, hands it the whole array and exits,
 * so every block allocated by one thread is freed by another, and the process keeps
 * creating threads for as long as it runs. The initial blocks are allocated by the main
 * thread, so even the first round frees foreign blocks.
 *
 * Only plain malloc/free are called: LD_PRELOAD decides which allocator is measured.
 * Build with -fno-builtin-malloc -fno-builtin-free; pointers also flow into a volatile sink
 * so that no malloc/free pair can be optimised away.
 *
 * Output: one line on stdout,
 *   larson: threads=T min=.. max=.. chunks=.. rounds=.. seconds=.. ops=N ops_per_sec=X
 *           maxrss_kb=K elapsed=E threads_created=C
 * (one line; wrapped here). One op is one free plus one malloc.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

typedef struct larson_config {
    double seconds;         /* total run time when ops_per_round is 0 */
    size_t min_size;
    size_t max_size;
    size_t chunks;          /* slots per lineage */
    unsigned rounds;        /* handoffs + 1 per lineage */
    uint64_t seed;
    unsigned threads;       /* lineages running at once */
    uint64_t ops_per_round; /* 0: rounds end by time */
    double report_every;    /* -v: seconds between RSS lines on stderr, 0 = off */
} larson_config;

/* One lineage: the state a thread hands to its successor. Aligned so two lineages' hot
 * counters never share a cache line. */
typedef struct lineage {
    _Alignas(64) void **slots;
    uint32_t *sizes;          /* requested size of each slot, for the integrity check */
    uint64_t rng;
    uint64_t ops;
    uint64_t corrupt;         /* blocks whose tag bytes changed while we held them */
    uint64_t threads_created;
    uint64_t create_failures;
    uintptr_t sink;
    unsigned round;           /* the round the current thread runs, from 0 */
    unsigned id;
    pthread_t predecessor;    /* joined by the successor, so exited threads never pile up */
    int has_predecessor;
    pthread_t last;           /* the thread that finished the lineage, joined by main */
} lineage;

static larson_config g_cfg;
static struct timespec g_start;
static volatile uintptr_t g_sink;

static pthread_mutex_t g_done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_done_cond = PTHREAD_COND_INITIALIZER;
static unsigned g_done;
static atomic_uint_fast64_t g_live_threads;

/* ---- randomness: splitmix64 derives per-lineage seeds, xorshift64* draws ---------------- */

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, n) by multiply-shift on the high 32 bits (n < 2^32 here). */
static inline uint64_t rng_below(uint64_t *s, uint64_t n) {
    return ((rng_next(s) >> 32) * n) >> 32;
}

static inline size_t random_size(uint64_t *s) {
    return g_cfg.min_size + (size_t)rng_below(s, g_cfg.max_size - g_cfg.min_size + 1);
}

/* ---- block contents: a tag at both ends, checked before free ---------------------------- */

static inline uint8_t tag_of(const void *p, size_t size) {
    uintptr_t a = (uintptr_t)p;
    return (uint8_t)((a >> 4) ^ (a >> 12) ^ size ^ 0x5a);
}

static inline void fill_block(unsigned char *p, size_t size) {
    uint8_t t = tag_of(p, size);
    size_t head = size < 8 ? size : 8;
    memset(p, t, head);
    p[size - 1] = t;
}

static inline int block_intact(const unsigned char *p, size_t size) {
    uint8_t t = tag_of(p, size);
    return p[0] == t && p[size - 1] == t;
}

/* ---- time ------------------------------------------------------------------------------ */

static double seconds_since(const struct timespec *t0) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) * 1e-9;
}

/* Rounds end on an absolute schedule measured from the common start, so the time spent
 * creating threads does not push every later round back. */
static double round_deadline(unsigned round) {
    return g_cfg.seconds * (double)(round + 1) / (double)g_cfg.rounds;
}

/* ---- the worker ------------------------------------------------------------------------ */

static void *lineage_thread(void *arg);

static void run_round(lineage *ln) {
    void **slots = ln->slots;
    uint32_t *sizes = ln->sizes;
    uint64_t rng = ln->rng;
    uint64_t ops = 0, corrupt = 0;
    uintptr_t sink = ln->sink;
    const size_t chunks = g_cfg.chunks;
    const uint64_t fixed = g_cfg.ops_per_round;
    const double deadline = round_deadline(ln->round);

    for (;;) {
        /* A batch between clock reads: the vDSO clock is cheap, but not free. */
        for (int i = 0; i < 64; i++) {
            size_t k = (size_t)rng_below(&rng, chunks);
            unsigned char *old = slots[k];
            if (!block_intact(old, sizes[k]))
                corrupt++;
            free(old);
            size_t size = random_size(&rng);
            unsigned char *p = malloc(size);
            if (p == NULL) {
                fprintf(stderr, "larson: malloc(%zu) failed: %s\n", size, strerror(errno));
                exit(2);
            }
            fill_block(p, size);
            sink ^= (uintptr_t)p;
            slots[k] = p;
            sizes[k] = (uint32_t)size;
            ops++;
            if (fixed != 0 && ops >= fixed)
                goto out;
        }
        if (fixed == 0 && seconds_since(&g_start) >= deadline)
            break;
    }
out:
    ln->rng = rng;
    ln->ops += ops;
    ln->corrupt += corrupt;
    ln->sink = sink;
}

static void lineage_finish(lineage *ln) {
    pthread_mutex_lock(&g_done_lock);
    g_sink ^= ln->sink;
    ln->last = pthread_self();
    g_done++;
    pthread_cond_signal(&g_done_cond);
    pthread_mutex_unlock(&g_done_lock);
}

static void *lineage_thread(void *arg) {
    lineage *ln = arg;
    atomic_fetch_add(&g_live_threads, 1);
    if (ln->has_predecessor) {
        pthread_join(ln->predecessor, NULL);
        ln->has_predecessor = 0;
    }
    for (;;) {
        run_round(ln);
        ln->round++;
        if (ln->round >= g_cfg.rounds) {
            lineage_finish(ln);
            atomic_fetch_sub(&g_live_threads, 1);
            return NULL;
        }
        /* Hand the array to a new thread and leave. Should the system refuse a thread, the
         * lineage goes on in this one rather than losing its blocks. */
        ln->predecessor = pthread_self();
        ln->has_predecessor = 1;
        pthread_t next;
        int rc = 0;
        for (int attempt = 0; attempt < 100; attempt++) {
            rc = pthread_create(&next, NULL, lineage_thread, ln);
            if (rc != EAGAIN)
                break;
            struct timespec pause = {0, 1000000};
            nanosleep(&pause, NULL);
        }
        if (rc == 0) {
            /* ln now belongs to the successor: touch nothing of it from here on. */
            atomic_fetch_sub(&g_live_threads, 1);
            return NULL;
        }
        ln->has_predecessor = 0;
        ln->create_failures++;
        fprintf(stderr, "larson: pthread_create: %s (lineage %u continues in place)\n",
                strerror(rc), ln->id);
    }
}

/* ---- command line ---------------------------------------------------------------------- */

static void usage(FILE *out) {
    fputs("usage: larson [-s seconds] [-m min_size] [-M max_size] [-c chunks_per_thread]\n"
          "              [-r rounds] [-S seed] [-t threads] [-n ops_per_round] [-v seconds]\n"
          "       larson seconds min max chunks rounds seed threads   (classic form;\n"
          "              trailing arguments may be left out)\n"
          "  -s  total run time in seconds (default 2; fractions allowed)\n"
          "  -m  smallest block in bytes (default 8, at least 1)\n"
          "  -M  largest block in bytes (default 1000)\n"
          "  -c  slots per thread (default 1000)\n"
          "  -r  rounds: each lineage hands its blocks to a new thread rounds-1 times, once\n"
          "      every seconds/rounds (default 10)\n"
          "  -S  seed (default 1)\n"
          "  -t  threads running at once (default 2)\n"
          "  -n  end each round after this many ops instead of by time (default 0 = by time)\n"
          "  -v  print the process RSS on stderr every this many seconds\n",
          out);
}

static int parse_u64(const char *s, uint64_t *out, uint64_t lo, uint64_t hi) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_seconds(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= 0.0) || v > 1e7)
        return -1;
    *out = v;
    return 0;
}

static int set_field(char which, const char *val) {
    uint64_t v;
    switch (which) {
    case 's': return parse_seconds(val, &g_cfg.seconds);
    case 'v': return parse_seconds(val, &g_cfg.report_every);
    case 'm':
        if (parse_u64(val, &v, 1, UINT32_MAX)) return -1;
        g_cfg.min_size = (size_t)v;
        return 0;
    case 'M':
        if (parse_u64(val, &v, 1, UINT32_MAX)) return -1;
        g_cfg.max_size = (size_t)v;
        return 0;
    case 'c':
        if (parse_u64(val, &v, 1, UINT32_MAX)) return -1;
        g_cfg.chunks = (size_t)v;
        return 0;
    case 'r':
        if (parse_u64(val, &v, 1, UINT32_MAX)) return -1;
        g_cfg.rounds = (unsigned)v;
        return 0;
    case 'S':
        return parse_u64(val, &g_cfg.seed, 0, UINT64_MAX);
    case 't':
        if (parse_u64(val, &v, 1, 4096)) return -1;
        g_cfg.threads = (unsigned)v;
        return 0;
    case 'n':
        return parse_u64(val, &g_cfg.ops_per_round, 0, UINT64_MAX);
    }
    return -1;
}

static void parse_args(int argc, char **argv) {
    g_cfg = (larson_config){.seconds = 2.0, .min_size = 8, .max_size = 1000, .chunks = 1000,
                            .rounds = 10, .seed = 1, .threads = 2};
    int opt;
    while ((opt = getopt(argc, argv, "s:m:M:c:r:S:t:n:v:h")) != -1) {
        if (opt == 'h') {
            usage(stdout);
            exit(0);
        }
        if (opt == '?' || set_field((char)opt, optarg) != 0) {
            if (opt != '?')
                fprintf(stderr, "larson: bad value for -%c: '%s'\n", opt, optarg);
            usage(stderr);
            exit(1);
        }
    }
    static const char positional[] = {'s', 'm', 'M', 'c', 'r', 'S', 't'};
    int npos = argc - optind;
    if (npos > (int)sizeof positional) {
        fprintf(stderr, "larson: too many arguments\n");
        usage(stderr);
        exit(1);
    }
    for (int i = 0; i < npos; i++) {
        if (set_field(positional[i], argv[optind + i]) != 0) {
            fprintf(stderr, "larson: bad positional argument %d: '%s'\n", i + 1,
                    argv[optind + i]);
            usage(stderr);
            exit(1);
        }
    }
    if (g_cfg.min_size > g_cfg.max_size) {
        fprintf(stderr, "larson: min (%zu) > max (%zu)\n", g_cfg.min_size, g_cfg.max_size);
        exit(1);
    }
}

/* ---- main ------------------------------------------------------------------------------ */

static long current_rss_kb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages_total = 0, pages_rss = -1;
    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld %ld", &pages_total, &pages_rss) != 2)
        pages_rss = -1;
    fclose(f);
    return pages_rss < 0 ? -1 : pages_rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static void wait_for_lineages(void) {
    struct timespec next;
    clock_gettime(CLOCK_REALTIME, &next);
    pthread_mutex_lock(&g_done_lock);
    while (g_done < g_cfg.threads) {
        if (g_cfg.report_every <= 0.0) {
            pthread_cond_wait(&g_done_cond, &g_done_lock);
            continue;
        }
        double step = g_cfg.report_every;
        next.tv_sec += (time_t)step;
        next.tv_nsec += (long)((step - (double)(time_t)step) * 1e9);
        if (next.tv_nsec >= 1000000000L) {
            next.tv_sec++;
            next.tv_nsec -= 1000000000L;
        }
        int rc = 0;
        while (g_done < g_cfg.threads && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&g_done_cond, &g_done_lock, &next);
        if (rc == ETIMEDOUT) {
            pthread_mutex_unlock(&g_done_lock);
            fprintf(stderr, "larson: t=%.2f rss_kb=%ld live_threads=%" PRIu64 "\n",
                    seconds_since(&g_start), current_rss_kb(),
                    (uint64_t)atomic_load(&g_live_threads));
            pthread_mutex_lock(&g_done_lock);
        }
    }
    pthread_mutex_unlock(&g_done_lock);
}

int main(int argc, char **argv) {
    parse_args(argc, argv);
    if (g_cfg.seconds <= 0.0 && g_cfg.ops_per_round == 0) {
        fprintf(stderr, "larson: need -s > 0 or -n > 0\n");
        return 1;
    }

    lineage *lineages = aligned_alloc(64, sizeof(lineage) * g_cfg.threads);
    if (lineages == NULL) {
        perror("larson: aligned_alloc");
        return 2;
    }
    uint64_t seed_state = g_cfg.seed;
    for (unsigned i = 0; i < g_cfg.threads; i++) {
        lineage *ln = &lineages[i];
        memset(ln, 0, sizeof *ln);
        ln->id = i;
        ln->rng = splitmix64(&seed_state) | 1; /* xorshift must not start at 0 */
        ln->slots = malloc(sizeof(void *) * g_cfg.chunks);
        ln->sizes = malloc(sizeof(uint32_t) * g_cfg.chunks);
        if (ln->slots == NULL || ln->sizes == NULL) {
            perror("larson: malloc");
            return 2;
        }
        for (size_t k = 0; k < g_cfg.chunks; k++) {
            size_t size = random_size(&ln->rng);
            unsigned char *p = malloc(size);
            if (p == NULL) {
                perror("larson: malloc");
                return 2;
            }
            fill_block(p, size);
            ln->slots[k] = p;
            ln->sizes[k] = (uint32_t)size;
        }
    }

    clock_gettime(CLOCK_MONOTONIC, &g_start);
    for (unsigned i = 0; i < g_cfg.threads; i++) {
        pthread_t t;
        int rc = pthread_create(&t, NULL, lineage_thread, &lineages[i]);
        if (rc != 0) {
            fprintf(stderr, "larson: pthread_create: %s\n", strerror(rc));
            return 2;
        }
        lineages[i].threads_created = 1;
    }
    wait_for_lineages();
    double elapsed = seconds_since(&g_start);

    uint64_t ops = 0, corrupt = 0, created = 0, failures = 0;
    for (unsigned i = 0; i < g_cfg.threads; i++) {
        lineage *ln = &lineages[i];
        pthread_join(ln->last, NULL);
        ops += ln->ops;
        corrupt += ln->corrupt;
        /* Every round after the first started one thread (unless creation failed). */
        created += ln->threads_created + (g_cfg.rounds - 1) - ln->create_failures;
        failures += ln->create_failures;
    }

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long maxrss_kb = ru.ru_maxrss;

    /* Untimed clean-up: the main thread frees what the last threads left behind. */
    for (unsigned i = 0; i < g_cfg.threads; i++) {
        lineage *ln = &lineages[i];
        for (size_t k = 0; k < g_cfg.chunks; k++) {
            if (!block_intact(ln->slots[k], ln->sizes[k]))
                corrupt++;
            free(ln->slots[k]);
        }
        free(ln->slots);
        free(ln->sizes);
    }
    free(lineages);

    printf("larson: threads=%u min=%zu max=%zu chunks=%zu rounds=%u seconds=%g ops=%" PRIu64
           " ops_per_sec=%.0f maxrss_kb=%ld elapsed=%.3f threads_created=%" PRIu64 "\n",
           g_cfg.threads, g_cfg.min_size, g_cfg.max_size, g_cfg.chunks, g_cfg.rounds,
           g_cfg.seconds, ops, elapsed > 0.0 ? (double)ops / elapsed : 0.0, maxrss_kb,
           elapsed, created);
    fflush(stdout);
    if (failures != 0)
        fprintf(stderr, "larson: %" PRIu64 " thread creations failed\n", failures);
    if (corrupt != 0) {
        fprintf(stderr, "larson: %" PRIu64 " blocks were corrupted while allocated\n", corrupt);
        return 3;
    }
    return 0;
}
