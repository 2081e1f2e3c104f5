/* mixed: a multi-thread stress with a program's mix of requests, then everything freed, and
 * what the process still holds. hakmem's own implementation.
 *
 * T threads (default 8) run for S seconds. Each keeps up to LIVE blocks (default 2000) in a
 * table and, step by step, replaces a random slot: sizes 1 B - 8 MiB drawn from a seeded
 * PRNG, mostly small (90% up to 1 KiB, 9% up to 64 KiB, 1% up to 8 MiB); one allocation in
 * 16 is aligned (posix_memalign, 64 to 4096), one in 16 grows an existing block with realloc
 * (a chain of doublings up to 1 MiB); one block in 8 is not freed by its thread but handed
 * to the next thread through a mailbox, which frees it (cross-thread frees). Every block is
 * written (its first and last bytes, and one byte per 4 KiB page) and checked before it is
 * freed, so a block handed out twice is caught.
 *
 * Then every thread frees what it holds, the mailboxes are emptied, and the process reads
 * its RSS (VmRSS, what a user sees; MADV_FREE pages count) at four moments:
 *   peak_kb    the process peak (getrusage);
 *   live_kb    at the end of the stress, blocks still held;
 *   freed_kb   right after everything was freed;
 *   idle_kb    after IDLE seconds (default 2) with no call into the allocator, then one
 *              malloc(256 KiB)/free pair: an allocator that gives memory back on a clock
 *              (a purge delay) without a thread of its own does it there.
 * Output: one line on stdout,
 *   mixed: threads=T seconds=S live=L seed=X ops=N peak_kb=P live_kb=A freed_kb=F idle_kb=I
 * Exit status: 0 ok, 1 usage, 2 allocation failed, 3 a block changed while allocated.
 * Only plain malloc/free/realloc/posix_memalign are called: LD_PRELOAD picks the allocator. */
#define _GNU_SOURCE
#include <errno.h>
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

#define MAX_THREADS 64
#define MAILBOX 256

typedef struct block {
    unsigned char *p;
    size_t size;
    uint8_t tag;
} block;

typedef struct mailbox {
    pthread_mutex_t lock;
    block b[MAILBOX];
    unsigned n;
} mailbox;

static int g_threads = 8, g_live = 2000;
static double g_seconds = 5, g_idle = 2;
static uint64_t g_seed = 1;
static mailbox g_mail[MAX_THREADS];
static atomic_int g_stop, g_corrupt, g_failed;
static atomic_ullong g_ops;
static volatile uintptr_t g_sink;

static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static size_t pick_size(uint64_t *s) {
    uint64_t r = rng_next(s), band = r % 100;
    if (band < 90)
        return 1 + (size_t)((r >> 8) % 1024);
    if (band < 99)
        return 1025 + (size_t)((r >> 8) % (64 * 1024));
    return 65537 + (size_t)((r >> 8) % (8u << 20));
}

static void mark(block *b) {
    b->p[0] = b->tag;
    for (size_t i = 4096; i < b->size; i += 4096)
        b->p[i] = (uint8_t)(b->tag + (i >> 12));
    b->p[b->size - 1] = (uint8_t)~b->tag;
}

static void check_and_free(block *b) {
    if (!b->p)
        return;
    int bad = b->p[b->size - 1] != (uint8_t)~b->tag || (b->size > 1 && b->p[0] != b->tag);
    for (size_t i = 4096; i < b->size - 1 && !bad; i += 4096)
        bad = b->p[i] != (uint8_t)(b->tag + (i >> 12));
    if (bad && atomic_fetch_add(&g_corrupt, 1) == 0)
        fprintf(stderr, "mixed: block %p (%zu bytes) changed while allocated\n", (void *)b->p,
                b->size);
    free(b->p);
    b->p = NULL;
}

static int fill(block *b, uint64_t *s) {
    size_t size = pick_size(s);
    uint64_t r = rng_next(s);
    void *p = NULL;
    if (r % 16 == 0) {
        size_t align = (size_t)64 << (r >> 8) % 7; /* 64 .. 4096 */
        if (posix_memalign(&p, align, size) != 0)
            p = NULL;
    } else {
        p = malloc(size);
    }
    if (!p)
        return -1;
    b->p = p;
    b->size = size;
    b->tag = (uint8_t)(r >> 56);
    mark(b);
    return 0;
}

/* A realloc chain: the block doubles, up to 1 MiB, keeping what it held (its first byte is
 * checked; a 1-byte block's only byte is the last one). */
