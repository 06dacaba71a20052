/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The database schema as an ordered list of migrations, and
 * ocrq_db_migrate(), which applies the pending ones, each in its own
 * transaction under an advisory lock, recording them in
 * ocrq_schema_migrations. Never edit a shipped migration: append a new one.
 */
#include "migrations.h"

#include <stdio.h>

#include "ocrq/db.h"
#include "ocrq/log.h"
#include "ocrq/status.h"

/* Serializes concurrent migrators (pg_advisory_xact_lock): "ocrq" as a 32-bit number. */
#define LOCK "SELECT pg_advisory_xact_lock(1868788337)"

struct ocrq_migration {
    int version;      /* 1, 2, ... strictly increasing */
    const char *name; /* short description, stored in ocrq_schema_migrations.name */
    const char *sql;  /* one or more statements, run in one transaction */
};

/* Jobs, results, and the indexes the queries in db_*.c use. */
static const char m1_jobs_results[] =
    "CREATE TABLE ocr_jobs ("
    "  job_id        uuid PRIMARY KEY,"
    "  status        text NOT NULL"
    "                CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),"
    "  priority      smallint NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 9),"
    "  language      text NOT NULL,"
    "  source        text,"
    "  batch         text,"
    "  webhook_url   text,"
    "  metadata      jsonb,"
    "  attempts      integer NOT NULL DEFAULT 0,"
    "  submitted_at  timestamptz NOT NULL DEFAULT now(),"
    "  started_at    timestamptz,"
    "  finished_at   timestamptz,"
    "  worker        text,"
    "  error_code    text,"
    "  error_message text,"
    "  updated_at    timestamptz NOT NULL DEFAULT now()"
    ");"
    "CREATE TABLE ocr_results ("
    "  job_id          uuid PRIMARY KEY REFERENCES ocr_jobs (job_id) ON DELETE CASCADE,"
    "  text            text NOT NULL,"
    "  mean_confidence real,"
    "  duration_ms     integer,"
    "  engine_version  text,"
    "  worker          text,"
    "  created_at      timestamptz NOT NULL DEFAULT now()"
    ");"
    /* ocrq_db_counts() without a batch: GROUP BY status. */
    "CREATE INDEX ocr_jobs_status_idx ON ocr_jobs (status);"
    /* ocrq_db_counts() for one batch; most jobs of a run share a batch. */
    "CREATE INDEX ocr_jobs_batch_status_idx ON ocr_jobs (batch, status)"
    "  WHERE batch IS NOT NULL;"
    /* Everything else (start, succeed, fail, retry, poll) goes by primary key. */
    "COMMENT ON TABLE ocr_jobs IS"
    "  'One row per OCR job: written queued by ocrq-submit, then running and"
    " succeeded/failed by ocrq-worker.';"
    "COMMENT ON COLUMN ocr_jobs.status IS"
    "  'queued, running, succeeded or failed; succeeded and failed are final';"
    "COMMENT ON COLUMN ocr_jobs.priority IS"
    "  '0-9; 7 and above go to the priority queue';"
    "COMMENT ON COLUMN ocr_jobs.language IS"
    "  'Tesseract language spec, e.g. eng or eng+deu; empty if the message was unreadable';"
    "COMMENT ON COLUMN ocr_jobs.source IS 'display name: input file name or URL';"
    "COMMENT ON COLUMN ocr_jobs.batch IS 'batch name shared by the jobs of one submission';"
    "COMMENT ON COLUMN ocr_jobs.webhook_url IS 'URL notified when the job is finished';"
    "COMMENT ON COLUMN ocr_jobs.metadata IS 'caller-supplied JSON object, passed through';"
    "COMMENT ON COLUMN ocr_jobs.attempts IS"
    "  'deliveries that reached a worker (final rows are not counted again)';"
    "COMMENT ON COLUMN ocr_jobs.submitted_at IS 'when the producer created the job';"
    "COMMENT ON COLUMN ocr_jobs.started_at IS 'when the latest attempt started';"
    "COMMENT ON COLUMN ocr_jobs.finished_at IS 'when the job became succeeded or failed';"
    "COMMENT ON COLUMN ocr_jobs.worker IS 'name of the worker of the latest attempt';"
    "COMMENT ON COLUMN ocr_jobs.error_code IS"
    "  'stable error code (decode, too_large, fetch, ...) of the latest failure';"
    "COMMENT ON COLUMN ocr_jobs.error_message IS 'human-readable detail of error_code';"
    "COMMENT ON COLUMN ocr_jobs.updated_at IS 'last change of the row';"
    "COMMENT ON TABLE ocr_results IS"
    "  'Recognized text of each succeeded job, written in the same statement that"
    " marks the job succeeded.';"
    "COMMENT ON COLUMN ocr_results.text IS 'recognized text, UTF-8';"
    "COMMENT ON COLUMN ocr_results.mean_confidence IS 'Tesseract mean word confidence, 0-100';"
    "COMMENT ON COLUMN ocr_results.duration_ms IS 'time spent in OCR';"
    "COMMENT ON COLUMN ocr_results.engine_version IS 'Tesseract version that produced the text';"
    "COMMENT ON COLUMN ocr_results.worker IS 'worker that produced the text';";

