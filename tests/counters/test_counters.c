/* Counters API: snapshot, get, print; large-path counters move with the work done.
 * Threads and the exit report are in test_counters_exit.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/test_util.h"
#include "hakmem/hakmem.h"
#include "shim/hak_test.h"

HAK_TEST(Counters, SnapshotNamesUniqueAndRequiredPresent) {
    size_t n = hak_counters_snapshot(NULL, 0);
    HAK_ASSERT(n > 0);
    hak_counter_value *v = calloc(n, sizeof *v);
    HAK_ASSERT(v != NULL);
    HAK_EXPECT_EQ(hak_counters_snapshot(v, n), n);
    for (size_t i = 0; i < n; i++) {
        HAK_ASSERT(v[i].name != NULL);
        HAK_EXPECT(v[i].name[0] != '\0');
        for (size_t j = 0; j < i; j++)
            HAK_EXPECT(strcmp(v[i].name, v[j].name) != 0);
    }
    static const char *const required[] = {
        "os_mmap",        "os_munmap",          "os_mapped_bytes", "os_unmapped_bytes",
        "foreign_free",   "large_alloc_malloc", "large_alloc_mmap", "large_free",
        "policy_switch",  "bigcache_hit",       "bigcache_miss",   "batch_add",
        "batch_flush",    "minflt",             "majflt",
    };
    for (size_t r = 0; r < sizeof required / sizeof required[0]; r++) {
        int found = 0;
        for (size_t i = 0; i < n; i++)
            found |= strcmp(v[i].name, required[r]) == 0;
        if (!found)
            hak_test_note("counter %s missing", required[r]);
        HAK_EXPECT(found);
    }
    free(v);
}

HAK_TEST(Counters, PartialSnapshotFillsOnlyMax) {
    size_t n = hak_counters_snapshot(NULL, 0);
    HAK_ASSERT(n > 3);
    hak_counter_value v[4];
    memset(v, 0, sizeof v);
    v[3].name = "sentinel";
    v[3].value = 0xdeadbeef;
    HAK_EXPECT_EQ(hak_counters_snapshot(v, 3), n);
    for (int i = 0; i < 3; i++)
        HAK_EXPECT(v[i].name != NULL);
    HAK_EXPECT(strcmp(v[3].name, "sentinel") == 0);
    HAK_EXPECT_EQ(v[3].value, 0xdeadbeef);
}

HAK_TEST(Counters, GetAgreesWithSnapshotAndRejectsUnknown) {
    size_t n = hak_counters_snapshot(NULL, 0);
    hak_counter_value *v = calloc(n, sizeof *v);
    HAK_ASSERT(v != NULL);
    hak_counter_value *w = calloc(n, sizeof *w);
    HAK_ASSERT(w != NULL);
    hak_counters_snapshot(v, n);
    uint64_t got[256];
    HAK_ASSERT(n <= sizeof got / sizeof got[0]);
    for (size_t i = 0; i < n; i++)
        HAK_EXPECT_EQ(hak_counter_get(v[i].name, &got[i]), 0);
    hak_counters_snapshot(w, n);
    /* Counters only grow (minflt may between the readings): each get lies between the
     * snapshot before and the one after. */
    for (size_t i = 0; i < n; i++) {
        HAK_EXPECT(strcmp(v[i].name, w[i].name) == 0);
        HAK_EXPECT(got[i] >= v[i].value);
        HAK_EXPECT(got[i] <= w[i].value);
    }
    free(w);
    uint64_t x = 42;
    HAK_EXPECT_EQ(hak_counter_get("no_such_counter", &x), -1);
    HAK_EXPECT_EQ(hak_counter_get("", &x), -1);
    HAK_EXPECT_EQ(hak_counter_get(NULL, &x), -1);
    HAK_EXPECT_EQ(hak_counter_get("large_free", NULL), -1);
    free(v);
}

