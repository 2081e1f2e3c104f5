#include "core/report.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/options.h"
#include "counters/counters.h"

void hak_report(const char *fmt, ...) {
    int saved = errno;
    char line[512] = "hakmem: ";
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + 8, sizeof line - 9, fmt, ap);
    va_end(ap);
    size_t len = 8 + (n < 0 ? 0 : (size_t)n);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    hak_write_all(2, line, len);
    errno = saved;
}

void hak_misuse(const char *fmt, ...) {
    HAK_COUNT(misuse);
    int abort_after = hak_option(HAK_OPT_FOREIGN_FREE) == 0;
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    hak_report("%s; core.foreign_free=%s", msg,
               abort_after ? "abort: aborting" : "ignore: ignoring it");
    if (abort_after)
        abort();
}

void hak_report_misuse(const char *what, const void *p) {
    HAK_COUNT(foreign_free);
    hak_misuse("%s(%p): pointer not owned by hakmem (freed twice, pointer into a block, or "
               "memory from another allocator)", what, p);
}