/*
 * The webhook outbox: one delivery per finished job and event type, written
 * in the transaction that finishes the job; every attempt recorded. A
 * statement trigger wakes the dispatchers (LISTEN ocrq_webhooks).
 */
static const char m2_webhooks[] =
    "CREATE TABLE ocr_webhook_deliveries ("
    "  id               bigserial PRIMARY KEY,"
    "  event_id         text NOT NULL UNIQUE,"
    "  job_id           uuid NOT NULL REFERENCES ocr_jobs (job_id) ON DELETE CASCADE,"
    "  event_type       text NOT NULL CHECK (event_type IN ('job.succeeded', 'job.failed')),"
    "  url              text NOT NULL,"
    "  body             text NOT NULL,"
    "  status           text NOT NULL DEFAULT 'pending'"
    "                   CHECK (status IN ('pending', 'delivered', 'failed')),"
    "  attempts         integer NOT NULL DEFAULT 0,"
    "  retry_base       integer NOT NULL DEFAULT 0,"
    "  next_attempt_at  timestamptz NOT NULL DEFAULT now(),"
    "  locked_until     timestamptz,"
    "  last_http_status integer,"
    "  last_error       text,"
    "  created_at       timestamptz NOT NULL DEFAULT now(),"
    "  delivered_at     timestamptz,"
    "  UNIQUE (job_id, event_type)"
    ");"
    "CREATE TABLE ocr_webhook_attempts ("
    "  delivery_id bigint NOT NULL REFERENCES ocr_webhook_deliveries (id) ON DELETE CASCADE,"
    "  attempt     integer NOT NULL,"
    "  started_at  timestamptz NOT NULL,"
    "  http_status integer,"
    "  error       text,"
    "  duration_ms integer NOT NULL,"
    "  PRIMARY KEY (delivery_id, attempt)"
    ");"
    /* the dispatcher's claim: pending and due, oldest first */
    "CREATE INDEX ocr_webhook_deliveries_due_idx ON ocr_webhook_deliveries (next_attempt_at)"
    "  WHERE status = 'pending';"
    /* ocrq-admin webhooks list --failed */
    "CREATE INDEX ocr_webhook_deliveries_failed_idx ON ocr_webhook_deliveries (id)"
    "  WHERE status = 'failed';"
    "CREATE FUNCTION ocrq_webhooks_notify() RETURNS trigger LANGUAGE plpgsql AS"
    "  $$BEGIN PERFORM pg_notify('ocrq_webhooks', ''); RETURN NULL; END$$;"
    "CREATE TRIGGER ocr_webhook_deliveries_notify AFTER INSERT OR UPDATE OF next_attempt_at"
    "  ON ocr_webhook_deliveries FOR EACH STATEMENT EXECUTE FUNCTION ocrq_webhooks_notify();"
    "COMMENT ON TABLE ocr_webhook_deliveries IS"
    "  'Webhook outbox: one event per finished job and type, inserted in the transaction"
    " that finishes the job, sent by the dispatchers of ocrq-worker.';"
    "COMMENT ON COLUMN ocr_webhook_deliveries.event_id IS"
    "  'webhook-id header, the same on every attempt';"
    "COMMENT ON COLUMN ocr_webhook_deliveries.body IS 'the JSON sent, the same on every attempt';"
    "COMMENT ON COLUMN ocr_webhook_deliveries.attempts IS 'attempts made so far';"
    "COMMENT ON COLUMN ocr_webhook_deliveries.retry_base IS"
    "  'attempts before the latest ocrq-admin webhooks retry: the schedule starts again';"
    "COMMENT ON COLUMN ocr_webhook_deliveries.locked_until IS"
    "  'a dispatcher is sending it until then; another may take it over after';"
    "COMMENT ON TABLE ocr_webhook_attempts IS"
    "  'Every delivery attempt: HTTP status or error, and how long it took.';";

