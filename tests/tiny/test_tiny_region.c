/* The SuperSlab region (superslab/region.c): small blocks lie inside it, the descriptor
 * computed from a pointer is the slab map's, SuperSlabs given back beyond the reserve are
 * decommitted (all 2 MiB count as unmapped) while their descriptors stay readable and dead,
 * and their slots serve the next SuperSlabs, inside the region again. Without a region
 * (HAKMEM_TINY_USE_SUPERSLAB=0 runs this file as pageslab.*) there is nothing to check. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/components.h"
#include "core/map.h"
#include "core/test_util.h"
#include "hakmem/hakmem.h"
#include "shim/hak_test.h"
#include "superslab/slab.h"

#define BLOCK    ((size_t)32768)   /* two blocks per slab, 62 per SuperSlab */
#define SS_BURST 96                /* SuperSlabs: past the 64 kept empty */
#define COUNT    (SS_BURST * 62)

static int in_region(const void *p) {
    return hak_superslab_region_has(p);
}

static int superslabs_in_use(void) {
    char v[16] = "";
    return hak_config_get("tiny.use_superslab", v, sizeof v) == 0 && strcmp(v, "1") == 0;
}

HAK_TEST(TinyRegion, SmallBlocksLieInTheRegion) {
    if (!superslabs_in_use())
        HAK_SKIP("the page provider maps every slab on its own");
    static const size_t sizes[] = {8, 100, 1000, 4096, 32768};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = hak_malloc(sizes[i]);
        HAK_ASSERT(p != NULL);
        HAK_EXPECT(in_region(p));
        /* The descriptor computed from the pointer is the one the slab map holds. */
        HAK_EXPECT(hak_superslab_slab_of(p) == hak_map_slab_lookup(p));
        HAK_EXPECT(hak_usable_size(p) >= sizes[i]);
        hak_free(p);
    }
    void *big = hak_malloc(BLOCK + 1); /* large room: never in the region */
    HAK_ASSERT(big != NULL);
    HAK_EXPECT(!in_region(big));
    hak_free(big);
}

HAK_TEST(TinyRegion, GivenBackSuperSlabsAreDecommittedAndReused) {
    if (!superslabs_in_use())
        HAK_SKIP("the page provider maps every slab on its own");
    void **p = malloc(COUNT * sizeof *p);
    HAK_ASSERT(p != NULL);
    for (size_t i = 0; i < COUNT; i++) {
        p[i] = hak_malloc(BLOCK);
        HAK_ASSERT(p[i] != NULL);
        ((char *)p[i])[0] = 1;
        ((char *)p[i])[BLOCK - 1] = 2;
    }
    size_t inside = 0;
    for (size_t i = 0; i < COUNT; i++)
        inside += in_region(p[i]);
    HAK_EXPECT_EQ(inside, (size_t)COUNT);

    uint64_t unmapped0 = hak_ctr("os_unmapped_bytes");
    for (size_t i = 0; i < COUNT; i++)
        hak_free(p[i]);
    /* 96 SuperSlabs emptied, 64 kept: the rest decommitted, 2 MiB each (the descriptors
     * are in the region's table). */
    uint64_t given_back = hak_ctr("os_unmapped_bytes") - unmapped0;
    const uint64_t per_ss = HAK_SUPERSLAB_SIZE;
    if (given_back < 16 * per_ss)
        hak_test_note("unmapped %llu bytes after freeing %d SuperSlabs' worth",
                      (unsigned long long)given_back, SS_BURST);
    HAK_EXPECT(given_back >= 16 * per_ss);
    /* Every descriptor, decommitted SuperSlabs' included, reads (no fault) and nearly all
     * are dead: a free of a stale pointer fails the block-start check. Alive: the slabs a
     * thread keeps (its current one, two empty ones, those of the blocks in its list). */
    size_t dead = 0;
    for (size_t i = 0; i < COUNT; i++)
        dead += hak_superslab_slab_of(p[i])->div_lim == 0;
    if (dead < COUNT - 64)
        hak_test_note("%zu of %d freed blocks' descriptors are dead", dead, COUNT);
    HAK_EXPECT(dead >= COUNT - 64);

    /* The same burst again: the decommitted slots come back (the region does not grow),
     * still inside the region. */
    uintptr_t extent = hak_superslab_region_extent;
    uint64_t mapped0 = hak_ctr("os_mapped_bytes");
    for (size_t i = 0; i < COUNT; i++) {
        p[i] = hak_malloc(BLOCK);
        HAK_ASSERT(p[i] != NULL);
        ((char *)p[i])[0] = 3; /* a decommitted range must be writable again */
        ((char *)p[i])[BLOCK - 1] = 4;
    }
    inside = 0;
    for (size_t i = 0; i < COUNT; i++)
        inside += in_region(p[i]);
    HAK_EXPECT_EQ(inside, (size_t)COUNT);
    HAK_EXPECT_EQ(hak_superslab_region_extent, extent);
    HAK_EXPECT(hak_ctr("os_mapped_bytes") - mapped0 >= 16 * per_ss);
    for (size_t i = 0; i < COUNT; i++)
        hak_free(p[i]);
    free(p);
}

