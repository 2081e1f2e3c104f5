/* numa.mode: each new SuperSlab and large mapping carries the policy that was set when it
 * was mapped (get_mempolicy(MPOL_F_ADDR) reads it back). One node is enough to see that. */
#include <errno.h>
#include <numaif.h>
#include <stdint.h>
#include <string.h>

#include "hakmem/hakmem.h"
#include "shim/hak_test.h"

static int policy_of(void *p) {
    int mode = -1;
    if (get_mempolicy(&mode, NULL, 0, p, MPOL_F_ADDR) != 0)
        return -1;
    return mode;
}

/* A large block from a fresh mapping: a size no earlier test freed (nothing cached fits). */
static void *fresh_large(size_t mib) {
    HAK_EXPECT_EQ(hak_config_set("large.policy", "mmap"), 0);
    return hak_malloc((mib << 20) + 12345);
}

/* A small block from a SuperSlab mapped now: allocate until a new one appears. */
static void *fresh_small(void **keep, size_t n) {
    uint64_t before = 0, now = 0;
    hak_counter_get("superslab_new", &before);
    void *last = NULL;
    for (size_t i = 0; i < n; i++) {
        keep[i] = hak_malloc(16000);
        hak_counter_get("superslab_new", &now);
        if (now > before) {
            last = keep[i];
            break;
        }
    }
    return last;
}

static void free_all(void **keep, size_t n) {
    for (size_t i = 0; i < n; i++) {
        hak_free(keep[i]);
        keep[i] = NULL;
    }
}

#ifdef HAKMEM_TEST_HAVE_NUMA
#define EXPECT_POLICY(p, want) HAK_EXPECT_EQ(policy_of(p), (want))
#else
#define EXPECT_POLICY(p, want) HAK_EXPECT_EQ(policy_of(p), MPOL_DEFAULT) /* built without */
#endif

/* Nothing cached: every large block below comes from a new mapping. */
static void caches_off(int off) {
    HAK_EXPECT_EQ(hak_config_set("bigcache.max_bytes", off ? "0" : "64M"), 0);
    HAK_EXPECT_EQ(hak_config_set("batch.max_bytes", off ? "0" : "1G"), 0);
    HAK_EXPECT_EQ(hak_config_set("large.flush", "1"), 0);
}

HAK_TEST(Numa, ModesApplyToNewMappings) {
    static void *keep[1024];
    caches_off(1);
    const struct {
        const char *mode;
        int policy;
    } cases[] = {{"interleave", MPOL_INTERLEAVE}, {"local", MPOL_PREFERRED},
                 {"off", MPOL_DEFAULT}, {"interleave", MPOL_INTERLEAVE}};
    for (unsigned c = 0; c < 4; c++) {
        HAK_ASSERT_EQ(hak_config_set("numa.mode", cases[c].mode), 0);
        char buf[16];
        HAK_ASSERT_EQ(hak_config_get("numa.mode", buf, sizeof buf), 0);
        HAK_EXPECT(strcmp(buf, cases[c].mode) == 0);
        void *big = fresh_large(40 + c * 3);
        HAK_ASSERT(big != NULL);
        EXPECT_POLICY(big, cases[c].policy);
        void *small = fresh_small(keep, 1024);
        HAK_ASSERT(small != NULL);
        EXPECT_POLICY(small, cases[c].policy);
        hak_free(big);
        free_all(keep, 1024);
    }
    caches_off(0);
    HAK_EXPECT_EQ(hak_config_set("numa.mode", "auto"), 0);
    HAK_EXPECT_EQ(hak_config_set("large.policy", "malloc"), 0);
}

HAK_TEST(Numa, BadModeRefused) {
    errno = 0;
    HAK_EXPECT(hak_config_set("numa.mode", "remote") != 0);
    HAK_EXPECT_EQ(errno, EINVAL);
    char buf[16];
    HAK_ASSERT_EQ(hak_config_get("numa.mode", buf, sizeof buf), 0);
    HAK_EXPECT(strcmp(buf, "remote") != 0);
}

