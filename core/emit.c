#include "core/emit.h"

#include <stdarg.h>
#include <string.h>

#include "counters/counters.h"

void hak_emitf(hak_emit *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (e->fp) {
        int n = vfprintf(e->fp, fmt, ap);
        if (n > 0)
            e->len += (size_t)n;
    } else if (e->fd >= 0) {
        char line[512];
        int n = vsnprintf(line, sizeof line, fmt, ap);
        if (n > 0) {
            size_t w = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
            hak_write_all(e->fd, line, w);
            e->len += w;
        }
    } else {
        size_t room = e->len < e->cap ? e->cap - e->len : 0;
        int n = vsnprintf(room ? e->buf + e->len : NULL, room, fmt, ap);
        if (n > 0)
            e->len += (size_t)n;
    }
    va_end(ap);
}

void hak_emit_json_string(hak_emit *e, const char *s) {
    char chunk[128];
    size_t k = 0;
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (k + 8 > sizeof chunk) {
            chunk[k] = '\0';
            hak_emitf(e, "%s", chunk);
            k = 0;
        }
        if (c == '"' || c == '\\') {
            chunk[k++] = '\\';
            chunk[k++] = (char)c;
        } else if (c < 0x20) {
            k += (size_t)snprintf(chunk + k, sizeof chunk - k, "\\u%04x", c);
        } else {
            chunk[k++] = (char)c;
        }
    }
    chunk[k] = '\0';
    hak_emitf(e, "%s", chunk);
}
