/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * ocrq-bench-raw: the raw-Tesseract baseline for bench/throughput. Forks W
 * processes, each with one engine created once, that OCR the files through
 * the C API with nothing else around them: no broker, no database. Each
 * process takes the next file not yet taken (a counter in shared memory), as
 * ocrq workers take the next job, so an uneven file never leaves one process
 * idle while another still has a queue of its own. Prints one JSON line with the wall time
 * from before the first fork to after the last child exited.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <leptonica/allheaders.h>
#include <tesseract/capi.h>

#define MAX_PROCESSES 256

static void usage(FILE *f)
{
    fprintf(f, "usage: ocrq-bench-raw -j W [-l LANG] [--tessdata DIR] FILE...\n"
               "  -j, --jobs W        processes, one engine each (default 1)\n"
               "  -l, --lang LANG     language set (default eng)\n"
               "      --tessdata DIR  tessdata directory (default: Tesseract's)\n"
               "Prints {\"processes\":W,\"images\":N,\"seconds\":S,\"images_per_s\":R}.\n");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* OCR one file with an initialized engine. Returns 0, or -1 (reported). */
static int ocr_file(TessBaseAPI *api, const char *file)
{
    PIX *pix = NULL;
    char *text = NULL;
    int rc = -1;

    pix = pixRead(file);
    if (!pix) {
        fprintf(stderr, "ocrq-bench-raw: %s: cannot decode\n", file);
        goto out;
    }
    TessBaseAPISetImage2(api, pix);
    if (TessBaseAPIRecognize(api, NULL) != 0) {
        fprintf(stderr, "ocrq-bench-raw: %s: recognition failed\n", file);
        goto out;
    }
    text = TessBaseAPIGetUTF8Text(api);
    if (!text) {
        fprintf(stderr, "ocrq-bench-raw: %s: no text returned\n", file);
        goto out;
    }
    rc = 0;
out:
    TessDeleteText(text);
    TessBaseAPIClear(api);
    pixDestroy(&pix);
    return rc;
}

/* The work of one child: one engine, files taken from *next. Returns an exit status. */
static int run_child(int *next, char **files, int n, const char *lang, const char *tessdata)
{
    TessBaseAPI *api = TessBaseAPICreate();
    int st = 1;

    if (!api || TessBaseAPIInit3(api, tessdata, lang) != 0) {
        fprintf(stderr, "ocrq-bench-raw: cannot initialize Tesseract for '%s'\n", lang);
        goto out;
    }
    for (int i; (i = __atomic_fetch_add(next, 1, __ATOMIC_RELAXED)) < n;)
        if (ocr_file(api, files[i]) != 0)
            goto out;
    st = 0;
out:
    if (api) {
        TessBaseAPIEnd(api);
        TessBaseAPIDelete(api);
    }
    return st;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"jobs", required_argument, NULL, 'j'},
        {"lang", required_argument, NULL, 'l'},
        {"tessdata", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *lang = "eng";
    const char *tessdata = NULL;
    pid_t pids[MAX_PROCESSES];
    int w = 1, started = 0, failed = 0, c;
    char *end;

    while ((c = getopt_long(argc, argv, "j:l:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            errno = 0;
            w = (int)strtol(optarg, &end, 10);
            if (errno || *end || w < 1 || w > MAX_PROCESSES) {
                fprintf(stderr, "ocrq-bench-raw: -j wants 1..%d\n", MAX_PROCESSES);
                return 2;
            }
            break;
        case 'l':
            lang = optarg;
            break;
        case 't':
            tessdata = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    char **files = argv + optind;
    int n = argc - optind;
    if (n < 1) {
        usage(stderr);
        return 2;
    }
    /* libgomp reads it once, when it loads: setting it here would be too late. */
    if (!getenv("OMP_THREAD_LIMIT"))
        fprintf(stderr, "ocrq-bench-raw: warning: OMP_THREAD_LIMIT is not set; Tesseract's "
                        "OpenMP threads will fight over the cores (export OMP_THREAD_LIMIT=1)\n");
    setMsgSeverity(L_SEVERITY_ERROR);
    fflush(NULL); /* nothing buffered may be written twice by the children */

    int *next = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (next == MAP_FAILED) {
        perror("ocrq-bench-raw: mmap");
        return 1;
    }
    *next = 0;
    double t0 = now_s();
    for (int k = 0; k < w; k++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("ocrq-bench-raw: fork");
            failed = 1;
            break;
        }
        if (pid == 0)
            _exit(run_child(next, files, n, lang, tessdata));
        pids[started++] = pid;
    }
    for (int k = 0; k < started; k++) {
        int status;
        while (waitpid(pids[k], &status, 0) < 0) {
            if (errno != EINTR) {
                perror("ocrq-bench-raw: waitpid");
                return 1;
            }
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failed = 1;
    }
    double secs = now_s() - t0;

    if (failed) {
        fprintf(stderr, "ocrq-bench-raw: a process failed; no result\n");
        return 1;
    }
    printf("{\"processes\":%d,\"images\":%d,\"seconds\":%.3f,\"images_per_s\":%.3f}\n", w, n, secs,
           secs > 0 ? n / secs : 0.0);
    return 0;
}
