/* Formatted output to a buffer (snprintf-like: the length needed is counted even past the
 * end), a file descriptor (no stdio, no allocation: safe at exit and inside hakmem) or a
 * FILE. For the JSON, XML and text reports. */
#ifndef HAKMEM_CORE_EMIT_H
#define HAKMEM_CORE_EMIT_H

#include <stddef.h>
#include <stdio.h>

typedef struct hak_emit {
    char *buf;   /* buffer mode: buf and cap (cap 0: only count) */
    size_t cap;
    size_t len;  /* bytes emitted so far (buffer mode: needed, the NUL not counted) */
    int fd;      /* >= 0: file descriptor mode */
    FILE *fp;    /* non-NULL: FILE mode */
} hak_emit;

static inline hak_emit hak_emit_buffer(char *buf, size_t cap) {
    hak_emit e = {buf, cap, 0, -1, NULL};
    if (buf && cap)
        buf[0] = '\0';
    return e;
}

static inline hak_emit hak_emit_fd(int fd) {
    hak_emit e = {NULL, 0, 0, fd, NULL};
    return e;
}

static inline hak_emit hak_emit_file(FILE *fp) {
    hak_emit e = {NULL, 0, 0, -1, fp};
    return e;
}

void hak_emitf(hak_emit *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as the inside of a JSON string, or of an XML attribute value, escaped. */
void hak_emit_json_string(hak_emit *e, const char *s);
void hak_emit_xml_string(hak_emit *e, const char *s);

#endif