static int grow(block *b) {
    size_t size = b->size * 2 > (1u << 20) ? b->size : b->size * 2;
    unsigned char *q = realloc(b->p, size);
    if (!q)
        return -1;
    if (b->size > 1 && q[0] != b->tag && atomic_fetch_add(&g_corrupt, 1) == 0)
        fprintf(stderr, "mixed: realloc lost the contents of %p\n", (void *)q);
    b->p = q;
    b->size = size;
    mark(b);
    return 0;
}

static void post(int to, block *b) {
    mailbox *m = &g_mail[to];
    block old = {0};
    pthread_mutex_lock(&m->lock);
    if (m->n < MAILBOX) {
        m->b[m->n++] = *b;
    } else {
        old = m->b[0];
        m->b[0] = *b;
    }
    pthread_mutex_unlock(&m->lock);
    b->p = NULL;
    check_and_free(&old);
}

static void drain(int me) {
    mailbox *m = &g_mail[me];
    block got[MAILBOX];
    pthread_mutex_lock(&m->lock);
    unsigned n = m->n;
    memcpy(got, m->b, n * sizeof *got);
    m->n = 0;
    pthread_mutex_unlock(&m->lock);
    for (unsigned i = 0; i < n; i++)
        check_and_free(&got[i]);
}

static void *worker(void *arg) {
    int me = (int)(intptr_t)arg;
    uint64_t s = g_seed * 1000003 + (uint64_t)me;
    block *table = calloc((size_t)g_live, sizeof *table);
    if (!table) {
        atomic_store(&g_failed, 1);
        return NULL;
    }
    uint64_t ops = 0;
    while (!atomic_load_explicit(&g_stop, memory_order_relaxed)) {
        for (int k = 0; k < 64; k++, ops++) {
            block *b = &table[rng_next(&s) % (uint64_t)g_live];
            uint64_t r = rng_next(&s);
            int rc;
            if (b->p && r % 16 == 1) {
                rc = grow(b);
            } else {
                if (b->p && r % 8 == 2)
                    post((me + 1) % g_threads, b);
                else
                    check_and_free(b);
                rc = fill(b, &s);
            }
            if (rc != 0) {
                atomic_store(&g_failed, 1);
                atomic_store(&g_stop, 1);
                break;
            }
        }
        drain(me);
    }
    for (int i = 0; i < g_live; i++)
        check_and_free(&table[i]);
    free(table);
    atomic_fetch_add(&g_ops, ops);
    return NULL;
}

static long rss_kb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void usage(FILE *out) {
    fputs("usage: mixed [-t THREADS] [-s SECONDS] [-l LIVE] [-i IDLE_SECONDS] [-x SEED]\n", out);
}

int main(int argc, char **argv) {
    int opt;
    while ((opt = getopt(argc, argv, "t:s:l:i:x:h")) != -1) {
        switch (opt) {
        case 't': g_threads = atoi(optarg); break;
        case 's': g_seconds = atof(optarg); break;
        case 'l': g_live = atoi(optarg); break;
        case 'i': g_idle = atof(optarg); break;
        case 'x': g_seed = strtoull(optarg, NULL, 10); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 1;
        }
    }
    if (g_threads < 1 || g_threads > MAX_THREADS || g_live < 1 || g_seconds <= 0 ||
        g_idle < 0) {
        usage(stderr);
        return 1;
    }
    for (int i = 0; i < g_threads; i++)
        pthread_mutex_init(&g_mail[i].lock, NULL);
    pthread_t t[MAX_THREADS];
    for (int i = 0; i < g_threads; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) != 0) {
            perror("mixed: pthread_create");
            return 2;
        }
    sleep_s(g_seconds);
    long live = rss_kb();
    atomic_store(&g_stop, 1);
    for (int i = 0; i < g_threads; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < g_threads; i++)
        drain(i);
    long freed = rss_kb();
    sleep_s(g_idle);
    void *p = malloc(256 << 10);
    g_sink ^= (uintptr_t)p;
    free(p);
    long idle = rss_kb();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("mixed: threads=%d seconds=%.1f live=%d seed=%" PRIu64 " ops=%llu peak_kb=%ld "
           "live_kb=%ld freed_kb=%ld idle_kb=%ld\n",
           g_threads, g_seconds, g_live, g_seed, (unsigned long long)atomic_load(&g_ops),
           ru.ru_maxrss, live, freed, idle);
    fflush(stdout);
    if (atomic_load(&g_failed)) {
        fprintf(stderr, "mixed: an allocation failed\n");
        return 2;
    }
    return atomic_load(&g_corrupt) ? 3 : 0;
}
