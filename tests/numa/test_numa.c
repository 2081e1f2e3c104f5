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
