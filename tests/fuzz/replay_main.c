/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* replay_main.c - a main() for fuzz targets in ordinary builds (gcc, no
 * libFuzzer): runs LLVMFuzzerTestOneInput once on every file given on the
 * command line and on every regular file of every directory given (not
 * recursive; dot files such as .gitkeep and README* are skipped, so the
 * crashes/<name>/ directories may hold a README). A crash or abort() in the
 * target crashes this program, which fails the test (tests/fuzz/run.sh).
 * Exit status: 0, or 1 if an argument or file could not be read. */
#define _DEFAULT_SOURCE 1
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, n;
    int rc = 0;

    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return 1;
    }
    do {
        if (len == cap) {
            uint8_t *nb;
            cap = cap ? 2 * cap : 4096;
            nb = realloc(buf, cap);
            if (!nb) {
                fprintf(stderr, "replay: %s: out of memory\n", path);
                rc = 1;
                break;
            }
            buf = nb;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    if (rc == 0 && ferror(f)) {
        fprintf(stderr, "replay: %s: read error\n", path);
        rc = 1;
    }
    fclose(f);
    if (rc == 0) {
        /* An exact-size copy, so that ASan sees reads past the input. */
        uint8_t *exact = malloc(len ? len : 1);
        if (exact) {
            memcpy(exact, buf, len);
            LLVMFuzzerTestOneInput(exact, len);
            free(exact);
        }
    }
    free(buf);
    return rc;
}

static int skipped(const char *name)
{
    return name[0] == '.' || strncmp(name, "README", 6) == 0;
}

/* Runs the files of dir in name order (reproducible logs). */
static int run_dir(const char *dir, unsigned long *count)
{
    struct dirent **list = NULL;
    int n = scandir(dir, &list, NULL, alphasort), i, rc = 0;

    if (n < 0) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    for (i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        if (!skipped(list[i]->d_name) &&
            snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name) < (int)sizeof(path) &&
            stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            rc |= run_file(path);
            ++*count;
        }
        free(list[i]);
    }
    free(list);
    return rc;
}

int main(int argc, char **argv)
{
    unsigned long count = 0;
    int i, rc = 0;
    for (i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            rc |= run_dir(argv[i], &count);
        } else {
            rc |= run_file(argv[i]);
            count++;
        }
    }
    printf("replay: %lu inputs, %s\n", count, rc ? "some unreadable" : "no crash");
    return rc;
}
