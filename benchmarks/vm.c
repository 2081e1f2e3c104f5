/* vm: the VM scenario. Large blocks are allocated, touched page by page, kept for a while
 * and freed, over and over, as a virtual machine's guest memory or a big-buffer workload
 * (image tiles, decompression windows, network buffers) does. hakmem's own implementation.
 *
 * A ring of `live` slots holds the blocks alive at any time. One cycle:
 *   1. free the oldest block, after reading back one byte per 4 KiB page of it (the
 *      checksum; every byte read is compared with what was written, so a block that an
 *      allocator handed out twice, or unmapped while live, is caught);
 *   2. malloc (or calloc, --calloc) a new block of the mode's size;
 *   3. write one byte in every 4 KiB page of it (and its last byte), so that every page is
 *      touched exactly as a first use would: a fresh mapping takes one page fault per page
 *      (or one per huge page), a reused range takes none.
 * Sizes: --mode random draws each size uniformly in [1 MiB, 32 MiB] (bytes, not pages)
 * from a seeded PRNG, the same sequence for every allocator; --mode fixed2m asks for 2 MiB
 * every time. --mode fullwrite is a program that keeps up to 20 blocks of 5-25 MiB and
 * replaces a random one each cycle, writing the new block in full (memset, as a C++
 * value-initialised buffer is), so it measures what a block costs to write, not only to
 * touch: step 1 frees a slot the PRNG picks, and step 3 writes every byte first; its
 * warm-up is 400 cycles (some allocators change behaviour after a few hundred).
 *
 * The ring is filled and `warmup` cycles run before the measured part, so start-up costs
 * and the first mappings are left out. The measured cycles are timed with
 * clock_gettime(CLOCK_MONOTONIC): ns_per_cycle is the total time over the cycles (total/N).
 * Not the median over chunks: with random sizes, and with allocators that are cheap most
 * cycles and pay for it every so often (an unmap, a purge, a cache refill), chunk times
 * differ for real reasons, and a median would drop exactly those costs (a median over a
 * runner's runs takes care of other processes' bursts instead). The median over chunks of
 * --chunk cycles is printed as well, as ns_per_cycle_chunk_median. minflt/majflt are
 * getrusage(RUSAGE_SELF) deltas over the measured part; maxrss_kb is the process peak.
 *
 * Only plain malloc/calloc/free are called: LD_PRELOAD decides which allocator is
 * measured. Build with -fno-builtin-malloc -fno-builtin-free; pointers and checksums flow
 * into a volatile sink so that nothing can be optimised away.
 *
 * Output: one line on stdout,
 *   vm: mode=M live=K cycles=N ns_per_cycle=X minflt=F majflt=J maxrss_kb=R
 *       ns_per_cycle_chunk_median=Y chunks=C chunk_cycles=S warmup=W seed=S calloc=0|1
 *       mib_per_cycle=B elapsed=E
 * (one line; wrapped here). Exit status: 0 ok, 1 usage, 2 allocation failed, 3 a block's
 * contents changed while it was allocated (or calloc returned non-zero memory).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MIB ((size_t)1 << 20)
#define TOUCH_STEP ((size_t)4096) /* one byte per 4 KiB page, whatever the system page */

enum vm_mode { MODE_RANDOM, MODE_FIXED2M, MODE_FULLWRITE };

static const char *const mode_names[] = {"random", "fixed2m", "fullwrite"};

typedef struct vm_config {
    enum vm_mode mode;
    size_t live;          /* blocks alive at once (the ring) */
    uint64_t cycles;      /* measured cycles */
    uint64_t warmup;      /* untimed cycles after the ring is filled */
    uint64_t chunk;       /* cycles per timed chunk; 0 = cycles/32 */
    uint64_t seed;
    size_t min_size;      /* random mode bounds */
    size_t max_size;
    int use_calloc;
} vm_config;

typedef struct slot {
    unsigned char *p;
    size_t size;
    uint8_t tag;
} slot;

static vm_config g_cfg;
static volatile uintptr_t g_sink;
static uint64_t g_rng;
static uint64_t g_corrupt;
static uint64_t g_bytes;

/* ---- randomness: splitmix64 turns the seed into a state, xorshift64* draws ------------- */

static uint64_t mix_seed(uint64_t seed) {
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return z | 1; /* xorshift must not start at 0 */
}

static inline uint64_t rng_next(void) {
    uint64_t x = g_rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    g_rng = x;
    return x * 0x2545f4914f6cdd1dULL;
}

