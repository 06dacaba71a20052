/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The OCR engine, in two layers.
 *
 * An engine backend (struct ocrq_engine_ops) recognizes a decoded image with
 * one handle made for one device and one language set: create, recognize,
 * destroy. Tesseract is the one backend (engine_tesseract.c); a GPU engine
 * would be another, and nothing above this header would change.
 *
 * An engine set (struct ocrq_engines) is what the pipeline uses: it keeps
 * one handle per language set (LRU) of its backend on its device and
 * recognizes the pages that document.h decoded. Not thread-safe: one set
 * belongs to one thread.
 */
#ifndef OCRQ_WORKER_ENGINE_H
#define OCRQ_WORKER_ENGINE_H

#include <stddef.h>

struct Pix;
struct ocrq_engines;
struct ocrq_outputs; /* a backend's outputs of one document beside the text */

enum ocrq_device_kind { OCRQ_DEVICE_CPU, OCRQ_DEVICE_GPU };

struct ocrq_device {
    enum ocrq_device_kind kind;
    int id; /* GPU id (as the child sees it after CUDA_VISIBLE_DEVICES); -1 for the CPU */
};

/* What one recognized image gives. text is malloc'd; free with ocrq_ocr_result_cleanup(). */
struct ocrq_ocr_result {
    char *text;
    double mean_confidence; /* 0-100 */
    int width, height;
};

/* One output of a document (ocrq/formats.h), from ocrq_engines_outputs_end(). */
struct ocrq_artifact {
    unsigned format;     /* one OCRQ_FMT_* bit */
    unsigned char *data; /* malloc'd; NULL when it came out larger than max_bytes */
    size_t len;          /* its size, also when it was not kept */
};

#define OCRQ_MAX_ARTIFACTS 5 /* hocr, alto, tsv, pdf, words */

struct ocrq_engine_ops {
    const char *name; /* "tesseract" */

    /* 1 if handles can be made for dev. */
    int (*supports)(const struct ocrq_device *dev);

    /*
     * Every language of langs ("eng+deu") is installed in datadir: OCRQ_OK, or
     * OCRQ_ERR_LANG with why naming the missing one and what is installed.
     */
    int (*check_langs)(const char *datadir, const char *langs, char *why, size_t whylen);

    /* A handle for dev and langs, or OCRQ_ERR_LANG / OCRQ_ERR_NOMEM with why. */
    int (*create)(const struct ocrq_device *dev, const char *datadir, const char *langs, void **out,
                  char *why, size_t whylen);

    /*
     * Recognize pix (borrowed). timeout_ms > 0: give up once it has passed
     * (OCRQ_ERR_TIMEOUT). outputs (NULL: none) get the page as their next. Returns OCRQ_OK with
     * res->text set, OCRQ_ERR_OCR, OCRQ_ERR_TIMEOUT or OCRQ_ERR_NOMEM, with a reason in why.
     */
    int (*recognize)(void *handle, struct Pix *pix, int timeout_ms, struct ocrq_outputs *outputs,
                     struct ocrq_ocr_result *res, char *why, size_t whylen);

    /*
     * The outputs of one document: formats (OCRQ_FMT_* bits; txt is the
     * text and needs none), title for the documents' headers, datadir for
     * what the renderers read (the PDF font), max_bytes: a larger output is
     * measured but not kept. recognize() adds each page it is given outputs
     * for. OCRQ_OK, OCRQ_ERR_IO or OCRQ_ERR_NOMEM with why.
     */
    int (*outputs_begin)(const char *datadir, unsigned formats, const char *title,
                         long long max_bytes, struct ocrq_outputs **out, char *why, size_t whylen);

    /* Finish the documents into arts[0..*n-1] (at most OCRQ_MAX_ARTIFACTS; data owned by the
     * caller). OCRQ_OK, OCRQ_ERR_OCR, OCRQ_ERR_IO or OCRQ_ERR_NOMEM with why. */
    int (*outputs_end)(struct ocrq_outputs *outputs, struct ocrq_artifact *arts, int *n, char *why,
                       size_t whylen);

