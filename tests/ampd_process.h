/* ampd_process.h — start and stop the real ampd binary from a test.
 *
 * Shared by check_server, check_api, check_live (Check suites) and
 * durability (a plain program), so nothing here asserts: every helper says
 * what happened and the caller decides. Linux only (PR_SET_PDEATHSIG). */
#ifndef AMP_AMPD_PROCESS_H
#define AMP_AMPD_PROCESS_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The most arguments ampd_spawn passes after the binary's name. */
#define AMPD_MAX_ARGS 62

/* What ampd prints before its port on the banner line. */
#define AMPD_BANNER_AT " at http://127.0.0.1:"

/* Seconds on the monotonic clock. */
static inline double ampd_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Start `bin` with `args` (NULL-terminated, after the binary's name). The
 * child dies with this process (SIGKILL) and its stderr goes to /dev/null
 * unless AMPD_TEST_VERBOSE is set. Waits up to 10 s for the banner line
 * (or EOF when ampd exits first) and keeps it, NUL-terminated, in `banner`
 * (may be NULL); *port is the port read from " at http://127.0.0.1:PORT",
 * or 0. The pid, or -1 (errno set, *port 0, banner empty) when it could not
 * be started. */
static inline pid_t ampd_spawn(const char *bin, const char *const *args, unsigned *port, char *banner,
                               size_t banner_cap)
{
    char own[512];
    if (!banner || banner_cap == 0) {
        banner = own;
        banner_cap = sizeof own;
    }
    banner[0] = '\0';
    *port = 0;
    const char *argv[AMPD_MAX_ARGS + 2] = {bin};
    int argc = 1;
    for (int i = 0; args && args[i]; i++) {
        if (argc > AMPD_MAX_ARGS) {
            errno = E2BIG;
            return -1;
        }
        argv[argc++] = args[i];
    }
    argv[argc] = NULL;

    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0)
        return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(out[0]);
        close(out[1]);
        errno = saved;
        return -1;
    }
    if (pid == 0) {
        /* Die with the test, even if it crashes (and if it already has). */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        dup2(out[1], STDOUT_FILENO);
        if (!getenv("AMPD_TEST_VERBOSE")) {
            int null = open("/dev/null", O_WRONLY);
            if (null >= 0)
                dup2(null, STDERR_FILENO);
        }
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    /* One line, or EOF when ampd exits; within 10 s. */
    size_t len = 0;
    double deadline = ampd_now_seconds() + 10;
    while (len + 1 < banner_cap && !strchr(banner, '\n') && ampd_now_seconds() < deadline) {
        struct pollfd p = {.fd = out[0], .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(out[0], banner + len, banner_cap - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        banner[len] = '\0';
    }
    close(out[0]);
    const char *at = strstr(banner, AMPD_BANNER_AT);
    if (at)
        *port = (unsigned)strtoul(at + strlen(AMPD_BANNER_AT), NULL, 10);
    return pid;
}

/* Wait up to `seconds` for `pid` to end: its wait status, or -1 when it was
 * still running (then it is sent SIGKILL and reaped) or pid is not > 0. */
static inline int ampd_wait(pid_t pid, double seconds)
{
    if (pid <= 0)
        return -1;
    double deadline = ampd_now_seconds() + seconds;
    int status;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0 && errno != EINTR)
            return -1;
        if (ampd_now_seconds() >= deadline)
            break;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

/* SIGTERM, then ampd_wait: the wait status, or -1 when it did not end
 * within `seconds` and was killed. */
static inline int ampd_stop(pid_t pid, double seconds)
{
    if (pid <= 0)
        return -1;
    kill(pid, SIGTERM);
    return ampd_wait(pid, seconds);
}

/* A wait status as a shell would show it: the exit code, 128 + the signal,
 * or -1 for -1. */
static inline int ampd_exit_code(int status)
{
    if (status == -1)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#endif