static size_t next_size(void) {
    if (g_cfg.mode == MODE_FIXED2M)
        return 2 * MIB;
    uint64_t span = (uint64_t)(g_cfg.max_size - g_cfg.min_size) + 1;
    /* 64x64 -> high 64 bits: uniform enough in [0, span) for any span. */
    uint64_t r = (uint64_t)(((unsigned __int128)rng_next() * span) >> 64);
    return g_cfg.min_size + (size_t)r;
}

/* ---- one block: write every page, read it back before free ----------------------------- */

static inline uint8_t page_byte(uint8_t tag, size_t i) {
    return (uint8_t)(tag + (i >> 12) * 7u);
}

/* The last byte gets its own mark unless the page loop already wrote it. */
static inline int has_tail(size_t size) {
    return size > 1 && (size - 1) % TOUCH_STEP != 0;
}

static void touch_block(slot *s) {
    unsigned char *p = s->p;
    size_t size = s->size;
    uint8_t tag = s->tag;
    uint64_t nonzero = 0;
    if (g_cfg.mode == MODE_FULLWRITE && !g_cfg.use_calloc)
        memset(p, tag, size); /* every byte, then the page marks below over it */
    for (size_t i = 0; i < size; i += TOUCH_STEP) {
        p[i] = page_byte(tag, i);
        /* calloc: the byte after the written one must still be zero (read after the write,
         * so the check costs no extra page fault). */
        if (g_cfg.use_calloc && i + 1 < size && p[i + 1] != 0)
            nonzero++;
    }
    if (has_tail(size))
        p[size - 1] = (uint8_t)~tag;
    if (nonzero != 0) {
        if (g_corrupt == 0)
            fprintf(stderr, "vm: calloc(%zu) returned %" PRIu64 " non-zero pages at %p\n",
                    size, nonzero, (void *)p);
        g_corrupt++;
    }
}

/* Reads one byte per page (the checksum) and compares it with what touch_block wrote. */
static uint64_t check_block(const slot *s) {
    const unsigned char *p = s->p;
    uint64_t sum = 0, expect = 0;
    for (size_t i = 0; i < s->size; i += TOUCH_STEP) {
        sum += p[i];
        expect += page_byte(s->tag, i);
    }
    uint8_t last = (uint8_t)~s->tag;
    int bad = sum != expect || (has_tail(s->size) && p[s->size - 1] != last);
    if (bad) {
        if (g_corrupt == 0)
            fprintf(stderr, "vm: block %p (%zu bytes) changed while allocated\n",
                    (const void *)p, s->size);
        g_corrupt++;
    }
    return sum;
}

static void new_block(slot *s) {
    size_t size = next_size();
    unsigned char *p = g_cfg.use_calloc ? calloc(1, size) : malloc(size);
    if (p == NULL) {
        fprintf(stderr, "vm: %s(%zu) failed: %s\n", g_cfg.use_calloc ? "calloc" : "malloc",
                size, strerror(errno));
        exit(2);
    }
    s->p = p;
    s->size = size;
    s->tag = (uint8_t)(rng_next() >> 56);
    touch_block(s);
    g_bytes += size;
    g_sink ^= (uintptr_t)p;
}

static void drop_block(slot *s) {
    g_sink += check_block(s);
    free(s->p);
    s->p = NULL;
}

/* One cycle on the ring: the oldest block goes (fullwrite: a random one), a new one takes
 * its slot. */
static inline void cycle(slot *ring, uint64_t *next) {
    if (g_cfg.mode == MODE_FULLWRITE)
        *next = (uint64_t)(((unsigned __int128)rng_next() * g_cfg.live) >> 64);
    slot *s = &ring[*next];
    drop_block(s);
    new_block(s);
    if (++*next == g_cfg.live)
        *next = 0;
}

/* ---- command line ---------------------------------------------------------------------- */

