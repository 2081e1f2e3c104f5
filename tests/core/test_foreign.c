/* Pointers hakmem does not own, handed to hak_free / hak_realloc: one message on stderr
 * that names hakmem, then abort (core.foreign_free=abort, the default) or carry on
 * (core.foreign_free=ignore, counted in foreign_free). Each case runs in a forked child. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/test_util.h"
#include "hakmem/hakmem.h"
#include "shim/hak_test.h"

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);

enum misuse {
    STACK,
    LIBC_BLOCK,
    LARGE_INTERIOR,
    LARGE_INTERIOR_PAGE,
    LARGE_DOUBLE_FREE,
    REALLOC_STACK,
};

struct foreign_arg {
    enum misuse what;
    const char *mode;   /* core.foreign_free */
    const char *policy; /* large.policy */
};

/* Exit codes: 0 the misuse was survived as expected; 2.. a check failed. */
static int misuse_child(void *argp) {
    const struct foreign_arg *a = argp;
    if (hak_config_set("core.foreign_free", a->mode) != 0)
        return 2;
    if (hak_config_set("large.policy", a->policy) != 0)
        return 3;
    uint64_t before = hak_ctr("foreign_free");
    uint64_t freed_before = hak_ctr("large_free");
    volatile long on_stack[8] = {1, 2, 3};
    void *libc = NULL;
    unsigned char *large = NULL;
    size_t large_n = 1 << 20;
    switch (a->what) {
    case STACK:
        hak_free((void *)&on_stack[2]);
        break;
    case LIBC_BLOCK:
        libc = __libc_malloc(200);
        memset(libc, 7, 200);
        hak_free(libc);
        break;
    case LARGE_INTERIOR:
    case LARGE_INTERIOR_PAGE:
        large = hak_malloc(large_n);
        if (!large)
            return 4;
        hak_fill(large, large_n, 5);
        hak_free(large + (a->what == LARGE_INTERIOR ? 16 : 8192));
        break;
    case LARGE_DOUBLE_FREE:
        large = hak_malloc(300000);
        if (!large)
            return 4;
        hak_free(large);
        hak_free(large);
        freed_before++; /* the first free was legitimate */
        large = NULL;
        break;
    case REALLOC_STACK: {
        errno = 0;
        void *r = hak_realloc((void *)&on_stack[2], 100);
        if (r != NULL)
            return 5;
        break;
    }
    }
    /* Only "ignore" gets here. */
    printf("continued\n");
    fflush(stdout);
    if (hak_ctr("foreign_free") != before + 1)
        return 6;
    if (libc) {
        /* The C library's block was not touched. */
        for (int i = 0; i < 200; i++)
            if (((unsigned char *)libc)[i] != 7)
                return 7;
        __libc_free(libc);
    }
    if (large) {
        /* The large block survived the bad free and is still freed normally. */
        if (!hak_check(large, large_n, 5))
            return 8;
        if (hak_usable_size(large) < large_n)
            return 9;
        hak_free(large);
        freed_before++;
    }
    if (hak_ctr("large_free") != freed_before)
        return 10;
    /* hakmem still works. */
    for (int i = 0; i < 1000; i++) {
        size_t n = (size_t)i * 97 % 70000;
        unsigned char *p = hak_malloc(n);
        if (!p)
            return 11;
        hak_fill(p, n, (uint64_t)i);
        if (!hak_check(p, n, (uint64_t)i))
            return 12;
        hak_free(p);
    }
    return 0;
}

static const char *const names[] = {"stack",           "libc block",  "large interior +16",
                                    "large interior +8K", "large double free", "realloc stack"};

static void expect_one_hakmem_line(const hak_proc *p, const char *label) {
    size_t lines = hak_count_lines(p->err, p->err_len);
    if (lines != 1)
        hak_test_note("%s: stderr has %zu lines: %.600s", label, lines, p->err);
    HAK_EXPECT_EQ(lines, 1);
    HAK_EXPECT(strstr(p->err, "hakmem") != NULL);
}

