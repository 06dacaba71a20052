/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Placement of the OCR processes: CPU shares, thread limits, devices.
 * The supervisor computes; the forked child applies (sched_setaffinity).
 */
#include "placement.h"

#include <stdio.h>
#include <string.h>

#include "ocrq/config.h"
#include "ocrq/status.h"

int ocrq_placement_init(const struct ocrq_config *cfg, struct ocrq_placement *pl, char *why,
                        size_t whylen)
{
    cpu_set_t allowed;
    char list[256];
    int n_allowed = 0, allowed_cpus[OCRQ_MAX_CPUS];

    memset(pl, 0, sizeof(*pl));
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
        snprintf(why, whylen, "cannot read this process's CPU affinity");
        return OCRQ_ERR_CONFIG;
    }
    for (int c = 0; c < OCRQ_MAX_CPUS && c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &allowed))
            allowed_cpus[n_allowed++] = c;
    if (cfg->cpus == NULL) {
        memcpy(pl->cpus, allowed_cpus, (size_t)n_allowed * sizeof(int));
        pl->n_cpus = n_allowed;
        return OCRQ_OK;
    }
    pl->n_cpus = ocrq_cpulist_parse(cfg->cpus, pl->cpus, OCRQ_MAX_CPUS);
    for (int i = 0; i < pl->n_cpus; i++) {
        if (pl->cpus[i] >= CPU_SETSIZE || !CPU_ISSET(pl->cpus[i], &allowed)) {
            snprintf(why, whylen, "worker.cpus: CPU %d is not one this process may use (%s)",
                     pl->cpus[i], ocrq_cpulist_format(allowed_cpus, n_allowed, list, sizeof(list)));
            return OCRQ_ERR_CONFIG;
        }
    }
    pl->pin = 1;
    return OCRQ_OK;
}

int ocrq_placement_default_processes(const struct ocrq_placement *pl)
{
    return pl->n_cpus > 0 ? pl->n_cpus : 1;
}

int ocrq_placement_child_cpus(const struct ocrq_placement *pl, int n, int k, cpu_set_t *set)
{
    int first, count = ocrq_cpulist_share(pl->n_cpus, n, k, &first);

    CPU_ZERO(set);
    for (int i = 0; i < count; i++)
        CPU_SET(pl->cpus[first + i], set);
    return count;
}

int ocrq_placement_threads(const struct ocrq_config *cfg, const struct ocrq_placement *pl, int n,
                           int k)
{
    cpu_set_t set;
    int count = ocrq_placement_child_cpus(pl, n, k, &set);

    if (!pl->pin) /* unpinned children share every CPU: one each, as if pinned */
        count = pl->n_cpus >= n ? pl->n_cpus / n : 1;
    return count < cfg->omp_thread_limit ? count : cfg->omp_thread_limit;
}

struct ocrq_device ocrq_placement_device(const struct ocrq_config *cfg, int k)
{
    struct ocrq_device dev = {OCRQ_DEVICE_CPU, -1};

    if (strcmp(cfg->device, "gpu") == 0 && cfg->n_gpus > 0) {
        dev.kind = OCRQ_DEVICE_GPU;
        dev.id = cfg->gpus[k % cfg->n_gpus];
    }
    return dev;
}

int ocrq_placement_check_device(const struct ocrq_config *cfg, const struct ocrq_engine_ops *ops,
                                int *fallback, char *why, size_t whylen)
{
    struct ocrq_device gpu = {OCRQ_DEVICE_GPU, 0};

    *fallback = 0;
    if (strcmp(cfg->device, "gpu") != 0 || ops->supports(&gpu))
        return OCRQ_OK;
    if (cfg->gpu_fallback_cpu) {
        *fallback = 1;
        return OCRQ_OK;
    }
    snprintf(why, whylen,
             "worker.device = \"gpu\", but the %s engine has no GPU backend (upstream removed "
             "OpenCL); set worker.device = \"cpu\", or worker.gpu_fallback_cpu = true to run on "
             "the CPU",
             ops->name);
    return OCRQ_ERR_CONFIG;
}
