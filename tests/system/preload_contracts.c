/* The malloc family as a program sees it, run with and without LD_PRELOAD=libhakmem.so:
 * every line is a check that glibc and hakmem must both pass ("<name> ok"), so the two
 * outputs are identical when hakmem keeps the contracts. stderr says whether hakmem is
 * loaded (the test asserts it under the preload). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

static void check(const char *name, int ok) {
    printf("%s %s\n", name, ok ? "ok" : "FAIL");
    if (!ok)
        failures++;
}

static void *volatile sink;

static void *thread_main(void *arg) {
    long id = (long)arg;
    char *blocks[256] = {0};
    for (int i = 0; i < 20000; i++) {
        int s = i % 256;
        if (blocks[s]) {
            if (blocks[s][0] != (char)(s + id))
                return (void *)1;
            free(blocks[s]);
        }
        size_t n = (size_t)(i * 131 % 70000) + 1;
        blocks[s] = malloc(n);
        if (!blocks[s])
            return (void *)1;
        blocks[s][0] = (char)(s + id);
    }
    for (int s = 0; s < 256; s++)
        free(blocks[s]);
    return NULL;
}

/* ---- fork while other threads allocate ---- */
static volatile int stop_busy;

static void *busy_thread(void *arg) {
    long id = (long)arg;
    while (!stop_busy) {
        for (int i = 0; i < 100; i++) {
            size_t n = (size_t)((i * 211 + id) % 60000) + 1;
            char *p = malloc(n);
            if (p) {
                p[0] = 1;
                p[n - 1] = 2;
            }
            free(p);
        }
    }
    return NULL;
}

static int fork_with_threads(void) {
    pthread_t t[3];
    stop_busy = 0;
    for (long i = 0; i < 3; i++)
        if (pthread_create(&t[i], NULL, busy_thread, (void *)i) != 0)
            return 0;
    int ok = 1;
    for (int round = 0; round < 20; round++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) {
            ok = 0;
            break;
        }
        if (pid == 0) {
            int good = 1;
            for (int i = 0; i < 500; i++) {
                size_t n = (size_t)(i * 523 % 300000) + 1;
                char *p = malloc(n);
                if (!p) {
                    good = 0;
                    break;
                }
                memset(p, i, n);
                free(p);
            }
            _exit(good ? 0 : 1);
        }
        int status = 0;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            ok = 0;
    }
    stop_busy = 1;
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    return ok;
}

/* ---- a TSD destructor that runs after the allocator's (created later) allocates ---- */
static pthread_key_t late_key;
static volatile int late_ok = 1;

static void late_destructor(void *v) {
    if (((char *)v)[0] != 'L')
        late_ok = 0;
    free(v);
    for (int i = 0; i < 20; i++) {
        char *p = malloc((size_t)(i * 1000 + 1));
        if (!p)
            late_ok = 0;
        else
            p[0] = 1;
        free(p);
    }
}

static void *late_thread(void *arg) {
    (void)arg;
    char *p = malloc(32);
    p[0] = 'L';
    for (int i = 0; i < 50; i++)
        free(malloc((size_t)(i * 16 + 8)));
    pthread_setspecific(late_key, p);
    return NULL;
}

static void *noop_thread(void *arg) {
    free(malloc(16));
    return arg;
}

