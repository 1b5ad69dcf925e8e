/* compile_standin.c — a stand-in for ampc that ampd's compile service runs
 * (`ampd --ampc build/tests/compile_standin`) so check_patches can test
 * the service's limits with compiles that misbehave on purpose. What it
 * does depends on a word in the patch text (the file argument ampd gives):
 *
 *   STANDIN_SPIN   burns CPU forever            (RLIMIT_CPU must stop it)
 *   STANDIN_SLEEP  forks a child, both sleep    (the wall clock must kill
 *                  forever; prints the child's   the whole process group)
 *                  pid as "standin child N"
 *   STANDIN_HOG    allocates and touches memory (RLIMIT_AS must refuse it)
 *                  in 16 MiB steps up to 8 GiB
 *
 * Any other text, and --version, go to the real ampc beside this
 * program's folder (../ampc), with the same arguments: the service still
 * compiles ordinary patches (a project save's metadata) through it. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    return text;
}

int main(int argc, char **argv)
{
    const char *text = argc > 1 && argv[1][0] != '-' ? read_text(argv[1]) : NULL;
    if (text && strstr(text, "STANDIN_SPIN")) {
        volatile unsigned long x = 0;
        for (;;)
            x++;
    }
    if (text && strstr(text, "STANDIN_SLEEP")) {
        pid_t child = fork();
        if (child == 0) {
            for (;;)
                pause();
        }
        fprintf(stderr, "standin child %ld\n", (long)child);
        fflush(stderr);
        for (;;)
            pause();
    }
    if (text && strstr(text, "STANDIN_HOG")) {
        size_t step = 16u << 20, total = 0;
        while (total < (8ul << 30)) {
            char *p = malloc(step);
            if (!p) {
                fprintf(stderr, "standin: out of memory after %zu MiB\n", total >> 20);
                return 1;
            }
            memset(p, 1, step);
            total += step;
        }
        fprintf(stderr, "standin: allocated %zu MiB: no limit\n", total >> 20);
        return 1;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 16);
    if (n <= 0)
        return 127;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    *slash = '\0';
    slash = strrchr(self, '/');
    if (!slash)
        return 127;
    strcpy(slash + 1, "ampc");
    argv[0] = self;
    execv(self, argv);
    perror("standin: exec ampc");
    return 127;
}
