/* Tiny misuse with tiny.checks=1 (the default): a pointer into the middle of a tiny block
 * and a double free of a tiny block are reported (one line naming hakmem, counted in the
 * "misuse" counter), then abort or are ignored per core.foreign_free. Each case runs in a
 * forked child. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/test_util.h"
#include "hakmem/hakmem.h"
#include "shim/hak_test.h"

struct misuse_arg {
    int double_free; /* 0: interior pointer */
    const char *mode;
    size_t size;
};

static int misuse_child(void *argp) {
    const struct misuse_arg *a = argp;
    if (hak_config_set("core.foreign_free", a->mode) != 0)
        return 2;
    if (hak_config_set("tiny.checks", "1") != 0)
        return 3;
    uint64_t before = hak_ctr("misuse");
    unsigned char *keep[8];
    for (int i = 0; i < 8; i++) {
        keep[i] = hak_malloc(a->size);
        if (!keep[i])
            return 4;
        hak_fill(keep[i], a->size, (uint64_t)i);
    }
    unsigned char *p = keep[3];
    if (a->double_free) {
        hak_free(p);
        keep[3] = NULL;
        hak_free(p);
    } else {
        hak_free(p + (a->size >= 32 ? 16 : 8));
    }
    printf("continued\n");
    fflush(stdout);
    if (hak_ctr("misuse") != before + 1)
        return 5;
    for (int i = 0; i < 8; i++) {
        if (!keep[i])
            continue;
        if (!hak_check(keep[i], a->size, (uint64_t)i))
            return 6;
        hak_free(keep[i]);
    }
    /* The double-freed block must not come back twice. */
    void *x = hak_malloc(a->size), *y = hak_malloc(a->size);
    if (!x || !y || x == y)
        return 7;
    hak_free(x);
    hak_free(y);
    return 0;
}

static void check_report(const hak_proc *p, const char *label) {
    size_t lines = hak_count_lines(p->err, p->err_len);
    if (lines != 1)
        hak_test_note("%s: stderr has %zu lines: %.400s", label, lines, p->err);
    HAK_EXPECT_EQ(lines, 1);
    HAK_EXPECT(strstr(p->err, "hakmem") != NULL);
}

static void run_case(int double_free, const char *mode, size_t size) {
    struct misuse_arg a = {double_free, mode, size};
    hak_proc p;
    HAK_ASSERT_EQ(hak_fork_run(misuse_child, &a, 0, 60, &p), 0);
    char label[96], what[64];
    snprintf(label, sizeof label, "%s of a %zu-byte block, %s",
             double_free ? "double free" : "interior pointer", size, mode);
    if (strcmp(mode, "abort") == 0) {
        if (!(p.signaled && p.signo == SIGABRT))
            hak_test_note("%s: child %s", label, hak_proc_describe(&p, what, sizeof what));
        HAK_EXPECT(p.signaled);
        HAK_EXPECT_EQ(p.signo, SIGABRT);
        HAK_EXPECT(strstr(p.out, "continued") == NULL);
    } else {
        if (!(p.exited && p.exit_code == 0))
            hak_test_note("%s: child %s", label, hak_proc_describe(&p, what, sizeof what));
        HAK_EXPECT(p.exited);
        HAK_EXPECT_EQ(p.exit_code, 0);
    }
    check_report(&p, label);
    hak_proc_free(&p);
}

HAK_TEST(TinyMisuse, InteriorPointerAborts) {
    run_case(0, "abort", 64);
    run_case(0, "abort", 1000);
}

HAK_TEST(TinyMisuse, InteriorPointerIgnored) {
    run_case(0, "ignore", 64);
    run_case(0, "ignore", 1000);
}

HAK_TEST(TinyMisuse, DoubleFreeAborts) {
    run_case(1, "abort", 48);
    run_case(1, "abort", 4096);
}

HAK_TEST(TinyMisuse, DoubleFreeIgnored) {
    run_case(1, "ignore", 48);
    run_case(1, "ignore", 4096);
}
