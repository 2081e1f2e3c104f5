/* Tiny misuse is caught before anything is corrupted. With core.foreign_free=ignore a double
 * free or a free of a pointer into a block is reported (one line, the "misuse" counter
 * rises by exactly one) and then has no effect at all: the free lists stay sound, so
 * allocating the same size again never hands one block out twice (a block pushed twice on
 * a list comes back twice), and a block hit by an interior-pointer free stays allocated,
 * usable and intact. A pointer just past a slab's last block is no block either. tiny.checks=0
 * turns the reports off, except for pointers past the blocks handed out in their slab.
 *
 * Each case runs in a forked child (it misuses the allocator on purpose); the child returns
 * 0 when every check held, else prints what failed on stdout. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/map.h"
#include "core/test_util.h"
#include "hakmem/hakmem.h"
#include "shim/hak_test.h"
#include "superslab/slab.h"

#define CHILD_CHECK(cond)                                                                    \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                           \
            fflush(stdout);                                                                  \
            return 1;                                                                        \
        }                                                                                    \
    } while (0)

enum kind {
    DOUBLE_FREE_OWNER,         /* the owner frees twice in a row */
    DOUBLE_FREE_AFTER_FLUSH,   /* first free flushed from the thread list to the slab */
    DOUBLE_FREE_REMOTE,        /* another thread frees twice */
    DOUBLE_FREE_OWNER_REMOTE,  /* the owner frees, then another thread frees again */
    INTERIOR,                  /* frees of pointers into a live block */
};

struct misuse_case {
    enum kind kind;
    size_t size;
};