/* Empty SuperSlabs go back once unused for tiny.unmap_delay_ms (a pass of the provider's
 * purge hook at a later time), and a trim unmaps the region's unused end: its address space
 * goes back (decommitted slots would still count under RLIMIT_AS), and the region grows
 * again from there. */
HAK_TEST(TinyRegion, EmptySuperSlabsAgeOutAndTrimShrinksTheRegion) {
    if (!superslabs_in_use())
        HAK_SKIP("the page provider maps every slab on its own");
    enum { N = 16 * 62 }; /* 16 SuperSlabs: fewer than the 64 kept at most */
    void **p = malloc(N * sizeof *p);
    HAK_ASSERT(p != NULL);
    for (size_t i = 0; i < N; i++) {
        p[i] = hak_malloc(BLOCK);
        HAK_ASSERT(p[i] != NULL);
        ((char *)p[i])[0] = 1;
    }
    for (size_t i = 0; i < N; i++)
        hak_free(p[i]);
    uint64_t kept = hak_ctr("kept_superslab_bytes");
    HAK_EXPECT(kept >= 8 * HAK_SUPERSLAB_SIZE); /* empty, kept mapped for reuse */
    uint64_t released = hak_ctr("superslab_release");
    hak_purge_req r = {HAK_PURGE_TIME, hak_clock_ms() + 3600 * 1000, 0, 0};
    hak_component_superslab.purge(&r);
    HAK_EXPECT_EQ(hak_ctr("kept_superslab_bytes"), 0);
    HAK_EXPECT(hak_ctr("superslab_release") >= released + kept / HAK_SUPERSLAB_SIZE);
    HAK_EXPECT_EQ(hak_ctr("retained_slab_bytes"), 0);
    /* The region's end: decommitted slots, now unmapped by a trim. */
    uintptr_t extent = hak_superslab_region_extent;
    hak_trim();
    uintptr_t shrunk = hak_superslab_region_extent;
    hak_test_note("region extent %zu KiB, after hak_trim %zu KiB", (size_t)extent >> 10,
                  (size_t)shrunk >> 10);
    HAK_EXPECT(shrunk < extent);
    HAK_EXPECT_EQ(hak_range_mapped((char *)hak_superslab_region_base + shrunk,
                                   extent - shrunk), 0);
    /* And it grows back: new blocks lie in the region again. */
    for (size_t i = 0; i < N; i++) {
        p[i] = hak_malloc(BLOCK);
        HAK_ASSERT(p[i] != NULL);
        ((char *)p[i])[BLOCK - 1] = 2;
    }
    size_t inside = 0;
    for (size_t i = 0; i < N; i++)
        inside += in_region(p[i]);
    HAK_EXPECT_EQ(inside, (size_t)N);
    for (size_t i = 0; i < N; i++)
        hak_free(p[i]);
    free(p);
}

/* The budget asks the provider for what the rooms above could not cover, oldest first: a
 * cap pass with nothing left to cover keeps every free slab resident, one asking for 64 KiB
 * gives back one slab. */
HAK_TEST(TinyRegion, BudgetTakesOnlyWhatItAsksFor) {
    if (!superslabs_in_use())
        HAK_SKIP("the page provider keeps no free slab");
    HAK_EXPECT_EQ(hak_config_set("tiny.purge_delay_ms", "-1"), 0);
    enum { N = 32 * 2 }; /* 32 slabs of two 32 KiB blocks (the thread keeps 16 blocks) */
    void *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = hak_malloc(BLOCK);
        HAK_ASSERT(p[i] != NULL);
        ((char *)p[i])[0] = 1;
    }
    for (int i = 0; i < N; i++)
        hak_free(p[i]);
    hak_purge_req all_tiny = {HAK_PURGE_TIME, hak_clock_ms(), 0, 0};
    hak_component_tiny.purge(&all_tiny); /* the heap's reserve: nothing (the clock is off) */
    uint64_t kept = hak_ctr("retained_slab_bytes");
    HAK_ASSERT(kept >= 4 * HAK_SLAB_SIZE);
    hak_purge_req none = {HAK_PURGE_CAP, hak_clock_ms(), 0, 0};
    hak_component_superslab.purge(&none);
    HAK_EXPECT_EQ(hak_ctr("retained_slab_bytes"), kept);
    hak_purge_req one = {HAK_PURGE_CAP, hak_clock_ms(), 0, HAK_SLAB_SIZE};
    hak_component_superslab.purge(&one);
    HAK_EXPECT_EQ(hak_ctr("retained_slab_bytes"), kept - HAK_SLAB_SIZE);
    HAK_EXPECT_EQ(one.excess, 0);
    HAK_EXPECT_EQ(hak_config_set("tiny.purge_delay_ms", "50"), 0);
}