/* API keys of ocrq-api: only a hash of each key is kept. */
static const char m3_api_keys[] =
    "CREATE TABLE ocr_api_keys ("
    "  name         text PRIMARY KEY,"
    "  key_id       text NOT NULL UNIQUE,"
    "  key_hash     text NOT NULL,"
    "  created_at   timestamptz NOT NULL DEFAULT now(),"
    "  revoked_at   timestamptz,"
    "  last_used_at timestamptz"
    ");"
    "COMMENT ON TABLE ocr_api_keys IS"
    "  'Keys of ocrq-api (ocrq-admin apikey create|list|revoke); the key itself is never stored.';"
    "COMMENT ON COLUMN ocr_api_keys.key_id IS"
    "  'the public part of the key (ocrq_<key_id>_<secret>), to find its row';"
    "COMMENT ON COLUMN ocr_api_keys.key_hash IS 'hex SHA-256 of the whole key';";

/* ocrq-api: who submitted a job, and the Idempotency-Key of each request. */
static const char m4_api_jobs[] =
    "ALTER TABLE ocr_jobs ADD COLUMN api_key text;"
    "COMMENT ON COLUMN ocr_jobs.api_key IS"
    "  'name of the ocrq-api key that submitted the job (it alone reads it there); NULL otherwise';"
    "CREATE TABLE ocr_idempotency_keys ("
    "  api_key     text NOT NULL,"
    "  idem_key    text NOT NULL,"
    "  job_id      uuid NOT NULL,"
    "  fingerprint text NOT NULL,"
    "  confirmed   boolean NOT NULL DEFAULT false,"
    "  created_at  timestamptz NOT NULL DEFAULT now(),"
    "  PRIMARY KEY (api_key, idem_key)"
    ");"
    "CREATE INDEX ocr_idempotency_keys_job_idx ON ocr_idempotency_keys (job_id);"
    "COMMENT ON TABLE ocr_idempotency_keys IS"
    "  'Idempotency-Key of POST /v1/jobs per API key: a repeat returns job_id instead of a new "
    "job';"
    "COMMENT ON COLUMN ocr_idempotency_keys.fingerprint IS"
    "  'SHA-256 of the request (parameters and body): a repeat with another request is refused';"
    "COMMENT ON COLUMN ocr_idempotency_keys.confirmed IS"
    "  'the broker confirmed the job; until then a repeat publishes it again (same job_id)';";
/*
 * A job can be canceled while it is queued (ocrq-admin cancel): 'canceled' is
 * final like 'succeeded' and 'failed'.
 */
static const char m5_canceled[] =
    "ALTER TABLE ocr_jobs DROP CONSTRAINT ocr_jobs_status_check;"
    "ALTER TABLE ocr_jobs ADD CONSTRAINT ocr_jobs_status_check"
    "  CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled'));"
    "COMMENT ON COLUMN ocr_jobs.status IS"
    "  'queued, running, succeeded, failed or canceled; the last three are final';"
    "COMMENT ON COLUMN ocr_jobs.finished_at IS"
    "  'when the job became succeeded, failed or canceled';";
/*
 * Documents of several pages (docs/documents.md): one row per page, written
 * in the transaction that marks the job succeeded; the page counts on the
 * job.
 */