static int cmp_ptr(const void *a, const void *b) {
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* 1 when no two of the n blocks (each `size` usable bytes) overlap. Sorts p. */
static int all_disjoint(void **p, size_t n, size_t size) {
    qsort(p, n, sizeof *p, cmp_ptr);
    for (size_t i = 1; i < n; i++)
        if ((uintptr_t)p[i - 1] + size > (uintptr_t)p[i])
            return 0;
    return 1;
}

/* After the misuse: n fresh blocks of the size, together with the live ones, never share a
 * byte. Enough of them that the thread list, the slab's lists and its remote queue are all
 * drained through (a block listed twice would come out twice). */
static int fresh_blocks_disjoint(size_t size, void *const *live, size_t nlive) {
    /* More than a thread list (at most 1024 blocks) and a slab of the larger classes hold;
     * 8 MiB at most. */
    size_t fresh = ((size_t)8 << 20) / size;
    fresh = fresh < 64 ? 64 : fresh > 3000 ? 3000 : fresh;
    size_t total = fresh + nlive;
    void **p = malloc(total * sizeof *p);
    if (!p)
        return 0;
    size_t u = 0;
    for (size_t i = 0; i < fresh; i++) {
        p[i] = hak_malloc(size);
        if (!p[i])
            return 0;
        u = hak_usable_size(p[i]);
        memset(p[i], 0x3c, size); /* a block handed out twice is written twice */
    }
    for (size_t i = 0; i < nlive; i++)
        p[fresh + i] = live[i];
    int ok = all_disjoint(p, total, u);
    /* Free only the fresh ones (the sort mixed them with the live ones). */
    for (size_t i = 0; i < total; i++) {
        int is_live = 0;
        for (size_t k = 0; k < nlive; k++)
            is_live |= p[i] == live[k];
        if (!is_live)
            hak_free(p[i]);
    }
    free(p);
    return ok;
}

struct remote_arg {
    void *p;
    int times;
};

static void *remote_free(void *argp) {
    struct remote_arg *a = argp;
    for (int i = 0; i < a->times; i++)
        hak_free(a->p);
    return NULL;
}

static int free_from_other_thread(void *p, int times) {
    struct remote_arg a = {p, times};
    pthread_t t;
    if (pthread_create(&t, NULL, remote_free, &a) != 0)
        return -1;
    return pthread_join(t, NULL);
}

/* A misuse child's start: reports on and non-fatal, and n live blocks of the size, block i
 * filled with pattern i. 0 on success. */
static int misuse_child_setup(size_t size, unsigned char **keep, int n) {
    if (hak_config_set("core.foreign_free", "ignore") != 0 ||
        hak_config_set("tiny.checks", "1") != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        keep[i] = hak_malloc(size);
        if (!keep[i])
            return -1;
        hak_fill(keep[i], size, (uint64_t)i);
    }
    return 0;
}

static int double_free_child(void *argp) {
    const struct misuse_case *c = argp;
    size_t size = c->size;
    enum { K = 8 };
    unsigned char *keep[K];
    CHILD_CHECK(misuse_child_setup(size, keep, K) == 0);
    unsigned char *p = keep[3];
    keep[3] = NULL;
    uint64_t before = hak_ctr("misuse");

    switch (c->kind) {
    case DOUBLE_FREE_OWNER:
        hak_free(p);
        hak_free(p);
        break;
    case DOUBLE_FREE_AFTER_FLUSH: {
        /* Free p, then more blocks of its class than the thread list holds: the list
         * overflows and its older half (p first) goes back to the slab. */
        enum { MORE = 2100 }; /* > 1024, the largest list limit */
        void **more = malloc(MORE * sizeof *more);
        CHILD_CHECK(more != NULL);
        for (int i = 0; i < MORE; i++) {
            more[i] = hak_malloc(size);
            CHILD_CHECK(more[i] != NULL);
        }
        hak_free(p);
        for (int i = 0; i < MORE; i++)
            hak_free(more[i]);
        free(more);
        CHILD_CHECK(hak_ctr("misuse") == before);
        hak_free(p);
        break;
    }
    case DOUBLE_FREE_REMOTE:
        CHILD_CHECK(free_from_other_thread(p, 2) == 0);
        break;
    case DOUBLE_FREE_OWNER_REMOTE:
        hak_free(p);
        CHILD_CHECK(free_from_other_thread(p, 1) == 0);
        break;
    default:
        return 2;
    }
    printf("misuse +%llu\n", (unsigned long long)(hak_ctr("misuse") - before));
    CHILD_CHECK(hak_ctr("misuse") == before + 1);

    /* The same size twice: two different blocks, neither overlapping a live one. */
    unsigned char *x = hak_malloc(size), *y = hak_malloc(size);
    CHILD_CHECK(x != NULL && y != NULL);
    CHILD_CHECK(x != y);
    void *pair[2] = {x, y};
    CHILD_CHECK(all_disjoint(pair, 2, size));
    hak_fill(x, size, 100);
    hak_fill(y, size, 101);
    for (int i = 0; i < K; i++)
        if (keep[i])
            CHILD_CHECK(hak_check(keep[i], size, (uint64_t)i));
    CHILD_CHECK(hak_check(x, size, 100));
    CHILD_CHECK(hak_check(y, size, 101));

    /* And many more: the lists hand out each block once. */
    void *live[K + 2];
    size_t nlive = 0;
    for (int i = 0; i < K; i++)
        if (keep[i])
            live[nlive++] = keep[i];
    live[nlive++] = x;
    live[nlive++] = y;
    CHILD_CHECK(fresh_blocks_disjoint(size, live, nlive));
    for (int i = 0; i < K; i++)
        if (keep[i])
            CHILD_CHECK(hak_check(keep[i], size, (uint64_t)i));
    CHILD_CHECK(hak_check(x, size, 100));
    CHILD_CHECK(hak_check(y, size, 101));
    CHILD_CHECK(hak_ctr("misuse") == before + 1); /* nothing else was reported */
    return 0;
}

static int interior_child(void *argp) {
    const struct misuse_case *c = argp;
    size_t size = c->size;
    enum { K = 8 };
    unsigned char *keep[K];
    CHILD_CHECK(misuse_child_setup(size, keep, K) == 0);
    unsigned char *p = keep[3];
    size_t u = hak_usable_size(p);
    /* Pointers into p's block: just past its start, the middle, near the end. */
    size_t offs[3] = {u >= 32 ? 16 : 8, (u / 2) & ~(size_t)15, u - 8};
    if (offs[1] == 0)
        offs[1] = 8;
    uint64_t before = hak_ctr("misuse");
    for (int k = 0; k < 3; k++) {
        hak_free(p + offs[k]);
        CHILD_CHECK(hak_ctr("misuse") == before + (uint64_t)k + 1);
        /* The block is untouched by the refused free, and still ours. */
        CHILD_CHECK(hak_usable_size(p) == u);
        CHILD_CHECK(hak_check(p, size, 3));
    }
    printf("misuse +%llu\n", (unsigned long long)(hak_ctr("misuse") - before));

    /* The same size twice: neither is p or inside it. */
    unsigned char *x = hak_malloc(size), *y = hak_malloc(size);
    CHILD_CHECK(x != NULL && y != NULL);
    void *three[3] = {x, y, p};
    CHILD_CHECK(all_disjoint(three, 3, u));
    hak_fill(x, size, 100);
    hak_fill(y, size, 101);
    /* p is still usable: write all of it and read it back; the neighbours are intact. */
    hak_fill(p, u, 33);
    for (int i = 0; i < K; i++)
        if (i != 3)
            CHILD_CHECK(hak_check(keep[i], size, (uint64_t)i));
    CHILD_CHECK(hak_check(p, u, 33));
    CHILD_CHECK(hak_check(x, size, 100));
    CHILD_CHECK(hak_check(y, size, 101));

    void *live[K + 2];
    size_t nlive = 0;
    for (int i = 0; i < K; i++)
        live[nlive++] = keep[i];
    live[nlive++] = x;
    live[nlive++] = y;
    CHILD_CHECK(fresh_blocks_disjoint(size, live, nlive));
    CHILD_CHECK(hak_check(p, u, 33));

    /* p's own free is fine and reported nothing; its block serves the next request. */
    hak_free(p);
    keep[3] = NULL;
    CHILD_CHECK(hak_ctr("misuse") == before + 3);
    unsigned char *again = hak_malloc(size);
    CHILD_CHECK(again != NULL);
    hak_fill(again, size, 7);
    for (int i = 0; i < K; i++)
        if (keep[i])
            CHILD_CHECK(hak_check(keep[i], size, (uint64_t)i));
    CHILD_CHECK(hak_check(again, size, 7));
    return 0;
}

/* tiny.checks=0: an interior-pointer free is not reported and not counted. Without the
 * checks that free is NOT harmless (the pointer goes on the thread's list), so the child
 * allocates nothing of that size afterwards and leaves with _exit. A double free with the
 * checks off would corrupt the list for real and is not tried. A pointer past the blocks
 * handed out in its slab (past its last block, or to a block not carved yet) is reported
 * all the same: pushing it would hand out memory beyond the slab, or twice. Turning the
 * checks back on at run time makes the next misuse (in another size class) reported again. */
static int checks_off_child(void *argp) {
    (void)argp;
    CHILD_CHECK(hak_config_set("core.foreign_free", "ignore") == 0);
    CHILD_CHECK(hak_config_set("tiny.checks", "0") == 0);
    char v[8] = "";
    CHILD_CHECK(hak_config_get("tiny.checks", v, sizeof v) == 0 && strcmp(v, "0") == 0);
    unsigned char *p = hak_malloc(256), *q = hak_malloc(1000);
    CHILD_CHECK(p != NULL && q != NULL);
    memset(p, 1, 256);
    memset(q, 2, 1000);
    uint64_t before = hak_ctr("misuse"), suspects = hak_ctr("tiny_check_suspect");
    hak_free(p + 64);
    printf("checks=0: misuse +%llu, tiny_check_suspect +%llu\n",
           (unsigned long long)(hak_ctr("misuse") - before),
           (unsigned long long)(hak_ctr("tiny_check_suspect") - suspects));
    CHILD_CHECK(hak_ctr("misuse") == before);

    /* Just past the last 3 KiB block of r's slab (21 blocks end 1 KiB before the slab's end):
     * never handed out, whatever was carved. */
    unsigned char *r = hak_malloc(3000);
    CHILD_CHECK(r != NULL);
    size_t bs = hak_usable_size(r);
    unsigned char *past = (unsigned char *)((uintptr_t)r & ~(uintptr_t)0xffff) +
                          ((size_t)65536 / bs) * bs;
    hak_free(past);
    CHILD_CHECK(hak_ctr("misuse") == before + 1);
    /* The first block r's slab has not carved yet (a carve is 4 of its 21): a block
     * start, but never handed out. */
    hak_slab *s = hak_map_slab_lookup(r);
    CHILD_CHECK(s != NULL && s->carved < s->capacity);
    hak_free(s->start + (size_t)s->carved * bs);
    printf("checks=0, past the carved blocks: misuse +%llu\n",
           (unsigned long long)(hak_ctr("misuse") - before));
    CHILD_CHECK(hak_ctr("misuse") == before + 2);

    CHILD_CHECK(hak_config_set("tiny.checks", "1") == 0);
    hak_free(q + 16);
    CHILD_CHECK(hak_ctr("misuse") == before + 3);
    CHILD_CHECK(hak_all_bytes(q, 1000, 2));
    return 0;
}

/* A pointer just past the last block of a slab: when the slab size (64 KiB) is not a
 * multiple of the block size, the slab ends with a tail smaller than a block, and the end of
 * its last block is a multiple of the block size from the slab start, like a block start.
 * A program that frees "one past the end" of that block hands hakmem a pointer it never
 * gave out; it must be reported like an interior pointer, never put on a list (a block
 * carved there would run past the slab into its neighbour). Finds the last block through
 * the layout (slabs are 64 KiB-aligned, blocks packed from the start). */
#define SLAB_BYTES ((uintptr_t)64 << 10)

static int past_last_block_child(void *argp) {
    size_t size = *(const size_t *)argp;
    CHILD_CHECK(misuse_child_setup(0, NULL, 0) == 0);
    unsigned char *last = NULL;
    size_t u = 0;
    for (size_t n = 0; n < 8192 && !last; n++) { /* kept allocated: the child just exits */
        unsigned char *p = hak_malloc(size);
        CHILD_CHECK(p != NULL);
        u = hak_usable_size(p);
        uintptr_t off = (uintptr_t)p & (SLAB_BYTES - 1);
        if (off + u <= SLAB_BYTES && off + 2 * u > SLAB_BYTES && off + u < SLAB_BYTES)
            last = p; /* the last block, followed by a tail shorter than a block */
    }
    if (!last) {
        printf("no slab with a tail found for %zu-byte blocks (layout changed?)\n", size);
        return 0;
    }
    unsigned char *past = last + u;
    printf("last block %p, tail at %p (%lu bytes before the slab end)\n", (void *)last,
           (void *)past, (unsigned long)(SLAB_BYTES - ((uintptr_t)past & (SLAB_BYTES - 1))));
    uint64_t before = hak_ctr("misuse");
    hak_free(past);
    uint64_t reported = hak_ctr("misuse") - before;
    /* Nothing handed out afterwards is the tail or runs past a slab's end (only addresses
     * are looked at: such a block is not written). */
    size_t crossing = 0, at_tail = 0;
    for (size_t i = 0; i < 2000; i++) {
        unsigned char *p = hak_malloc(size);
        CHILD_CHECK(p != NULL);
        at_tail += p == past;
        crossing += ((uintptr_t)p & (SLAB_BYTES - 1)) + u > SLAB_BYTES;
    }
    printf("misuse +%llu; later blocks at the tail: %zu, running past a slab end: %zu\n",
           (unsigned long long)reported, at_tail, crossing);
    CHILD_CHECK(reported == 1);
    CHILD_CHECK(at_tail == 0);
    CHILD_CHECK(crossing == 0);
    return 0;
}

/* A thread allocates blocks, frees one (p) and exits: p goes back to its slab's free list
 * with the exiting heap's key. Freeing another of that thread's blocks makes this thread
 * take the slabs over (tiny/heap.c, hak_tiny_adopt_abandoned); freeing p again is then an
 * owner's double free, and it must still be caught: the adoption gives the slab's free
 * blocks the new owner's key. */
struct exiting_arg {
    size_t size;
    unsigned char *keep[8];
    unsigned char *p;
    int ok;
};

static void *exiting_thread(void *argp) {
    struct exiting_arg *a = argp;
    a->ok = 1;
    for (int i = 0; i < 8; i++) {
        a->keep[i] = hak_malloc(a->size);
        a->ok &= a->keep[i] != NULL;
        if (a->keep[i])
            hak_fill(a->keep[i], a->size, (uint64_t)i);
    }
    a->p = a->keep[3];
    a->keep[3] = NULL;
    if (a->p)
        hak_free(a->p);
    return NULL;
}

static int adopted_child(void *argp) {
    size_t size = *(const size_t *)argp;
    CHILD_CHECK(misuse_child_setup(0, NULL, 0) == 0);
    unsigned char *mine = hak_malloc(size); /* this thread's own heap, before the other's */
    CHILD_CHECK(mine != NULL);
    hak_fill(mine, size, 50);
    struct exiting_arg a = {.size = size};
    pthread_t t;
    CHILD_CHECK(pthread_create(&t, NULL, exiting_thread, &a) == 0);
    CHILD_CHECK(pthread_join(t, NULL) == 0);
    CHILD_CHECK(a.ok);
    /* A block of p's slab when there is one (the takeover is of every slab anyway). */
    int j = 2;
    for (int i = 0; i < 8; i++)
        if (a.keep[i] && ((uintptr_t)a.keep[i] >> 16) == ((uintptr_t)a.p >> 16))
            j = i;
    uint64_t before = hak_ctr("misuse");
    hak_free(a.keep[j]);
    a.keep[j] = NULL;
    CHILD_CHECK(hak_ctr("misuse") == before);
    hak_free(a.p);
    printf("misuse +%llu\n", (unsigned long long)(hak_ctr("misuse") - before));
    CHILD_CHECK(hak_ctr("misuse") == before + 1);

    void *live[9];
    size_t nlive = 0;
    for (int i = 0; i < 8; i++)
        if (a.keep[i])
            live[nlive++] = a.keep[i];
    live[nlive++] = mine;
    CHILD_CHECK(fresh_blocks_disjoint(size, live, nlive));
    for (int i = 0; i < 8; i++)
        if (a.keep[i])
            CHILD_CHECK(hak_check(a.keep[i], size, (uint64_t)i));
    CHILD_CHECK(hak_check(mine, size, 50));
    CHILD_CHECK(hak_ctr("misuse") == before + 1);
    return 0;
}

/* A slab another heap used and gave back, reused by this thread: pointers from its previous
 * life are stale. Freeing one that this thread's carve has put on its list (free, not yet
 * handed out) is a double free; freeing one past what was carved frees a block never
 * allocated. Both must be reported: the old owner's key in word 1 proves nothing to the new
 * owner, so carving rewrites the key and the block-start check stops at the carved blocks. */
#define STALE_SIZE   2600 /* 3 KiB blocks, 21 a slab, carved 4 at a time */
#define STALE_BLOCKS 63   /* three slabs' worth */

struct stale_arg {
    void *old[STALE_BLOCKS];
    int ok;
};

static void *give_back_thread(void *argp) {
    struct stale_arg *a = argp;
    a->ok = 1;
    for (int i = 0; i < STALE_BLOCKS; i++)
        a->ok &= (a->old[i] = hak_malloc(STALE_SIZE)) != NULL;
    for (int i = 0; i < STALE_BLOCKS; i++)
        hak_free(a->old[i]);
    return NULL; /* exits: its empty slabs go back to the provider */
}

static int was_old(const struct stale_arg *a, const void *p) {
    for (int i = 0; i < STALE_BLOCKS; i++)
        if (a->old[i] == p)
            return 1;
    return 0;
}

static int stale_child(void *argp) {
    int past_carved = *(const int *)argp;
    CHILD_CHECK(misuse_child_setup(0, NULL, 0) == 0);
    CHILD_CHECK(hak_config_set("tiny.purge_delay_ms", "-1") == 0); /* slabs stay dirty */
    unsigned char *mine = hak_malloc(64); /* this thread's own heap first */
    CHILD_CHECK(mine != NULL);
    struct stale_arg a;
    pthread_t t;
    CHILD_CHECK(pthread_create(&t, NULL, give_back_thread, &a) == 0);
    CHILD_CHECK(pthread_join(t, NULL) == 0);
    CHILD_CHECK(a.ok);
    /* Allocate until a block comes from one of those slabs (the provider hands out dirty
     * slabs first); q is the first block of such a slab, carved by this thread. */
    enum { TRIES = 400 };
    void **got = malloc(TRIES * sizeof *got);
    CHILD_CHECK(got != NULL);
    size_t n = 0;
    unsigned char *q = NULL;
    while (n < TRIES && !q) {
        got[n] = hak_malloc(STALE_SIZE);
        CHILD_CHECK(got[n] != NULL);
        if (was_old(&a, got[n]) && ((uintptr_t)got[n] & 0xffff) == 0)
            q = got[n];
        n++;
    }
    if (!q) {
        printf("no slab of the exited thread came back (provider order changed?)\n");
        return 3;
    }
    size_t bs = hak_usable_size(q);
    /* A carve batch is at least 4 blocks: q + bs is carved and on this thread's list. The
     * 16th block of the slab was not carved (a batch of 3 KiB blocks is 4). */
    unsigned char *stale = past_carved ? q + 16 * bs : q + bs;
    CHILD_CHECK(was_old(&a, stale));
    uint64_t before = hak_ctr("misuse");
    hak_free(stale);
    printf("misuse +%llu\n", (unsigned long long)(hak_ctr("misuse") - before));
    CHILD_CHECK(hak_ctr("misuse") == before + 1);
    for (size_t i = 0; i < n; i++)
        hak_fill(got[i], STALE_SIZE, i);
    CHILD_CHECK(fresh_blocks_disjoint(STALE_SIZE, got, n));
    for (size_t i = 0; i < n; i++)
        CHILD_CHECK(hak_check(got[i], STALE_SIZE, i));
    CHILD_CHECK(hak_ctr("misuse") == before + 1);
    return 0;
}

static void run_child(int (*fn)(void *), void *arg, const char *label, size_t report_lines) {
    hak_proc p;
    HAK_ASSERT_EQ(hak_fork_run(fn, arg, 0, 60, &p), 0);
    char what[64];
    size_t lines = hak_count_lines(p.err, p.err_len);
    if (!(p.exited && p.exit_code == 0) || lines != report_lines)
        hak_test_note("%s: child %s; stdout: %.600s; stderr (%zu lines): %.600s", label,
                      hak_proc_describe(&p, what, sizeof what), p.out, lines, p.err);
    HAK_EXPECT(p.exited);
    HAK_EXPECT_EQ(p.exit_code, 0);
    /* One line per reported misuse, each naming hakmem. */
    HAK_EXPECT_EQ(lines, report_lines);
    if (report_lines)
        HAK_EXPECT(strstr(p.err, "hakmem") != NULL);
    hak_proc_free(&p);
}

static const size_t sizes[] = {16, 48, 1000, 4096, 32768};

static void double_free_cases(enum kind kind, const char *name) {
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        struct misuse_case c = {kind, sizes[i]};
        char label[96];
        snprintf(label, sizeof label, "%s, %zu bytes", name, sizes[i]);
        run_child(double_free_child, &c, label, 1);
    }
}

