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

int main(void) {
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
