/*
 * The OCR engine: Tesseract through its C API, Leptonica for images.
 * An engine set keeps one initialized Tesseract handle per language set and
 * reuses it across jobs. Not thread-safe: one set belongs to one thread.
 * The pipeline sees only this interface, so another engine can sit behind it.
 */
#ifndef OCRQ_WORKER_ENGINE_H
#define OCRQ_WORKER_ENGINE_H

#include <stddef.h>

struct ocrq_engines;

/* What one recognized image gives. text is malloc'd; free with ocrq_ocr_result_cleanup(). */
struct ocrq_ocr_result {
    char *text;
    double mean_confidence; /* 0-100 */
    int width, height;
};

/*
 * A new engine set reading traineddata from tessdata_dir, keeping at most
 * cache_size initialized engines (least recently used goes first).
 * Returns OCRQ_OK or OCRQ_ERR_NOMEM. Free with ocrq_engines_free().
 */
int ocrq_engines_new(const char *tessdata_dir, int cache_size, struct ocrq_engines **out);

/* Free the set and every engine in it; NULL is fine. */
void ocrq_engines_free(struct ocrq_engines *set);

/*
 * Check that every language of lang ("eng+deu") has its traineddata installed.
 * Returns OCRQ_OK, or OCRQ_ERR_LANG with why naming the missing one and the
 * installed ones.
 */
int ocrq_engines_check_lang(struct ocrq_engines *set, const char *lang, char *why,
                            size_t whylen);

/*
 * Recognize one encoded image (PNG, JPEG, TIFF, ... anything Leptonica reads).
 * The header is read first: width * height over max_pixels is refused with
 * OCRQ_ERR_TOO_LARGE before any pixel is decoded. Returns OCRQ_OK,
 * OCRQ_ERR_DECODE, OCRQ_ERR_TOO_LARGE, OCRQ_ERR_LANG or OCRQ_ERR_OCR, with a
 * reason in why. *res is cleared on entry and owned by the caller.
 */
int ocrq_engines_recognize(struct ocrq_engines *set, const char *lang, const void *data,
                           size_t len, long long max_pixels, struct ocrq_ocr_result *res,
                           char *why, size_t whylen);

/* Free what a result holds and clear it. */
void ocrq_ocr_result_cleanup(struct ocrq_ocr_result *res);

/* The engine's name and version, e.g. "tesseract 5.3.0". Static; thread-safe. */
const char *ocrq_engine_version(void);

#endif