static void abort_case(enum misuse what, const char *policy) {
    struct foreign_arg a = {what, "abort", policy};
    hak_proc p;
    HAK_ASSERT_EQ(hak_fork_run(misuse_child, &a, 0, 60, &p), 0);
    char desc[64];
    char label[128];
    snprintf(label, sizeof label, "%s (%s, abort)", names[what], policy);
    if (!(p.signaled && p.signo == SIGABRT))
        hak_test_note("%s: child %s, stdout %s", label, hak_proc_describe(&p, desc, sizeof desc),
                      p.out);
    HAK_EXPECT(p.signaled);
    HAK_EXPECT_EQ(p.signo, SIGABRT);
    HAK_EXPECT(strstr(p.out, "continued") == NULL);
    expect_one_hakmem_line(&p, label);
    hak_proc_free(&p);
}

static void ignore_case(enum misuse what, const char *policy) {
    struct foreign_arg a = {what, "ignore", policy};
    hak_proc p;
    HAK_ASSERT_EQ(hak_fork_run(misuse_child, &a, 0, 60, &p), 0);
    char desc[64];
    char label[128];
    snprintf(label, sizeof label, "%s (%s, ignore)", names[what], policy);
    if (!(p.exited && p.exit_code == 0))
        hak_test_note("%s: child %s", label, hak_proc_describe(&p, desc, sizeof desc));
    HAK_EXPECT(p.exited);
    HAK_EXPECT_EQ(p.exit_code, 0);
    HAK_EXPECT(strstr(p.out, "continued") != NULL);
    expect_one_hakmem_line(&p, label);
    hak_proc_free(&p);
}

HAK_TEST(Foreign, StackPointerAborts) { abort_case(STACK, "malloc"); }
HAK_TEST(Foreign, StackPointerIgnored) { ignore_case(STACK, "malloc"); }
HAK_TEST(Foreign, LibcBlockAborts) { abort_case(LIBC_BLOCK, "malloc"); }
HAK_TEST(Foreign, LibcBlockIgnored) { ignore_case(LIBC_BLOCK, "malloc"); }

HAK_TEST(Foreign, LargeInteriorPointerAborts) {
    abort_case(LARGE_INTERIOR, "malloc");
    abort_case(LARGE_INTERIOR, "mmap");
    abort_case(LARGE_INTERIOR_PAGE, "malloc");
    abort_case(LARGE_INTERIOR_PAGE, "mmap");
}

HAK_TEST(Foreign, LargeInteriorPointerIgnored) {
    ignore_case(LARGE_INTERIOR, "malloc");
    ignore_case(LARGE_INTERIOR, "mmap");
    ignore_case(LARGE_INTERIOR_PAGE, "malloc");
    ignore_case(LARGE_INTERIOR_PAGE, "mmap");
}

HAK_TEST(Foreign, LargeDoubleFreeAborts) {
    abort_case(LARGE_DOUBLE_FREE, "malloc");
    abort_case(LARGE_DOUBLE_FREE, "mmap");
}

HAK_TEST(Foreign, LargeDoubleFreeIgnored) {
    ignore_case(LARGE_DOUBLE_FREE, "malloc");
    ignore_case(LARGE_DOUBLE_FREE, "mmap");
}

HAK_TEST(Foreign, ReallocOfForeignPointerAborts) { abort_case(REALLOC_STACK, "malloc"); }
HAK_TEST(Foreign, ReallocOfForeignPointerIgnored) { ignore_case(REALLOC_STACK, "malloc"); }

/* The default mode is abort. */
HAK_TEST(Foreign, DefaultModeIsAbort) {
    char value[32];
    if (getenv("HAKMEM_CORE_FOREIGN_FREE"))
        HAK_SKIP("HAKMEM_CORE_FOREIGN_FREE is set in the test environment");
    HAK_ASSERT_EQ(hak_config_get("core.foreign_free", value, sizeof value), 0);
    HAK_EXPECT(strcmp(value, "abort") == 0);
}

static int free_null_child(void *arg) {
    (void)arg;
    uint64_t before = hak_ctr("foreign_free");
    for (int i = 0; i < 100; i++)
        hak_free(NULL);
    return hak_ctr("foreign_free") == before ? 0 : 1;
}

/* free(NULL) prints nothing and changes nothing. */
HAK_TEST(Foreign, FreeNullIsSilent) {
    hak_proc p;
    HAK_ASSERT_EQ(hak_fork_run(free_null_child, NULL, 0, 60, &p), 0);
    HAK_EXPECT(p.exited && p.exit_code == 0);
    HAK_EXPECT_EQ(p.err_len, 0);
    if (p.err_len)
        hak_test_note("stderr: %s", p.err);
    hak_proc_free(&p);
}