static const char m6_pages[] =
    "CREATE TABLE ocr_pages ("
    "  job_id      uuid NOT NULL REFERENCES ocr_jobs (job_id) ON DELETE CASCADE,"
    "  page_no     integer NOT NULL CHECK (page_no >= 1),"
    "  text        text NOT NULL,"
    "  mean_conf   real,"
    "  width       integer NOT NULL,"
    "  height      integer NOT NULL,"
    "  rotation    smallint NOT NULL DEFAULT 0 CHECK (rotation IN (0, 90, 180, 270)),"
    "  duration_ms integer NOT NULL,"
    "  method      text NOT NULL DEFAULT 'ocr' CHECK (method IN ('ocr', 'text_layer')),"
    "  PRIMARY KEY (job_id, page_no)"
    ");"
    "ALTER TABLE ocr_jobs ADD COLUMN pages_total integer, ADD COLUMN pages_done integer;"
    "COMMENT ON TABLE ocr_pages IS"
    "  'Text of each page of a succeeded job, in the transaction that marks it succeeded;"
    " the job''s text in ocr_results is the pages joined by form feeds.';"
    "COMMENT ON COLUMN ocr_pages.page_no IS 'page number in the document, from 1';"
    "COMMENT ON COLUMN ocr_pages.mean_conf IS"
    "  'Tesseract mean word confidence, 0-100; NULL when the text layer was taken';"
    "COMMENT ON COLUMN ocr_pages.width IS 'pixels OCRed (a PDF page: rendered at ocr.pdf_dpi)';"
    "COMMENT ON COLUMN ocr_pages.rotation IS"
    "  'degrees clockwise the page was turned before OCR (0 until orientation detection)';"
    "COMMENT ON COLUMN ocr_pages.duration_ms IS 'time spent on the page, rendering and OCR';"
    "COMMENT ON COLUMN ocr_pages.method IS"
    "  'ocr: recognized by the engine; text_layer: the PDF page''s own text (ocr.pdf_text skip)';"
    "COMMENT ON COLUMN ocr_jobs.pages_total IS 'pages of the document, once it was read';"
    "COMMENT ON COLUMN ocr_jobs.pages_done IS 'pages with a result';";

/*
 * Outputs beside the text (docs/results.md): one row per job and format
 * asked for, written in the transaction that marks the job succeeded. A
 * format over artifacts.max_bytes keeps its size and the reason, no content.
 */
static const char m7_artifacts[] =
    "CREATE TABLE ocr_artifacts ("
    "  job_id     uuid NOT NULL REFERENCES ocr_jobs (job_id) ON DELETE CASCADE,"
    "  format     text NOT NULL CHECK (format IN ('hocr', 'alto', 'tsv', 'pdf', 'words')),"
    "  content    bytea,"
    "  bytes      bigint NOT NULL CHECK (bytes >= 0),"
    "  error      text,"
    "  created_at timestamptz NOT NULL DEFAULT now(),"
    "  PRIMARY KEY (job_id, format),"
    "  CHECK ((content IS NULL) = (error IS NOT NULL))"
    ");"
    "COMMENT ON TABLE ocr_artifacts IS"
    "  'Outputs a succeeded job asked for with its formats option (hOCR, ALTO, TSV,"
    " searchable PDF, words JSON), in the transaction that marks it succeeded;"
    " plain text stays in ocr_results.';"
    "COMMENT ON COLUMN ocr_artifacts.format IS 'hocr, alto, tsv, pdf or words';"
    "COMMENT ON COLUMN ocr_artifacts.content IS"
    "  'the file as Tesseract wrote it (UTF-8 text, or PDF bytes); NULL when not kept';"
    "COMMENT ON COLUMN ocr_artifacts.bytes IS 'size of the artifact, also when it was not kept';"
    "COMMENT ON COLUMN ocr_artifacts.error IS"
    "  'why content is NULL: over artifacts.max_bytes; NULL when stored';";

/*
 * Deduplication and straightened pages (docs/documents.md): the document's
 * SHA-256 and the options that shaped its text on the job, the job a result
 * was copied from, the lookup's partial index (only originals that
 * succeeded), and each page's skew correction.
 */
