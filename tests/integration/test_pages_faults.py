# SPDX-License-Identifier: GPL-3.0-or-later
"""Limits, crashes and cancel per page (docs/design.md, "Page tasks"), on a
supervisor with 2 OCR processes:

* kill -9 of an OCR process in the middle of a 40-page document: the
  supervisor replaces it, the document succeeds once (one result, one
  job.succeeded event, 40 pages in order), and no page was delivered twice
  except the one the killed process held (ocr_page_tasks.attempts);
* ocrq-admin cancel in the middle of a 40-page document: the job is
  canceled, no page task starts after the cancel, nothing is left in the
  queues, no result and no event, and its stored document is deleted;
* a 10-page TIFF whose pages 7 and 8 cannot be decoded: the document fails
  with "page 7" or "page 8" in error_message, one job.failed event, the copy in ocr.failed
  is the document's job (no page field), the pages that were running are
  not kept, and the worker goes on serving (a small image after it succeeds);
* with dedupe.enabled, the same 6-page document submitted twice: the second
  takes the first's whole result (dedupe_of) and is never split."""

import json
import re

import bigdoc
import harness as h


def kill_mid_document(t, w):
    pdf = bigdoc.pdf_of(bigdoc.page_images(40, stem="kill", lines=4), h.tmpdir() / "kill.pdf")
    job = h.submit_json([str(pdf)])[0]["job_id"]
    h.wait_until(lambda: (h.job_row(job)["pages_done"] or 0) >= 6, timeout=120,
                 what="6 pages of the document stored")
    kids = h.worker_pids(w)[1:]
    ocr = [k for k in kids if b"--child" in open(f"/proc/{k}/cmdline", "rb").read()]
    t.require(len(ocr) == 2, "two OCR processes to kill one of", kids)
    h.os.kill(ocr[0], h.signal.SIGKILL)
    rows = h.wait_finished([job], timeout=300, what="the document after the kill")
    t.check(rows[0]["status"] == "succeeded", "kill -9: the document succeeded",
            (rows[0]["status"], rows[0]["error_message"]))
    t.check(len(h.result_rows([job])) == 1, "kill -9: one result row")
    bad = bigdoc.pages_in_order(h.result_rows([job])[0]["text"], 40)
    t.check(not bad, "kill -9: the text is the 40 pages in order", bad[:3])
    events = h.webhook_deliveries([job])
    t.check(len(events) == 1 and events[0]["event_type"] == "job.succeeded",
            "kill -9: one job.succeeded event in the outbox", events)
    tasks = bigdoc.task_rows(job)
    t.check(sorted(tasks) == list(range(1, 41)), "kill -9: a task row for each of the 40 pages",
            len(tasks))
    again = sorted(p for p, (attempts, _) in tasks.items() if attempts > 1)
    t.check(len(again) <= 1, "kill -9: no page delivered twice but the one the killed process"
            " held", again)
    log = w.log_path.read_text(errors="replace")
    stored = [line for line in log.splitlines() if f"job={job}" in line and " of 40 in " in line]
    t.check(len(stored) == 40, "kill -9: each page stored once", len(stored))
    return job


def cancel_mid_document(t):
    pdf = bigdoc.pdf_of(bigdoc.page_images(40, stem="cancel", lines=4), h.tmpdir() / "cancel.pdf")
    job = h.submit_json([str(pdf)])[0]["job_id"]
    h.wait_until(lambda: (h.job_row(job)["pages_done"] or 0) >= 4, timeout=120,
                 what="4 pages of the document stored")
    r = h.admin(["cancel", job])
    t.check(r.returncode == 0, "ocrq-admin cancel of a document whose pages run exits 0",
            r.stdout + r.stderr)
    at_cancel = bigdoc.task_rows(job)
    row = h.job_row(job)
    t.check(row["status"] == "canceled", "the job is canceled", row["status"])
    h.wait_until(lambda: h.queue_counts([h.JOB_QUEUE])[h.JOB_QUEUE] == 0, timeout=60,
                 what="the page tasks left in the queue to be drained")
    h.wait_until(lambda: bigdoc.stored_documents(job) == 0, timeout=60,
                 what="the canceled document's stored copy to be deleted")
    after = bigdoc.task_rows(job)
    t.check(after == at_cancel, "no page task started after the cancel returned (the page task"
            " rows are as they were then)",
            sorted(set(after.items()) - set(at_cancel.items()))[:5])
    stored = len(bigdoc.page_rows(job))
    t.check(stored < 40, f"pages not yet started were never OCRed ({stored} of 40 stored)")
    t.check(not h.result_rows([job]), "no result row")
    t.check(not h.webhook_deliveries([job]), "no webhook event")