HAK_TEST(Numa, PerNodeCountersSeeMappings) {
    uint64_t binds = 0;
    HAK_ASSERT_EQ(hak_config_set("numa.mode", "local"), 0);
    void *big = fresh_large(61);
    HAK_ASSERT(big != NULL);
    HAK_ASSERT_EQ(hak_counter_get("numa_bind_local", &binds), 0);
#ifdef HAKMEM_TEST_HAVE_NUMA
    HAK_EXPECT(binds >= 1);
#else
    HAK_EXPECT_EQ(binds, 0);
#endif
    hak_free(big);
    HAK_EXPECT_EQ(hak_config_set("numa.mode", "auto"), 0);
    HAK_EXPECT_EQ(hak_config_set("large.policy", "malloc"), 0);
}

/* One call site for every block of the test below: BigCache hands a mapping back to the
 * site that freed it. */
__attribute__((noinline)) static unsigned char *alloc_here(size_t size) {
    unsigned char *p = hak_malloc(size);
    __asm__ volatile("" ::: "memory");
    return p;
}

/* A range that becomes a block again carries the mode in force then, not the one it was
 * mapped under: a block taken from BigCache, one from the batch, and a block grown by
 * realloc (into a kept neighbour or by mremap) are all placed again. */
HAK_TEST(Numa, ReusedAndGrownBlocksArePlacedAgain) {
    HAK_ASSERT_EQ(hak_config_set("large.policy", "mmap"), 0);
    HAK_ASSERT_EQ(hak_config_set("numa.mode", "off"), 0);
    HAK_EXPECT_EQ(hak_config_set("large.purge_delay_ms", "-1"), 0);
    HAK_EXPECT_EQ(hak_config_set("large.flush", "1"), 0);
    const size_t mib = (size_t)1 << 20;
    /* Mapped under off, freed: the 3 MiB one to BigCache, the 300 KiB one to the batch. */
    unsigned char *a = alloc_here(3 * mib), *b = alloc_here(300 << 10);
    HAK_ASSERT(a != NULL && b != NULL);
    memset(a, 1, 3 * mib);
    memset(b, 1, 300 << 10);
    EXPECT_POLICY(a, MPOL_DEFAULT);
    hak_free(a);
    hak_free(b);
    HAK_ASSERT_EQ(hak_config_set("numa.mode", "interleave"), 0);
    uint64_t hits = 0, reuse = 0, hits2 = 0, reuse2 = 0;
    hak_counter_get("bigcache_hit", &hits);
    hak_counter_get("batch_reuse", &reuse);
    unsigned char *a2 = alloc_here(3 * mib), *b2 = alloc_here(300 << 10);
    HAK_ASSERT(a2 != NULL && b2 != NULL);
    hak_counter_get("bigcache_hit", &hits2);
    hak_counter_get("batch_reuse", &reuse2);
    HAK_EXPECT(hits2 > hits);   /* a2 is a's mapping */
    HAK_EXPECT(reuse2 > reuse); /* b2 is b's range */
    EXPECT_POLICY(a2, MPOL_INTERLEAVE);
    EXPECT_POLICY(a2 + 3 * mib - 1, MPOL_INTERLEAVE);
    EXPECT_POLICY(b2, MPOL_INTERLEAVE);
    /* Grown to 8 MiB under interleave: the whole block carries it, the part it had and the
     * part it gained. */
    HAK_ASSERT_EQ(hak_config_set("numa.mode", "off"), 0);
    unsigned char *c = alloc_here(4 * mib);
    HAK_ASSERT(c != NULL);
    memset(c, 2, 4 * mib);
    HAK_ASSERT_EQ(hak_config_set("numa.mode", "interleave"), 0);
    unsigned char *g = hak_realloc(c, 8 * mib);
    HAK_ASSERT(g != NULL);
    EXPECT_POLICY(g, MPOL_INTERLEAVE);
    EXPECT_POLICY(g + 8 * mib - 1, MPOL_INTERLEAVE);
    HAK_EXPECT_EQ(g[4 * mib - 1], 2);
    /* Back to off: a reused range is set back to the default policy. */
    hak_free(a2);
    HAK_ASSERT_EQ(hak_config_set("numa.mode", "off"), 0);
    unsigned char *a3 = alloc_here(3 * mib);
    HAK_ASSERT(a3 != NULL);
    HAK_EXPECT_EQ(policy_of(a3), MPOL_DEFAULT);
    hak_free(a3);
    hak_free(b2);
    hak_free(g);
    HAK_EXPECT_EQ(hak_config_set("large.purge_delay_ms", "1000"), 0);
    HAK_EXPECT_EQ(hak_config_set("numa.mode", "auto"), 0);
    HAK_EXPECT_EQ(hak_config_set("large.policy", "malloc"), 0);
}