static const char m8_dedupe_skew[] =
    "ALTER TABLE ocr_jobs ADD COLUMN doc_sha256 bytea, ADD COLUMN ocr_options text,"
    "  ADD COLUMN dedupe_of uuid REFERENCES ocr_jobs (job_id) ON DELETE SET NULL;"
    "CREATE INDEX ocr_jobs_dedupe_idx ON ocr_jobs (doc_sha256, language, ocr_options,"
    "  finished_at) WHERE status = 'succeeded' AND dedupe_of IS NULL;"
    "ALTER TABLE ocr_pages ADD COLUMN skew real NOT NULL DEFAULT 0;"
    "ALTER TABLE ocr_pages DROP CONSTRAINT ocr_pages_method_check;"
    "ALTER TABLE ocr_pages ADD CONSTRAINT ocr_pages_method_check"
    "  CHECK (method IN ('ocr', 'text_layer', 'dedupe'));"
    "COMMENT ON COLUMN ocr_jobs.doc_sha256 IS"
    "  'SHA-256 of the document''s bytes, recorded when the job succeeds';"
    "COMMENT ON COLUMN ocr_jobs.ocr_options IS"
    "  'the worker options that shaped the text (pdf_text, pdf_dpi, auto_rotate, deskew,"
    " engine): with doc_sha256 and language, the deduplication key';"
    "COMMENT ON COLUMN ocr_jobs.dedupe_of IS"
    "  'the job whose result this one took without OCR (dedupe.enabled); NULL: OCRed';"
    "COMMENT ON COLUMN ocr_jobs.pages_done IS"
    "  'pages with a result: counts up while a document of several pages is read';"
    "COMMENT ON COLUMN ocr_pages.rotation IS"
    "  'degrees clockwise the page was turned before OCR (ocr.auto_rotate)';"
    "COMMENT ON COLUMN ocr_pages.skew IS"
    "  'degrees clockwise the page was turned to straighten it (ocr.deskew); 0: not';"
    "COMMENT ON COLUMN ocr_pages.method IS"
    "  'ocr: recognized by the engine; text_layer: the PDF page''s own text (ocr.pdf_text"
    " skip); dedupe: copied from the page of the job in ocr_jobs.dedupe_of';";

/*
 * Big documents (docs/documents.md): the document store (a blob's bytes in
 * chunks of 1 MiB, stored uncompressed: scans do not compress), page tasks
 * (attempts per page) and the pages' outputs until a split document is
 * assembled, artifacts kept in the store, and on the job the stored
 * document and the window its pages were released with.
 */
/*
 * Each ocrq-api key signs its jobs' webhooks with a secret of its own, so
 * that a tenant's receiver cannot forge another tenant's events; the
 * previous one is still used next to it until webhook_secret_prev_until.
 */
static const char m10_key_secrets[] =
    "ALTER TABLE ocr_api_keys ADD COLUMN webhook_secret text,"
    "  ADD COLUMN webhook_secret_prev text, ADD COLUMN webhook_secret_prev_until timestamptz;"
    "COMMENT ON COLUMN ocr_api_keys.webhook_secret IS"
    "  'whsec_ secret signing the webhooks of this key''s jobs; NULL: webhooks.secrets';"
    "COMMENT ON COLUMN ocr_api_keys.webhook_secret_prev IS"
    "  'the secret before the last rotation, signing too until webhook_secret_prev_until';";

/*
 * The dispatchers' wake-up fires only when an event row is written: as a
 * statement trigger it fired for every job's outcome statement, whose
 * INSERT ... SELECT of the event writes nothing for a job without a
 * webhook, and each dispatcher then ran a claim for nothing. NOTIFY folds
 * the equal notifications of one transaction into one.
 */
static const char m11_notify_rows[] =
    "DROP TRIGGER ocr_webhook_deliveries_notify ON ocr_webhook_deliveries;"
    "CREATE TRIGGER ocr_webhook_deliveries_notify AFTER INSERT OR UPDATE OF next_attempt_at"
    "  ON ocr_webhook_deliveries FOR EACH ROW EXECUTE FUNCTION ocrq_webhooks_notify();";

