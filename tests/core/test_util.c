#include "core/test_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hakmem/hakmem.h"

extern char **environ;

static int dropped_var(const char *kv) {
    return strncmp(kv, "HAKMEM_", 7) == 0 || strncmp(kv, "HAKO_HAKMEM_", 12) == 0 ||
           strncmp(kv, "LD_PRELOAD=", 11) == 0;
}

static char **build_env(const char *const env_add[]) {
    size_t n = 0, extra = 0;
    for (char **e = environ; e && *e; e++)
        n++;
    if (env_add)
        while (env_add[extra])
            extra++;
    char **out = calloc(n + extra + 1, sizeof *out);
    if (!out)
        return NULL;
    size_t k = 0;
    for (char **e = environ; e && *e; e++) {
        if (dropped_var(*e))
            continue;
        /* A variable the caller sets replaces the inherited one. */
        int replaced = 0;
        const char *eq = strchr(*e, '=');
        size_t klen = eq ? (size_t)(eq - *e) : strlen(*e);
        for (size_t i = 0; i < extra; i++)
            if (strncmp(env_add[i], *e, klen) == 0 && env_add[i][klen] == '=')
                replaced = 1;
        if (!replaced)
            out[k++] = *e;
    }
    for (size_t i = 0; i < extra; i++)
        out[k++] = (char *)env_add[i];
    out[k] = NULL;
    return out;
}

char *hak_which(const char *name) {
    if (strchr(name, '/'))
        return access(name, X_OK) == 0 ? strdup(name) : NULL;
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    char *copy = strdup(path);
    char *save = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", dir, name);
        struct stat st;
        if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0) {
            free(copy);
            return strdup(full);
        }
    }
    free(copy);
    return NULL;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void append(char **buf, size_t *len, size_t *cap, const char *data, size_t n) {
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < *len + n + 1)
            c *= 2;
        *buf = realloc(*buf, c);
        *cap = c;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
}