static void usage(FILE *out) {
    fputs("usage: vm [--mode random|fixed2m|fullwrite] [--live K] [--cycles N] [--warmup W]\n"
          "          [--seed S] [--chunk C] [--min BYTES] [--max BYTES] [--calloc]\n"
          "  --mode    random: sizes uniform in [--min, --max] (default 1M-32M);\n"
          "            fixed2m: every block 2 MiB;\n"
          "            fullwrite: sizes uniform in [--min, --max] (default 5M-25M), a random\n"
          "            block replaced each cycle and written in full (default random)\n"
          "  --live    blocks alive at once, a ring: each cycle frees the oldest (default 4;\n"
          "            fullwrite 20)\n"
          "  --cycles  measured cycles (default 256 random, 16384 fixed2m, 2000 fullwrite)\n"
          "  --warmup  untimed cycles after the ring is filled (default 2*live; fullwrite 400)\n"
          "  --chunk   cycles per timed chunk, for ns_per_cycle_chunk_median (default\n"
          "            cycles/32, at least 1); ns_per_cycle is total time / cycles\n"
          "  --seed    PRNG seed for sizes and contents (default 1)\n"
          "  --min/--max  random-mode bounds in bytes, K/M/G suffixes allowed\n"
          "  --calloc  allocate with calloc (and check the memory reads as zero)\n",
          out);
}