int main(void) {
    fprintf(stderr, "hakmem %s\n", dlsym(RTLD_DEFAULT, "hak_malloc") ? "active" : "absent");

    int ok = 1;
    for (size_t n = 9; n < 300000; n = n * 5 / 4 + 1) {
        char *p = malloc(n);
        ok &= p != NULL && ((uintptr_t)p & 15) == 0 && malloc_usable_size(p) >= n;
        if (p) {
            memset(p, 0x11, malloc_usable_size(p));
            free(p);
        }
    }
    check("malloc_aligned16_usable", ok);

    errno = 0;
    sink = malloc(SIZE_MAX);
    check("malloc_size_max_enomem", sink == NULL && errno == ENOMEM);
    errno = 0;
    sink = malloc((size_t)1 << 50);
    check("malloc_huge_enomem", sink == NULL && errno == ENOMEM);
    errno = 0;
    volatile size_t big_count = SIZE_MAX / 2;
    sink = calloc(big_count, 4);
    check("calloc_overflow_enomem", sink == NULL && errno == ENOMEM);

    void *out = (void *)0x1000;
    check("posix_memalign_3_einval", posix_memalign(&out, 3, 10) == EINVAL && out == (void *)0x1000);
    check("posix_memalign_0_einval", posix_memalign(&out, 0, 10) == EINVAL && out == (void *)0x1000);
    check("posix_memalign_4_einval", posix_memalign(&out, 4, 10) == EINVAL && out == (void *)0x1000);
    check("posix_memalign_24_einval", posix_memalign(&out, 24, 10) == EINVAL);
    ok = 1;
    for (size_t a = 8; a <= (1u << 20); a <<= 1) {
        void *p = NULL;
        ok &= posix_memalign(&p, a, a + 3) == 0 && p && ((uintptr_t)p & (a - 1)) == 0;
        if (p) {
            memset(p, 0x22, a + 3);
            free(p);
        }
        p = aligned_alloc(a, 3 * a);
        ok &= p && ((uintptr_t)p & (a - 1)) == 0;
        free(p);
        p = memalign(a, 100);
        ok &= p && ((uintptr_t)p & (a - 1)) == 0;
        free(p);
    }
    check("aligned_families", ok);
    long page = sysconf(_SC_PAGESIZE);
    char *v = valloc(100);
    check("valloc_page_aligned", v && ((uintptr_t)v % (uintptr_t)page) == 0);
    free(v);
    char *pv = pvalloc(100);
    check("pvalloc_rounds_to_page", pv && ((uintptr_t)pv % (uintptr_t)page) == 0 &&
                                        malloc_usable_size(pv) >= (size_t)page);
    if (pv)
        memset(pv, 0x33, (size_t)page);
    free(pv);

    char *r = malloc(100);
    memset(r, 'x', 100);
    errno = 0;
    char *fail = realloc(r, SIZE_MAX / 2);
    check("realloc_failure_keeps_block", fail == NULL && errno == ENOMEM && r[0] == 'x' && r[99] == 'x');
    r = realloc(r, 1 << 20);
    ok = r != NULL;
    for (int i = 0; ok && i < 100; i++)
        ok &= r[i] == 'x';
    r = realloc(r, 50);
    for (int i = 0; ok && i < 50; i++)
        ok &= r[i] == 'x';
    check("realloc_keeps_contents", ok);
    check("realloc_zero_frees", realloc(r, 0) == NULL);
    char *rn = realloc(NULL, 77);
    check("realloc_null_mallocs", rn != NULL);
    free(rn);
    errno = 0;
    sink = reallocarray(NULL, SIZE_MAX / 2, 3);
    check("reallocarray_overflow", sink == NULL && errno == ENOMEM);
    free(NULL);
    check("free_null", 1);

    ok = 1;
    for (int round = 0; round < 3; round++) {
        for (size_t n = 16; n <= (4u << 20); n *= 4) {
            unsigned char *c = calloc(1, n);
            ok &= c != NULL;
            for (size_t i = 0; c && i < n; i++)
                ok &= c[i] == 0;
            if (c)
                memset(c, 0xff, n);
            free(c);
        }
    }
    check("calloc_zero_after_dirty_reuse", ok);

    /* Growth of blocks made from reused large ranges (freed big blocks, then calloc and
     * realloc to three times the size). */
    ok = 1;
    for (int round = 0; round < 3; round++) {
        static const size_t large[] = {32769, 65536, 100000, 1 << 20, (3 << 20) + 17, 8 << 20};
        char *lp[6];
        for (int i = 0; i < 6; i++) {
            lp[i] = malloc(large[i]);
            ok &= lp[i] != NULL;
            if (lp[i])
                memset(lp[i], i, large[i]);
        }
        for (int i = 0; i < 6; i++)
            free(lp[i]);
        for (size_t n = 16; n <= (4u << 20); n *= 4) {
            char *c = calloc(1, n);
            if (!c) {
                ok = 0;
                continue;
            }
            memset(c, 0x5a, n);
            char *g = realloc(c, n * 3);
            if (!g) {
                ok = 0;
                free(c);
                continue;
            }
            ok &= g[0] == 0x5a && g[n - 1] == 0x5a;
            free(g);
        }
    }
    check("realloc_grows_reused_blocks", ok);

    char *dup = strdup("hello hakmem");
    check("strdup", dup && strcmp(dup, "hello hakmem") == 0);
    free(dup);

    pthread_t t[4];
    ok = 1;
    for (long i = 0; i < 4; i++)
        ok &= pthread_create(&t[i], NULL, thread_main, (void *)i) == 0;
    for (int i = 0; i < 4; i++) {
        void *res = NULL;
        pthread_join(t[i], &res);
        ok &= res == NULL;
    }
    check("threads", ok);

    check("fork_with_threads", fork_with_threads());

    pthread_t w;
    pthread_create(&w, NULL, noop_thread, NULL); /* the allocator's thread keys exist now */
    pthread_join(w, NULL);
    ok = pthread_key_create(&late_key, late_destructor) == 0;
    for (int i = 0; ok && i < 100; i++) {
        ok &= pthread_create(&w, NULL, late_thread, NULL) == 0;
        pthread_join(w, NULL);
    }
    check("late_tsd_destructor_allocates", ok && late_ok);

    ok = 1;
    for (int i = 0; ok && i < 1000; i += 4) {
        pthread_t b[4];
        for (int k = 0; k < 4; k++)
            ok &= pthread_create(&b[k], NULL, noop_thread, NULL) == 0;
        for (int k = 0; k < 4; k++)
            pthread_join(b[k], NULL);
    }
    check("thousand_short_threads", ok);

    printf("done %d\n", failures);
    return failures ? 1 : 0;
}