HAK_TEST(TinyMisuseState, DoubleFreeByOwnerLeavesListsSound) {
    double_free_cases(DOUBLE_FREE_OWNER, "double free by the owner");
}

HAK_TEST(TinyMisuseState, DoubleFreeAfterFlushLeavesListsSound) {
    double_free_cases(DOUBLE_FREE_AFTER_FLUSH, "double free after a flush");
}

HAK_TEST(TinyMisuseState, DoubleFreeByOtherThreadLeavesListsSound) {
    double_free_cases(DOUBLE_FREE_REMOTE, "double free by another thread");
}

HAK_TEST(TinyMisuseState, FreeByOwnerThenOtherThreadLeavesListsSound) {
    double_free_cases(DOUBLE_FREE_OWNER_REMOTE, "free by the owner, again by another thread");
}

HAK_TEST(TinyMisuseState, DoubleFreeAfterAdoptionLeavesListsSound) {
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char label[96];
        snprintf(label, sizeof label, "double free after the slab was adopted, %zu bytes",
                 sizes[i]);
        run_child(adopted_child, (void *)&sizes[i], label, 1);
    }
}

HAK_TEST(TinyMisuseState, StalePointerIntoReusedSlabIsReported) {
    char provider[8] = "";
    if (hak_config_get("tiny.use_superslab", provider, sizeof provider) == 0 &&
        strcmp(provider, "0") == 0)
        HAK_SKIP("the page provider unmaps a released slab: mapped again it reads zero, no "
                 "stale key survives, and whether the addresses come back is the kernel's");
    static const int past_carved[] = {0, 1};
    static const char *what[] = {"a block carved onto the list", "a block not carved yet"};
    for (int i = 0; i < 2; i++) {
        char label[128];
        snprintf(label, sizeof label, "stale pointer into a slab another thread gave back: %s",
                 what[i]);
        run_child(stale_child, (void *)&past_carved[i], label, 1);
    }
}

HAK_TEST(TinyMisuseState, InteriorPointerLeavesBlockIntact) {
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        struct misuse_case c = {INTERIOR, sizes[i]};
        char label[96];
        snprintf(label, sizeof label, "interior pointers, %zu bytes", sizes[i]);
        run_child(interior_child, &c, label, 3);
    }
}

HAK_TEST(TinyMisuseState, ChecksOffReportOnlyWhatCannotBeFreed) {
    /* Three reports: the frees past the slab's last block and past its carved blocks, and
     * the misuse made after the checks were turned back on. */
    run_child(checks_off_child, NULL, "tiny.checks=0", 3);
}

HAK_TEST(TinyMisuseState, PointerPastLastBlockOfSlabIsReported) {
    static const size_t tail_sizes[] = {48, 80, 96, 3000}; /* 65536 is no multiple of these */
    for (size_t i = 0; i < sizeof tail_sizes / sizeof tail_sizes[0]; i++) {
        char label[96];
        snprintf(label, sizeof label, "pointer past the last %zu-byte block of a slab",
                 tail_sizes[i]);
        run_child(past_last_block_child, (void *)&tail_sizes[i], label, 1);
    }
}
