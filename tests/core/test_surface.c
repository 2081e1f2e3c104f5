/* The surface beyond malloc/free through the static libraries' hak_* API: mallinfo2,
 * mallopt, malloc_info, the JSON stats, sized frees and the C++ entry points. (The same
 * through LD_PRELOAD: tests/system/test_preload.c.) */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/test_util.h"
#include "hakmem/hakmem.h"
#include "shim/hak_test.h"

#define MiB ((size_t)1 << 20)

HAK_TEST(Surface, MallinfoFollowsLargeAndSmallBlocks) {
    struct mallinfo2 m0 = hak_mallinfo2();
    void *big = hak_malloc(10 * MiB);
    HAK_ASSERT(big != NULL);
    struct mallinfo2 m1 = hak_mallinfo2();
    HAK_EXPECT(m1.hblks >= m0.hblks + 1);
    HAK_EXPECT(m1.hblkhd >= m0.hblkhd + 10 * MiB);
    hak_free(big);
    struct mallinfo2 m2 = hak_mallinfo2();
    HAK_EXPECT(m2.hblkhd + 10 * MiB <= m1.hblkhd);
    HAK_EXPECT_EQ(m2.arena, m2.uordblks + m2.fordblks);
    enum { N = 2000 };
    static void *small[N];
    for (int i = 0; i < N; i++)
        small[i] = hak_malloc(2000);
    struct mallinfo2 m3 = hak_mallinfo2();
    HAK_EXPECT(m3.uordblks >= m2.uordblks + (size_t)N * 2000 / 2);
    for (int i = 0; i < N; i++)
        hak_free(small[i]);
    struct mallinfo m = hak_mallinfo();
    HAK_EXPECT(m.arena >= 0 && m.uordblks >= 0);
}

/* glibc 2.36's answers: 0 only for M_MXFAST outside 0..160. */
HAK_TEST(Surface, MalloptAnswersAsGlibc) {
    HAK_EXPECT_EQ(hak_mallopt(M_MXFAST, 64), 1);
    HAK_EXPECT_EQ(hak_mallopt(M_MXFAST, 161), 0);
    HAK_EXPECT_EQ(hak_mallopt(M_MXFAST, -1), 0);
    HAK_EXPECT_EQ(hak_mallopt(M_MMAP_THRESHOLD, 1 << 30), 1);
    HAK_EXPECT_EQ(hak_mallopt(M_ARENA_MAX, 0), 1);
    HAK_EXPECT_EQ(hak_mallopt(424242, 1), 1);
    /* M_TRIM_THRESHOLD + M_TOP_PAD: the bytes always allowed to stay cached. */
    HAK_EXPECT_EQ(hak_mallopt(M_TRIM_THRESHOLD, 8 << 20), 1);
    HAK_EXPECT_EQ(hak_mallopt(M_TOP_PAD, 1 << 20), 1);
    char v[32];
    HAK_ASSERT_EQ(hak_config_get("core.retain_min", v, sizeof v), 0);
    HAK_EXPECT_EQ(strtoull(v, NULL, 10), 9ull << 20);
    HAK_EXPECT_EQ(hak_mallopt(M_TRIM_THRESHOLD, 16 << 20), 1);
    HAK_EXPECT_EQ(hak_mallopt(M_TOP_PAD, 0), 1);
    HAK_ASSERT_EQ(hak_config_get("core.retain_min", v, sizeof v), 0);
    HAK_EXPECT_EQ(strtoull(v, NULL, 10), 16ull << 20);
}

HAK_TEST(Surface, MallocInfoWritesXmlAndRefusesOptions) {
    HAK_EXPECT_EQ(hak_malloc_info(1, stdout), 22); /* EINVAL, as glibc returns it */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    HAK_ASSERT(f != NULL);
    HAK_EXPECT_EQ(hak_malloc_info(0, f), 0);
    fclose(f);
    HAK_EXPECT(strncmp(text, "<malloc version=\"hakmem-", 24) == 0);
    HAK_EXPECT(strstr(text, "<size class=\"0\" block=\"16\"") != NULL);
    HAK_EXPECT(len > 10 && strcmp(text + len - 10, "</malloc>\n") == 0);
    free(text);
}

/* snprintf's contract: the whole length is returned, at most len bytes written. */
HAK_TEST(Surface, StatsJsonSizesLikeSnprintf) {
    size_t need = hak_stats_json(NULL, 0);
    HAK_ASSERT(need > 1000);
    char small[16];
    memset(small, 'x', sizeof small);
    HAK_EXPECT(hak_stats_json(small, sizeof small) >= need / 2);
    HAK_EXPECT(memchr(small, '\0', sizeof small) != NULL);
    char *buf = malloc(need + 4096);
    HAK_ASSERT(buf != NULL);
    size_t got = hak_stats_json(buf, need + 4096);
    HAK_EXPECT(got < need + 4096 && strlen(buf) == got);
    HAK_EXPECT(buf[0] == '{' && strstr(buf, "\"counters\"") && strstr(buf, "\"gauges\"") &&
               strstr(buf, "\"live_large_blocks\""));
    free(buf);
}

HAK_TEST(Surface, SizedFreesAndNewDelete) {
    for (size_t n = 1; n <= 8 * MiB; n *= 5) {
        hak_free_sized(hak_malloc(n), n);
        hak_free_aligned_sized(hak_aligned_alloc(256, n), 256, n);
        void *p = hak_new(n, 0, 0, NULL);
        HAK_ASSERT(p != NULL && hak_usable_size(p) >= n);
        hak_delete(p, n, 0, 0);
        p = hak_new(n, 4096, 1, NULL);
        HAK_ASSERT(p != NULL && (uintptr_t)p % 4096 == 0);
        hak_delete(p, 0, 4096, 1);
    }
    HAK_EXPECT(hak_new(100, 48, 0, NULL) == NULL); /* not a power of two */
    hak_free_sized(NULL, 10);
}

static int wrong_size_child(void *arg) {
    (void)arg;
    hak_config_set("core.check_free", "1");
    hak_free_sized(hak_malloc(3 * MiB), 5 * MiB);
    return 0;
}

static int family_child(void *arg) {
    (void)arg;
    hak_config_set("core.check_free", "1");
    hak_delete(hak_new(MiB, 0, 1, NULL), 0, 0, 0);
    return 0;
}

/* A block grown by realloc (in place or moved) is the malloc family's. */
static int realloc_family_child(void *arg) {
    (void)arg;
    hak_config_set("core.check_free", "1");
    char *p = hak_malloc(MiB);
    p = hak_realloc(p, MiB + MiB / 2);
    hak_delete(p, 0, 0, 0);
    return 0;
}

HAK_TEST(Surface, CheckFreeReportsSizeAndFamily) {
    hak_proc p;
    HAK_ASSERT_EQ(hak_fork_run(wrong_size_child, NULL, 0, 60, &p), 0);
    HAK_EXPECT(p.signaled && p.signo == SIGABRT && strstr(p.err, "(a wrong size)"));
    hak_proc_free(&p);
    HAK_ASSERT_EQ(hak_fork_run(family_child, NULL, 0, 60, &p), 0);
    HAK_EXPECT(p.signaled && p.signo == SIGABRT && strstr(p.err, "made by new[]"));
    hak_proc_free(&p);
    HAK_ASSERT_EQ(hak_fork_run(realloc_family_child, NULL, 0, 60, &p), 0);
    HAK_EXPECT(p.signaled && p.signo == SIGABRT && strstr(p.err, "made by malloc"));
    hak_proc_free(&p);
}