static const char m9_big_documents[] =
    "CREATE TABLE ocr_blobs ("
    "  blob_id    uuid PRIMARY KEY,"
    "  job_id     uuid NOT NULL,"
    "  kind       text NOT NULL CHECK (kind IN ('document', 'artifact')),"
    "  bytes      bigint NOT NULL DEFAULT 0 CHECK (bytes >= 0),"
    "  sha256     bytea,"
    "  created_at timestamptz NOT NULL DEFAULT now()"
    ");"
    "CREATE INDEX ocr_blobs_job_idx ON ocr_blobs (job_id);"
    "CREATE TABLE ocr_blob_chunks ("
    "  blob_id uuid NOT NULL REFERENCES ocr_blobs (blob_id) ON DELETE CASCADE,"
    "  seq     integer NOT NULL CHECK (seq >= 0),"
    "  data    bytea NOT NULL,"
    "  PRIMARY KEY (blob_id, seq)"
    ");"
    "ALTER TABLE ocr_blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;"
    "CREATE TABLE ocr_page_tasks ("
    "  job_id     uuid NOT NULL REFERENCES ocr_jobs (job_id) ON DELETE CASCADE,"
    "  page_no    integer NOT NULL CHECK (page_no >= 1),"
    "  attempts   integer NOT NULL DEFAULT 0,"
    "  worker     text,"
    "  started_at timestamptz,"
    "  PRIMARY KEY (job_id, page_no)"
    ");"
    "CREATE TABLE ocr_page_artifacts ("
    "  job_id  uuid NOT NULL REFERENCES ocr_jobs (job_id) ON DELETE CASCADE,"
    "  page_no integer NOT NULL CHECK (page_no >= 1),"
    "  format  text NOT NULL CHECK (format IN ('hocr', 'alto', 'tsv', 'pdf', 'words')),"
    "  content bytea NOT NULL,"
    "  PRIMARY KEY (job_id, page_no, format)"
    ");"
    "ALTER TABLE ocr_page_artifacts ALTER COLUMN content SET STORAGE EXTERNAL;"
    "ALTER TABLE ocr_artifacts ADD COLUMN blob_id uuid;"
    "ALTER TABLE ocr_artifacts DROP CONSTRAINT ocr_artifacts_check;"
    "ALTER TABLE ocr_artifacts ADD CONSTRAINT ocr_artifacts_one_place"
    "  CHECK (num_nonnulls(content, blob_id, error) = 1);"
    "ALTER TABLE ocr_jobs ADD COLUMN doc_blob_id uuid, ADD COLUMN page_window integer;"
    "COMMENT ON TABLE ocr_blobs IS"
    "  'The document store: documents too large for a message and artifacts too large"
    " for a row, written in one transaction (whole or absent).';"
    "COMMENT ON COLUMN ocr_blobs.kind IS"
    "  'document: a job''s input, deleted documents.retention_s after the job ended;"
    " artifact: an output, kept with the job';"
    "COMMENT ON COLUMN ocr_blobs.job_id IS 'the job it belongs to (its row may come later)';"
    "COMMENT ON TABLE ocr_blob_chunks IS"
    "  'A blob''s bytes: chunk seq holds bytes seq * 1 MiB onwards; all but the last are 1 MiB';"
    "COMMENT ON TABLE ocr_page_tasks IS"
    "  'Deliveries of each page task of a split document (attempts per page)';"
    "COMMENT ON TABLE ocr_page_artifacts IS"
    "  'Each page''s outputs of a split document until the document is assembled';"
    "COMMENT ON COLUMN ocr_artifacts.blob_id IS"
    "  'the artifact in the document store (ocr_blobs) instead of content';"
    "COMMENT ON COLUMN ocr_jobs.doc_blob_id IS"
    "  'the stored document (ocr_blobs) of a job sent by reference or split into pages';"
    "COMMENT ON COLUMN ocr_jobs.page_window IS"
    "  'split documents: page tasks released at once (documents.page_window); NULL: not split';";

/*
 * Retention (ocrq-admin purge, retention.days; docs/operations.md): the
 * finished jobs in the order purge takes them (a keyset on finished_at,
 * job_id: each batch starts where the last one ended), and the jobs that
 * took their result from another (dedupe_of), so that deleting a job does
 * not scan ocr_jobs for the references to clear. IF NOT EXISTS: on a big
 * table an operator may build them beforehand with CREATE INDEX
 * CONCURRENTLY, which does not block the workers' writes.
 */