def corrupt_page(t):
    tif = bigdoc.tiff_of(bigdoc.page_images(10, stem="tif"), h.tmpdir() / "ten.tif")
    bigdoc.break_tiff_page(tif, 7)
    bigdoc.break_tiff_page(tif, 8)  # two bad pages, likely read at once: still one failure
    r = h.submit(["--wait", "--json", str(tif)])
    t.check(r.returncode == 1, "a document with a corrupt page: ocrq-submit --wait exits 1",
            r.stderr[-300:])
    job = h.json_lines(r.stdout)[0]["job_id"]
    row = h.job_row(job)
    t.check(row["status"] == "failed" and row["error_code"] == "decode",
            "the document failed with error_code decode", (row["status"], row["error_code"]))
    t.check(re.match(r"page [78] of 10: ", row["error_message"] or "") is not None,
            "error_message names the bad page (7 or 8)", row["error_message"])
    events = h.webhook_deliveries([job])
    t.check([e["event_type"] for e in events] == ["job.failed"], "one job.failed event", events)
    t.check(not bigdoc.page_rows(job), "the failed document keeps no pages")
    dead = [m for m in h.get_failed_messages() if m["message_id"] == job]
    bodies = [json.loads(m["body"].split(b"\n", 1)[0]) for m in dead]
    mine = [b for b in bodies if b.get("job_id") == job]
    t.check(len(mine) == 1 and "page" not in mine[0] and mine[0]["document"]["kind"] == "stored",
            "ocr.failed holds the document's job (stored, no page field), once",
            [sorted(b) for b in mine])
    h.wait_until(lambda: bigdoc.stored_documents(job) == 0, timeout=60,
                 what="the failed document's stored copy to be deleted")
    img = h.make_image("After the broken document", h.tmpdir() / "after.png")
    r = h.submit(["--wait", "--json", str(img)])
    t.check(r.returncode == 0, "the worker still serves: a small image afterwards succeeds",
            r.stdout + r.stderr[-200:])


def dedupe_whole_document(t):
    tif = bigdoc.tiff_of(bigdoc.page_images(6, stem="same"), h.tmpdir() / "same.tif")
    first = h.submit_json(["--wait", str(tif)])[0]["job_id"]
    second = h.submit_json(["--wait", str(tif)])[0]["job_id"]
    rows = {r["job_id"]: r for r in h.job_rows([first, second])}
    t.check(rows[first]["status"] == rows[second]["status"] == "succeeded",
            "dedupe: both jobs of the same 6-page document succeeded")
    t.check(str(rows[second]["dedupe_of"]) == first,
            "dedupe: the second took the whole result of the first", rows[second]["dedupe_of"])
    t.check(not bigdoc.task_rows(second), "dedupe: the second was not split into page tasks")
    texts = {r["job_id"]: r["text"] for r in h.result_rows([first, second])}
    t.check(texts[first] == texts[second] and not bigdoc.pages_in_order(texts[second], 6),
            "dedupe: the same text, 6 pages in order")


def main(t):
    conf = h.webhook_config({"worker.processes": 2, "dedupe.enabled": True,
                             "webhooks.default_url": "http://127.0.0.1:9/hook",
                             "webhooks.dispatcher": False})
    w = h.start_worker(conf, environ=h.webhook_env())
    kill_mid_document(t, w)
    cancel_mid_document(t)
    corrupt_page(t)
    dedupe_whole_document(t)
    h.stop_worker(w)


if __name__ == "__main__":
    h.run(main)
