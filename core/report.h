/* Messages to stderr without stdio buffers or allocation. */
#ifndef HAKMEM_CORE_REPORT_H
#define HAKMEM_CORE_REPORT_H

#include <stddef.h>

#include "counters/counters.h"

/* One line "hakmem: <message>\n" on stderr. */
void hak_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* hak_write_all(fd, buf, len): counters/counters.h (the bottom library) has it. */

/* A misuse of the API (foreign pointer, double free, interior pointer): reports it, counts
 * it, then aborts or returns per core.foreign_free. */
void hak_report_misuse(const char *what, const void *p);
/* Same for a misuse described by the caller: "hakmem: <message>; core.foreign_free=..." */
void hak_misuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