static const char m12_retention[] =
    "CREATE INDEX IF NOT EXISTS ocr_jobs_finished_idx ON ocr_jobs (finished_at, job_id)"
    "  WHERE status IN ('succeeded', 'failed', 'canceled');"
    "CREATE INDEX IF NOT EXISTS ocr_jobs_dedupe_of_idx ON ocr_jobs (dedupe_of)"
    "  WHERE dedupe_of IS NOT NULL;";

/* API key roles: submit (the keys before) or admin (the dashboard, producer/api_ui.c) */
static const char m13_key_roles[] =
    "ALTER TABLE ocr_api_keys ADD COLUMN IF NOT EXISTS role text NOT NULL DEFAULT 'submit'"
    "  CHECK (role IN ('submit', 'admin'));";

/*
 * The fleet registry (docs/fleet.md, worker/registry.c): each supervisor
 * records itself by its --name every few seconds, and each of its OCR
 * processes by slot, so that ocrq-admin workers and the dashboard see every
 * worker of the fleet in one place. A new start under the same name takes
 * the row over; its process rows go with it (ON DELETE CASCADE).
 */
static const char m14_fleet[] =
    "CREATE TABLE ocr_workers ("
    "  name         text PRIMARY KEY,"
    "  host         text NOT NULL,"
    "  pid          integer NOT NULL,"
    "  processes    integer NOT NULL,"
    "  version      text NOT NULL,"
    "  started_at   timestamptz NOT NULL,"
    "  heartbeat_at timestamptz NOT NULL,"
    "  stopped_at   timestamptz"
    ");"
    "CREATE TABLE ocr_worker_processes ("
    "  worker         text NOT NULL REFERENCES ocr_workers (name) ON DELETE CASCADE,"
    "  slot           integer NOT NULL,"
    "  pid            integer,"
    "  state          text NOT NULL"
    "                 CHECK (state IN ('idle', 'busy', 'starting', 'stopped')),"
    "  job_id         uuid,"
    "  job_started_at timestamptz,"
    "  jobs_done      bigint NOT NULL DEFAULT 0,"
    "  updated_at     timestamptz NOT NULL DEFAULT now(),"
    "  PRIMARY KEY (worker, slot)"
    ");"
    "COMMENT ON TABLE ocr_workers IS"
    "  'One row per supervisor (ocrq-worker --name), written by itself every 5 s';"
    "COMMENT ON COLUMN ocr_workers.heartbeat_at IS"
    "  'its last beat; older than 30 s: stale (the supervisor is gone or cut off)';"
    "COMMENT ON COLUMN ocr_workers.stopped_at IS 'when it stopped; NULL: running';"
    "COMMENT ON TABLE ocr_worker_processes IS"
    "  'The OCR processes of each supervisor, by slot, as of its last beat';"
    "COMMENT ON COLUMN ocr_worker_processes.state IS"
    "  'idle, busy (job_id set), starting (not connected to the broker) or stopped';"
    "COMMENT ON COLUMN ocr_worker_processes.jobs_done IS"
    "  'jobs the slot finished (succeeded or failed) since the supervisor started';";
static const struct ocrq_migration migrations[] = {
    {1, "ocr_jobs and ocr_results", m1_jobs_results},
    {2, "webhook outbox", m2_webhooks},
    {3, "api keys", m3_api_keys},
    {4, "api jobs and idempotency keys", m4_api_jobs},
    {5, "canceled status", m5_canceled},
    {6, "pages", m6_pages},
    {7, "artifacts", m7_artifacts},
    {8, "deduplication and page skew", m8_dedupe_skew},
    {9, "big documents: store, page tasks", m9_big_documents},
    {10, "webhook secrets per API key", m10_key_secrets},
    {11, "webhook notify per event row", m11_notify_rows},
    {12, "retention: finished jobs and dedupe references", m12_retention},
    {13, "api key roles", m13_key_roles},
    {14, "fleet registry: workers and their processes", m14_fleet},
};