/* Reads both pipes until EOF, then reaps the child; kills it at the deadline. */
static void collect(pid_t pid, int out_fd, int err_fd, int timeout_s, hak_proc *p) {
    size_t out_cap = 0, err_cap = 0;
    append(&p->out, &p->out_len, &out_cap, "", 0);
    append(&p->err, &p->err_len, &err_cap, "", 0);
    double deadline = now_s() + timeout_s;
    struct pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    int open_fds = 2;
    char chunk[65536];
    while (open_fds > 0) {
        double left = deadline - now_s();
        if (left <= 0) {
            p->timed_out = 1;
            kill(pid, SIGKILL);
            break;
        }
        int r = poll(fds, 2, (int)(left * 1000) + 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(fds[i].fd, chunk, sizeof chunk);
            if (n > 0) {
                if (i == 0)
                    append(&p->out, &p->out_len, &out_cap, chunk, (size_t)n);
                else
                    append(&p->err, &p->err_len, &err_cap, chunk, (size_t)n);
            } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, p->timed_out ? 0 : WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            return;
        if (w == 0) {
            if (now_s() > deadline) {
                p->timed_out = 1;
                kill(pid, SIGKILL);
                continue;
            }
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
    }
    if (WIFEXITED(status)) {
        p->exited = 1;
        p->exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        p->signaled = 1;
        p->signo = WTERMSIG(status);
    }
}

/* posix_spawn, not fork: glibc spawns with clone(CLONE_VFORK) and runs no atfork handlers,
 * so starting a program does not depend on hakmem's fork handlers in the test binary (the
 * fork tests exercise those on purpose, through hak_fork_run). */
int hak_run(const char *const argv[], const char *const env_add[], const char *cwd,
            int timeout_s, hak_proc *p) {
    memset(p, 0, sizeof *p);
    char *path = hak_which(argv[0]);
    if (!path)
        return -1;
    char **envp = build_env(env_add);
    int out_pipe[2], err_pipe[2];
    if (!envp || pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
        free(path);
        free(envp);
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
    if (cwd)
        posix_spawn_file_actions_addchdir_np(&fa, cwd);
    fflush(NULL);
    pid_t pid;
    int rc = posix_spawn(&pid, path, &fa, NULL, (char *const *)argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(out_pipe[1]);
    close(err_pipe[1]);
    free(path);
    free(envp);
    if (rc != 0) {
        close(out_pipe[0]);
        close(err_pipe[0]);
        return -1;
    }
    p->started = 1;
    collect(pid, out_pipe[0], err_pipe[0], timeout_s, p);
    return 0;
}

int hak_fork_run(int (*fn)(void *), void *arg, int exit_after_fn, int timeout_s, hak_proc *p) {
    memset(p, 0, sizeof *p);
    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(out_pipe[1], 1);
        dup2(err_pipe[1], 2);
        close(out_pipe[0]);
        close(err_pipe[0]);
        int rc = fn(arg);
        if (exit_after_fn) {
            fflush(NULL);
            exit(rc);
        }
        _exit(rc);
    }
    close(out_pipe[1]);
    close(err_pipe[1]);
    p->started = 1;
    collect(pid, out_pipe[0], err_pipe[0], timeout_s, p);
    return 0;
}

void hak_proc_free(hak_proc *p) {
    free(p->out);
    free(p->err);
    p->out = p->err = NULL;
}

const char *hak_proc_describe(const hak_proc *p, char *buf, size_t len) {
    if (!p->started)
        snprintf(buf, len, "not started");
    else if (p->timed_out)
        snprintf(buf, len, "killed by the hang guard");
    else if (p->exited)
        snprintf(buf, len, "exit %d", p->exit_code);
    else if (p->signaled)
        snprintf(buf, len, "signal %d (%s)", p->signo, strsignal(p->signo));
    else
        snprintf(buf, len, "unknown status");
    return buf;
}

size_t hak_count_lines(const char *s, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\n')
            n++;
    if (len > 0 && s[len - 1] != '\n')
        n++;
    return n;
}

static inline uint64_t pattern_word(uint64_t seed, uint64_t w) {
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + w * 0xD6E8FEB86659FD93ull + 0x632BE59BD9B4E019ull;
    return x ^ (x >> 29);
}

void hak_fill(void *p, size_t n, uint64_t seed) {
    unsigned char *b = p;
    size_t words = n / 8;
    for (size_t w = 0; w < words; w++) {
        uint64_t v = pattern_word(seed, w);
        memcpy(b + w * 8, &v, 8);
    }
    uint64_t tail = pattern_word(seed, words);
    for (size_t i = words * 8; i < n; i++)
        b[i] = (unsigned char)(tail >> ((i % 8) * 8));
}

int hak_check(const void *p, size_t n, uint64_t seed) {
    const unsigned char *b = p;
    size_t words = n / 8;
    for (size_t w = 0; w < words; w++) {
        uint64_t v = pattern_word(seed, w), got;
        memcpy(&got, b + w * 8, 8);
        if (got != v)
            return 0;
    }
    uint64_t tail = pattern_word(seed, words);
    for (size_t i = words * 8; i < n; i++)
        if (b[i] != (unsigned char)(tail >> ((i % 8) * 8)))
            return 0;
    return 1;
}

int hak_all_bytes(const void *p, size_t n, unsigned char c) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != c)
            return 0;
    return 1;
}

size_t hak_rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long size = 0, resident = 0;
    int n = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    if (n != 2)
        return 0;
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

char *hak_mkdtemp(const char *tag) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/hakmem-%s-XXXXXX", base, tag);
    if (!mkdtemp(buf))
        return NULL;
    return strdup(buf);
}

void hak_rmtree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                    continue;
                char child[4096];
                snprintf(child, sizeof child, "%s/%s", path, e->d_name);
                hak_rmtree(child);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

int hak_write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, len, f);
    int rc = fclose(f);
    return (w == len && rc == 0) ? 0 : -1;
}

char *hak_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    char chunk[65536];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0)
        append(&buf, &n, &cap, chunk, r);
    fclose(f);
    if (!buf)
        append(&buf, &n, &cap, "", 0);
    if (len)
        *len = n;
    return buf;
}

int hak_read_rollup(size_t *rss, size_t *lazy) {
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    if (!f)
        return 0;
    char line[256];
    int got = 0;
    *rss = *lazy = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long kb;
        if (sscanf(line, "Rss: %lu kB", &kb) == 1) {
            *rss = (size_t)kb << 10;
            got |= 1;
        } else if (sscanf(line, "LazyFree: %lu kB", &kb) == 1) {
            *lazy = (size_t)kb << 10;
            got |= 2;
        }
    }
    fclose(f);
    return got == 3;
}