static int parse_u64(const char *s, uint64_t *out, uint64_t lo, uint64_t hi) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno != 0 || end == s || s[0] == '-')
        return -1;
    unsigned shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    }
    if (*end != '\0' || (shift != 0 && v > (UINT64_MAX >> shift)))
        return -1;
    v <<= shift;
    if (v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static void bad_value(const char *opt, const char *val) {
    fprintf(stderr, "vm: bad value for --%s: '%s'\n", opt, val);
    usage(stderr);
    exit(1);
}

static void parse_args(int argc, char **argv) {
    static const struct option longopts[] = {
        {"mode", required_argument, NULL, 'm'},   {"live", required_argument, NULL, 'l'},
        {"cycles", required_argument, NULL, 'n'}, {"warmup", required_argument, NULL, 'w'},
        {"seed", required_argument, NULL, 's'},   {"chunk", required_argument, NULL, 'c'},
        {"min", required_argument, NULL, 'a'},    {"max", required_argument, NULL, 'b'},
        {"calloc", no_argument, NULL, 'z'},       {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    g_cfg = (vm_config){.mode = MODE_RANDOM, .live = 4, .seed = 1,
                        .min_size = MIB, .max_size = 32 * MIB};
    int have_cycles = 0, have_warmup = 0, have_live = 0, have_bounds = 0, opt;
    uint64_t v;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'm':
            if (strcmp(optarg, "random") == 0)
                g_cfg.mode = MODE_RANDOM;
            else if (strcmp(optarg, "fixed2m") == 0)
                g_cfg.mode = MODE_FIXED2M;
            else if (strcmp(optarg, "fullwrite") == 0)
                g_cfg.mode = MODE_FULLWRITE;
            else
                bad_value("mode", optarg);
            break;
        case 'l':
            if (parse_u64(optarg, &v, 1, 1u << 20)) bad_value("live", optarg);
            g_cfg.live = (size_t)v;
            have_live = 1;
            break;
        case 'n':
            if (parse_u64(optarg, &g_cfg.cycles, 1, UINT64_MAX / 2)) bad_value("cycles", optarg);
            have_cycles = 1;
            break;
        case 'w':
            if (parse_u64(optarg, &g_cfg.warmup, 0, UINT64_MAX / 2)) bad_value("warmup", optarg);
            have_warmup = 1;
            break;
        case 's':
            if (parse_u64(optarg, &g_cfg.seed, 0, UINT64_MAX)) bad_value("seed", optarg);
            break;
        case 'c':
            if (parse_u64(optarg, &g_cfg.chunk, 1, UINT64_MAX / 2)) bad_value("chunk", optarg);
            break;
        case 'a':
            if (parse_u64(optarg, &v, 1, (uint64_t)1 << 40)) bad_value("min", optarg);
            g_cfg.min_size = (size_t)v;
            have_bounds = 1;
            break;
        case 'b':
            if (parse_u64(optarg, &v, 1, (uint64_t)1 << 40)) bad_value("max", optarg);
            g_cfg.max_size = (size_t)v;
            have_bounds = 1;
            break;
        case 'z':
            g_cfg.use_calloc = 1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            exit(1);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vm: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        exit(1);
    }
    if (g_cfg.mode == MODE_FULLWRITE) {
        /* A long warm-up: some allocators change behaviour after a few hundred
         * replacements (tcmalloc starts giving memory back), and the measured cycles should
         * see what a long-running program sees. */
        if (!have_warmup) {
            g_cfg.warmup = 400;
            have_warmup = 1;
        }
        if (!have_live)
            g_cfg.live = 20;
        if (!have_bounds) {
            g_cfg.min_size = 5 * MIB;
            g_cfg.max_size = 25 * MIB;
        }
    }
    if (g_cfg.min_size > g_cfg.max_size) {
        fprintf(stderr, "vm: --min (%zu) > --max (%zu)\n", g_cfg.min_size, g_cfg.max_size);
        exit(1);
    }
    if (!have_cycles)
        g_cfg.cycles = g_cfg.mode == MODE_FIXED2M ? 16384 : g_cfg.mode == MODE_FULLWRITE ? 2000 : 256;
    if (!have_warmup)
        g_cfg.warmup = 2 * (uint64_t)g_cfg.live;
    if (g_cfg.chunk == 0)
        g_cfg.chunk = g_cfg.cycles / 32 ? g_cfg.cycles / 32 : 1;
    if (g_cfg.chunk > g_cfg.cycles)
        g_cfg.chunk = g_cfg.cycles;
}

/* ---- main ------------------------------------------------------------------------------ */

static uint64_t ns_between(const struct timespec *a, const struct timespec *b) {
    return (uint64_t)(b->tv_sec - a->tv_sec) * 1000000000u + (uint64_t)b->tv_nsec -
           (uint64_t)a->tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    parse_args(argc, argv);
    g_rng = mix_seed(g_cfg.seed);

    /* Bookkeeping comes first, before any block exists, so it never sits between them. */
    uint64_t nchunks = (g_cfg.cycles + g_cfg.chunk - 1) / g_cfg.chunk;
    slot *ring = calloc(g_cfg.live, sizeof *ring);
    double *per_cycle = malloc(sizeof(double) * nchunks);
    if (ring == NULL || per_cycle == NULL) {
        perror("vm: bookkeeping");
        return 2;
    }

    uint64_t next = 0;
    for (size_t k = 0; k < g_cfg.live; k++)
        new_block(&ring[k]);
    for (uint64_t i = 0; i < g_cfg.warmup; i++)
        cycle(ring, &next);

    struct rusage ru0, ru1;
    struct timespec t0, t1, c0, c1;
    getrusage(RUSAGE_SELF, &ru0);
    uint64_t bytes0 = g_bytes;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    c0 = t0;
    uint64_t done = 0;
    for (uint64_t c = 0; c < nchunks; c++) {
        uint64_t n = g_cfg.cycles - done < g_cfg.chunk ? g_cfg.cycles - done : g_cfg.chunk;
        for (uint64_t i = 0; i < n; i++)
            cycle(ring, &next);
        done += n;
        clock_gettime(CLOCK_MONOTONIC, &c1);
        per_cycle[c] = (double)ns_between(&c0, &c1) / (double)n;
        c0 = c1;
    }
    t1 = c0;
    getrusage(RUSAGE_SELF, &ru1);
    uint64_t measured_bytes = g_bytes - bytes0;
    uint64_t total_ns = ns_between(&t0, &t1);

    /* Untimed clean-up: the blocks still in the ring are checked and freed. */
    for (size_t k = 0; k < g_cfg.live; k++)
        drop_block(&ring[k]);
    free(ring);

    qsort(per_cycle, nchunks, sizeof *per_cycle, cmp_double);
    double median = nchunks % 2 ? per_cycle[nchunks / 2]
                                : (per_cycle[nchunks / 2 - 1] + per_cycle[nchunks / 2]) / 2;
    free(per_cycle);

    printf("vm: mode=%s live=%zu cycles=%" PRIu64 " ns_per_cycle=%.0f minflt=%ld majflt=%ld"
           " maxrss_kb=%ld ns_per_cycle_chunk_median=%.0f chunks=%" PRIu64 " chunk_cycles=%" PRIu64
           " warmup=%" PRIu64 " seed=%" PRIu64 " calloc=%d mib_per_cycle=%.2f elapsed=%.3f\n",
           mode_names[g_cfg.mode], g_cfg.live, g_cfg.cycles,
           (double)total_ns / (double)g_cfg.cycles, ru1.ru_minflt - ru0.ru_minflt,
           ru1.ru_majflt - ru0.ru_majflt, ru1.ru_maxrss, median, nchunks, g_cfg.chunk, g_cfg.warmup,
           g_cfg.seed, g_cfg.use_calloc, (double)measured_bytes / (double)g_cfg.cycles / MIB,
           (double)total_ns * 1e-9);
    fflush(stdout);
    if (g_corrupt != 0) {
        fprintf(stderr, "vm: %" PRIu64 " blocks were corrupted while allocated\n", g_corrupt);
        return 3;
    }
    return 0;
}
