/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Where each OCR process runs: its CPUs (worker.cpus shared out, see
 * docs/fleet.md), its OpenMP thread limit, and its device.
 */
#ifndef OCRQ_WORKER_PLACEMENT_H
#define OCRQ_WORKER_PLACEMENT_H

#define _GNU_SOURCE 1
#include <sched.h>
#include <stddef.h>

#include "engine.h"
#include "ocrq/cpulist.h"

struct ocrq_config;

struct ocrq_placement {
    int cpus[OCRQ_MAX_CPUS]; /* the CPUs the children share, ascending */
    int n_cpus;
    int pin; /* worker.cpus was given: pin every child */
};

/*
 * The CPUs to share: worker.cpus, each of which must be one this process may
 * run on; else every CPU it may run on (and no pinning). Returns OCRQ_OK, or
 * OCRQ_ERR_CONFIG with the reason in why.
 */
int ocrq_placement_init(const struct ocrq_config *cfg, struct ocrq_placement *pl, char *why,
                        size_t whylen);

/*
 * How many OCR processes to run when neither worker.processes nor --processes
 * says: one per CPU to share (pl->n_cpus: those of worker.cpus, all of which
 * this process may run on, else every CPU it may run on), at least 1. As
 * Celery's default concurrency, from sched_getaffinity rather than the CPUs
 * the machine has, so taskset and cpusets are respected.
 */
int ocrq_placement_default_processes(const struct ocrq_placement *pl);

/* Child k of n: its CPU set (only meaningful with pl->pin) and how many CPUs it has. */
int ocrq_placement_child_cpus(const struct ocrq_placement *pl, int n, int k, cpu_set_t *set);

/* Child k: OMP_THREAD_LIMIT = its CPU count, capped by worker.omp_thread_limit. */
int ocrq_placement_threads(const struct ocrq_config *cfg, const struct ocrq_placement *pl, int n,
                           int k);

/* Child k's device: the CPU, or GPU gpus[k mod n_gpus] with worker.device = "gpu". */
struct ocrq_device ocrq_placement_device(const struct ocrq_config *cfg, int k);

/*
 * Whether the engine can run on the configured device. With "gpu" and no GPU
 * engine: OCRQ_ERR_CONFIG and why, unless worker.gpu_fallback_cpu (then OCRQ_OK
 * with *fallback set).
 */
int ocrq_placement_check_device(const struct ocrq_config *cfg, const struct ocrq_engine_ops *ops,
                                int *fallback, char *why, size_t whylen);

#endif
