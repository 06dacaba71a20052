/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Documents over the fleet (docs/design.md, "Page tasks"): a document of
 * documents.split_min_pages pages or more is split into one page task per
 * page, which any worker process on any machine can take; the page that
 * completes the document assembles its result, once. Like the pipeline,
 * this decides what should happen to the message and the page tasks it
 * releases (out->pubs) but never touches the broker.
 */
#ifndef OCRQ_WORKER_PAGES_H
#define OCRQ_WORKER_PAGES_H

#include <stddef.h>

struct ocrq_job;
struct ocrq_outcome;
struct ocrq_pipeline;

/*
 * Split the running job's document (data, len bytes of n_pages pages; sha
 * its SHA-256 or "") into page tasks: store the document unless it is
 * stored already, record the split, and release the first window of page
 * tasks in *out. A job split before (a redelivery) releases again the
 * pages released and not stored. Sets the verdict.
 */
void ocrq_pages_split(struct ocrq_pipeline *p, const struct ocrq_job *job,
                      const unsigned char *data, size_t len, int n_pages, const char *sha,
                      struct ocrq_outcome *out);

/*
 * Run one page task (job->page_no): count the delivery, OCR the page,
 * store it, release the next page, or assemble the document when it was
 * the last. Sets the verdict.
 */
void ocrq_pages_task(struct ocrq_pipeline *p, const struct ocrq_job *job, struct ocrq_outcome *out);

/*
 * Assemble the result of the split job whose pages are all stored (text in
 * page order, one artifact per format in the store) and commit it; the
 * verdict in *out. (pages_assemble.c)
 */
void ocrq_pages_assemble(struct ocrq_pipeline *p, const struct ocrq_job *job, int pages_total,
                         struct ocrq_outcome *out);

/* Delete stored documents whose job ended documents.retention_s ago (logged, never fails). */
void ocrq_pages_sweep(struct ocrq_pipeline *p);

#endif
