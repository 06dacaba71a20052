/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer: the config loader (common/config.c with libconfig): any bytes as a config file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ocrq/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    char path[64], err[1024];
    struct ocrq_config *cfg = NULL;

    if (fd < 0) {
        fd = memfd_create("ocrq-fuzz-config", 0);
        if (fd < 0)
            abort();
        unsetenv("OCRQ_AMQP_URL"); /* the file alone decides */
        unsetenv("OCRQ_DATABASE_URL");
        unsetenv("OCRQ_URL_ALLOWLIST");
        unsetenv("OCRQ_WEBHOOK_SECRETS");
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if (ocrq_config_load(path, &cfg, err, sizeof err) == 0)
        ocrq_config_free(cfg);
    return 0;
}