    /* Free the outputs and whatever they hold (temporary files included); NULL is fine. */
    void (*outputs_free)(struct ocrq_outputs *outputs);

    /*
     * Orientation of pix (borrowed) with a handle made for the language
     * OCRQ_OSD_LANG: *rotate_cw gets the degrees (0, 90, 180, 270) the page
     * must be turned clockwise to stand upright, *conf the engine's
     * confidence. OCRQ_OK, or OCRQ_ERR_OCR with why (too little text to
     * tell). NULL: the backend cannot detect orientation.
     */
    int (*orient)(void *handle, struct Pix *pix, int *rotate_cw, double *conf, char *why,
                  size_t whylen);

    void (*destroy)(void *handle);

    /* "tesseract 5.3.0": static, thread-safe. */
    const char *(*version)(void);
};

extern const struct ocrq_engine_ops ocrq_tesseract_engine;

/* The language name of the orientation model (Tesseract's osd.traineddata). */
#define OCRQ_OSD_LANG "osd"

/* "cpu" or "gpu 1", for logs. */
const char *ocrq_device_name(const struct ocrq_device *dev, char *buf, size_t len);

/*
 * A new engine set of backend ops on dev, reading language data from
 * datadir, keeping at most cache_size handles (least recently used goes
 * first). Returns OCRQ_OK, OCRQ_ERR_INVALID (ops does not support dev) or
 * OCRQ_ERR_NOMEM. Free with ocrq_engines_free().
 */
int ocrq_engines_new(const struct ocrq_engine_ops *ops, const struct ocrq_device *dev,
                     const char *datadir, int cache_size, struct ocrq_engines **out);

/* Free the set and every handle in it; NULL is fine. */
void ocrq_engines_free(struct ocrq_engines *set);

/* See ocrq_engine_ops.check_langs. */
int ocrq_engines_check_lang(struct ocrq_engines *set, const char *lang, char *why, size_t whylen);

/*
 * Recognize one decoded page (borrowed; document.h made it and checked its
 * size) with the handle for lang. timeout_ms > 0 limits the recognition.
 * outputs (NULL: none) get the page as their next one.
 * Returns OCRQ_OK, OCRQ_ERR_LANG, OCRQ_ERR_OCR, OCRQ_ERR_TIMEOUT or
 * OCRQ_ERR_NOMEM, with a reason in why. *res is cleared on entry and owned
 * by the caller; its width and height are the page's.
 */
int ocrq_engines_recognize(struct ocrq_engines *set, const char *lang, struct Pix *pix,
                           int timeout_ms, struct ocrq_outputs *outputs,
                           struct ocrq_ocr_result *res, char *why, size_t whylen);

/*
 * Outputs beside the text for one document, which every page recognized
 * with outputs adds to (see ocrq_engine_ops.outputs_begin). Free with
 * ocrq_engines_outputs_free(), after ocrq_engines_outputs_end() or instead.
 */
int ocrq_engines_outputs_begin(struct ocrq_engines *set, unsigned formats, const char *title,
                               long long max_bytes, struct ocrq_outputs **out, char *why,
                               size_t whylen);
int ocrq_engines_outputs_end(struct ocrq_engines *set, struct ocrq_outputs *outputs,
                             struct ocrq_artifact *arts, int *n, char *why, size_t whylen);
void ocrq_engines_outputs_free(struct ocrq_engines *set, struct ocrq_outputs *outputs);

/*
 * Orientation of one decoded page (borrowed), with the set's orientation
 * handle (made on first use, kept apart from the language cache). See
 * ocrq_engine_ops.orient. Returns OCRQ_OK, OCRQ_ERR_LANG (no orientation
 * model installed, or the backend has none), OCRQ_ERR_OCR or OCRQ_ERR_NOMEM.
 */
int ocrq_engines_orient(struct ocrq_engines *set, struct Pix *pix, int *rotate_cw, double *conf,
                        char *why, size_t whylen);

/* The set's backend name and version. */
const char *ocrq_engines_version(const struct ocrq_engines *set);

/* Free what a result holds and clear it. */
void ocrq_ocr_result_cleanup(struct ocrq_ocr_result *res);

#endif