/* Apply migration m in its own transaction unless it is recorded; *done = 1 if applied now. */
static int apply_one(struct ocrq_db *db, const struct ocrq_migration *m, int *done)
{
    char version[16];
    char what[64];
    const char *params[2] = {version, m->name};
    int present = 0;
    int st;

    *done = 0;
    snprintf(version, sizeof version, "%d", m->version);
    snprintf(what, sizeof what, "migration %d", m->version);
    st = ocrq_db_exec(db, "BEGIN; " LOCK, 1, what);
    if (st != OCRQ_OK)
        goto out;
    st =
        ocrq_db_query_int(db, "SELECT count(*) FROM ocrq_schema_migrations WHERE version = $1::int",
                          1, params, what, &present);
    if (st != OCRQ_OK || present)
        goto out;
    st = ocrq_db_exec(db, m->sql, 0, what);
    if (st != OCRQ_OK)
        goto out;
    st = ocrq_db_query_int(db,
                           "INSERT INTO ocrq_schema_migrations (version, name)"
                           " VALUES ($1::int, $2::text) RETURNING version",
                           2, params, what, &present);
    if (st != OCRQ_OK)
        goto out;
    *done = 1;
out:
    if (st == OCRQ_OK)
        st = ocrq_db_exec(db, "COMMIT", 0, what);
    if (st != OCRQ_OK) {
        ocrq_db_rollback(db);
        *done = 0;
    } else if (*done) {
        log_info(NULL, "db: applied migration %d (%s)", m->version, m->name);
    }
    return st;
}

/*
 * Apply the pending migrations, each in its own transaction holding
 * pg_advisory_xact_lock, so concurrent callers apply each exactly once.
 * *applied and *version (either may be NULL) get the number applied now and
 * the schema version after. Returns OCRQ_OK or OCRQ_ERR_DB (logged once).
 * Not thread-safe on one db (see db.h).
 */
int ocrq_db_migrate(struct ocrq_db *db, int *applied, int *version)
{
    int count = 0, timeout;
    int st;

    if (applied)
        *applied = 0;
    if (version)
        *version = 0;
    if (!db)
        return OCRQ_ERR_INVALID;
    /* a migration rewrites whole tables: it runs as long as it takes */
    timeout = ocrq_db_timeout(db);
    ocrq_db_set_timeout(db, 0);
    /* The bookkeeping table itself, created under the same lock. */
    st = ocrq_db_exec(db,
                      "BEGIN; " LOCK "; CREATE TABLE IF NOT EXISTS ocrq_schema_migrations ("
                      " version integer PRIMARY KEY, name text NOT NULL,"
                      " applied_at timestamptz NOT NULL DEFAULT now()); COMMIT",
                      0, "migration bookkeeping");
    if (st != OCRQ_OK) {
        ocrq_db_rollback(db);
        ocrq_db_set_timeout(db, timeout);
        return st;
    }
    for (size_t i = 0; i < sizeof migrations / sizeof migrations[0]; i++) {
        int done;

        st = apply_one(db, &migrations[i], &done);
        if (st != OCRQ_OK)
            break;
        count += done;
    }
    if (applied)
        *applied = count;
    if (st == OCRQ_OK && version)
        st = ocrq_db_schema_version(db, version);
    ocrq_db_set_timeout(db, timeout);
    return st;
}

/*
 * Current schema version: the highest applied migration, 0 if none (or no
 * bookkeeping table yet). Returns OCRQ_OK, OCRQ_ERR_INVALID or OCRQ_ERR_DB.
 */
int ocrq_db_schema_version(struct ocrq_db *db, int *version)
{
    int exists = 0;
    int st;

    if (version)
        *version = 0;
    if (!db || !version)
        return OCRQ_ERR_INVALID;
    st = ocrq_db_query_int(db, "SELECT (to_regclass('ocrq_schema_migrations') IS NOT NULL)::int", 0,
                           NULL, "schema version", &exists);
    if (st != OCRQ_OK || !exists)
        return st;
    return ocrq_db_query_int(db, "SELECT coalesce(max(version), 0) FROM ocrq_schema_migrations", 0,
                             NULL, "schema version", version);
}
