#include "core/emit.h"

#include <stdarg.h>
#include <stdio.h>
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
        char line[4096]; /* a longer piece is cut: every caller emits a line or less */
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

/* Appends s with the characters that need it replaced by rep(c) (NULL: kept), in chunks:
 * no allocation. */
static void emit_escaped(hak_emit *e, const char *s, const char *(*rep)(unsigned char, char *)) {
    char chunk[128];
    size_t k = 0;
    for (; s && *s; s++) {
        char tmp[8];
        const char *r = rep((unsigned char)*s, tmp);
        size_t n = r ? strlen(r) : 1;
        if (k + n + 1 > sizeof chunk) {
            chunk[k] = '\0';
            hak_emitf(e, "%s", chunk);
            k = 0;
        }
        if (r) {
            memcpy(chunk + k, r, n);
            k += n;
        } else {
            chunk[k++] = *s;
        }
    }
    chunk[k] = '\0';
    hak_emitf(e, "%s", chunk);
}

/* JSON: quotes, backslashes and control characters escaped; bytes above 0x7f as \u00XX
 * (what a path or symbol holds need not be UTF-8, and the output must parse). */
static const char *json_rep(unsigned char c, char *tmp) {
    if (c == '"')
        return "\\\"";
    if (c == '\\')
        return "\\\\";
    if (c < 0x20 || c > 0x7e) {
        snprintf(tmp, 8, "\\u%04x", c);
        return tmp;
    }
    return NULL;
}

static const char *xml_rep(unsigned char c, char *tmp) {
    switch (c) {
    case '<': return "&lt;";
    case '>': return "&gt;";
    case '&': return "&amp;";
    case '"': return "&quot;";
    case '\'': return "&apos;";
    default:
        if (c < 0x20 || c > 0x7e) {
            snprintf(tmp, 8, "&#%u;", c);
            return tmp;
        }
        return NULL;
    }
}

void hak_emit_json_string(hak_emit *e, const char *s) {
    emit_escaped(e, s, json_rep);
}

void hak_emit_xml_string(hak_emit *e, const char *s) {
    emit_escaped(e, s, xml_rep);
}
