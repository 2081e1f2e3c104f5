/* Two call sites that keep 10 MiB and 1 MiB live, and one that allocates 32 MiB and frees
 * it: the heap profile must rank hold_ten_mib before hold_one_mib by bytes live, and
 * churn_32_mib first by bytes allocated. Run under LD_PRELOAD with HAKMEM_PROF_SAMPLE_BYTES
 * (the report comes at exit), or linked statically (HAKMEM_STATIC_PROF: hak_* calls, the
 * JSON printed on stdout). Linked with -rdynamic so that dladdr names the functions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAKMEM_STATIC_PROF
#include "hakmem/hakmem.h"
#define ALLOC hak_malloc
#define FREE  hak_free
#else
#define ALLOC malloc
#define FREE  free
#endif

#define BLOCK 4096
static void *ten[10 * 256], *one[256];

__attribute__((noinline)) void hold_ten_mib(void) {
    for (int i = 0; i < 10 * 256; i++)
        memset(ten[i] = ALLOC(BLOCK), 1, 64);
}

__attribute__((noinline)) void hold_one_mib(void) {
    for (int i = 0; i < 256; i++)
        memset(one[i] = ALLOC(BLOCK), 1, 64);
}

__attribute__((noinline)) void churn_32_mib(void) {
    for (int i = 0; i < 32 * 256; i++) {
        void *p = ALLOC(BLOCK);
        memset(p, 1, 64);
        FREE(p);
    }
}

/* "fork": while two threads allocate and free (every large free and sampled allocation
 * takes the profile's lock), the main thread forks children that do the same and exit
 * through the exit report: none may hang on a lock held at the fork. */
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int stop;

static void *hammer(void *arg) {
    (void)arg;
    while (!stop) {
        void *p = ALLOC(100000), *q = ALLOC(64);
        FREE(p);
        FREE(q);
    }
    return NULL;
}

static int fork_case(void) {
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, hammer, NULL);
    int bad = 0;
    for (int i = 0; i < 40; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            FREE(ALLOC(200000));
            FREE(ALLOC(64));
            exit(0);
        }
        int st = 0;
        bad += pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    }
    stop = 1;
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("forks: %s\n", bad ? "FAIL" : "ok");
    return bad != 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "fork") == 0)
        return fork_case();
    hold_ten_mib();
    churn_32_mib();
    hold_one_mib();
#ifdef HAKMEM_STATIC_PROF
    static char json[1 << 16];
    size_t n = hak_prof_json(json, sizeof json);
    fwrite(json, 1, n < sizeof json ? n : sizeof json - 1, stdout);
#endif
    return 0;
}
