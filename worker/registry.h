/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The supervisor's entry in the fleet registry (docs/fleet.md): a thread of
 * its own, with its own database connection, that records the supervisor
 * and each of its OCR processes (from the shared stats slots) in
 * ocr_workers and ocr_worker_processes at start, every OCRQ_FLEET_BEAT_S
 * seconds, and once more, stopped, when the supervisor stops.
 */
#ifndef OCRQ_WORKER_REGISTRY_H
#define OCRQ_WORKER_REGISTRY_H

struct ocrq_config;
struct ocrq_registry;
struct ocrq_stats;

/*
 * Start the registry thread for the supervisor called name (NULL:
 * "<host>:<pid>") and the n OCR processes of stats. cfg and stats are
 * borrowed until ocrq_registry_free(). The database need not be up: the
 * thread tries again on its next beats. Returns OCRQ_OK, OCRQ_ERR_NOMEM or
 * OCRQ_ERR_IO (the thread did not start); *out is NULL on error.
 */
int ocrq_registry_new(const struct ocrq_config *cfg, const char *name,
                      const struct ocrq_stats *stats, int n, struct ocrq_registry **out);

/*
 * Stop the thread after its last beat, which marks the supervisor and its
 * processes stopped (only over a connection that works: a database that is
 * away is not waited for), and free r; NULL is fine. Call it once the
 * children are gone, before the stats are unmapped.
 */
void ocrq_registry_free(struct ocrq_registry *r);

#endif