HAK_TEST(Counters, LargeCountersFollowTheWork) {
    HAK_ASSERT_EQ(hak_config_set("large.policy", "malloc"), 0);
    uint64_t am = hak_ctr("large_alloc_malloc"), ap = hak_ctr("large_alloc_mmap");
    uint64_t fr = hak_ctr("large_free");
    void *p[10];
    for (int i = 0; i < 10; i++) {
        p[i] = hak_malloc(100000 + (size_t)i);
        HAK_ASSERT(p[i] != NULL);
    }
    HAK_EXPECT_EQ(hak_ctr("large_alloc_malloc"), am + 10);
    HAK_EXPECT_EQ(hak_ctr("large_alloc_mmap"), ap);
    for (int i = 0; i < 10; i++)
        hak_free(p[i]);
    HAK_EXPECT_EQ(hak_ctr("large_free"), fr + 10);

    HAK_ASSERT_EQ(hak_config_set("large.policy", "mmap"), 0);
    uint64_t mapped = hak_ctr("os_mapped_bytes");
    uint64_t reused = hak_ctr("bigcache_hit") + hak_ctr("batch_reuse") + hak_ctr("os_mremap");
    uint64_t mm = hak_ctr("os_mmap") + hak_ctr("bigcache_hit") + hak_ctr("batch_reuse");
    /* A size and a call site used nowhere before: served by a fresh mapping or a reuse. */
    void *q = hak_malloc((7u << 20) + 12345);
    HAK_ASSERT(q != NULL);
    HAK_EXPECT_EQ(hak_ctr("large_alloc_mmap"), ap + 1);
    HAK_EXPECT(hak_ctr("os_mmap") + hak_ctr("bigcache_hit") + hak_ctr("batch_reuse") > mm);
    /* Not a reuse (nor a kept range grown with mremap): a fresh mapping, counted in bytes. */
    if (hak_ctr("bigcache_hit") + hak_ctr("batch_reuse") + hak_ctr("os_mremap") == reused)
        HAK_EXPECT(hak_ctr("os_mapped_bytes") >= mapped + (7u << 20));
    hak_free(q);
    HAK_EXPECT_EQ(hak_ctr("large_free"), fr + 11);

    uint64_t sw = hak_ctr("policy_switch");
    HAK_ASSERT_EQ(hak_policy_select(HAK_SLOT_LARGE, "malloc"), 0);
    HAK_EXPECT(hak_ctr("policy_switch") > sw);
}

HAK_TEST(Counters, ForeignFreeCounted) {
    HAK_ASSERT_EQ(hak_config_set("core.foreign_free", "ignore"), 0);
    uint64_t before = hak_ctr("foreign_free");
    /* The report line goes to stderr; silence it for this call. */
    int saved = dup(2);
    int devnull = open("/dev/null", O_WRONLY);
    HAK_ASSERT(saved >= 0 && devnull >= 0);
    dup2(devnull, 2);
    int local;
    hak_free(&local);
    dup2(saved, 2);
    close(saved);
    close(devnull);
    HAK_EXPECT_EQ(hak_ctr("foreign_free"), before + 1);
    HAK_EXPECT_EQ(hak_config_set("core.foreign_free", "abort"), 0);
}

HAK_TEST(Counters, PrintListsEveryCounter) {
    char path[] = "/tmp/hakmem-counters-XXXXXX";
    int fd = mkstemp(path);
    HAK_ASSERT(fd >= 0);
    unlink(path);
    hak_counters_print(fd);
    off_t len = lseek(fd, 0, SEEK_CUR);
    HAK_ASSERT(len > 0);
    char *buf = calloc(1, (size_t)len + 1);
    HAK_ASSERT(buf != NULL);
    HAK_ASSERT_EQ(pread(fd, buf, (size_t)len, 0), len);
    close(fd);
    size_t n = hak_counters_snapshot(NULL, 0);
    hak_counter_value *v = calloc(n, sizeof *v);
    HAK_ASSERT(v != NULL);
    hak_counters_snapshot(v, n);
    for (size_t i = 0; i < n; i++) {
        if (!strstr(buf, v[i].name))
            hak_test_note("counter %s not printed", v[i].name);
        HAK_EXPECT(strstr(buf, v[i].name) != NULL);
    }
    HAK_EXPECT(strstr(buf, "hakmem") != NULL);
    HAK_EXPECT(hak_count_lines(buf, (size_t)len) >= n);
    free(v);
    free(buf);
}
