# SPDX-License-Identifier: GPL-3.0-or-later
"""Strict priority and fairness while big documents occupy the fleet
(docs/design.md, "Page tasks"): two 60-page documents run on a supervisor
with 2 OCR processes (documents.page_window 0: twice the processes, 4). Once
both are under way, a priority job (-p 9) and a normal one-page job are
submitted together. Counted in pages, not seconds:

* the priority job starts before any page task that was not yet running
  when it was submitted: at most the 2 pages in flight finish first;
* the normal job starts after at most the page tasks the two documents
  had released (2 x window = 8), not after their 120 pages: both documents
  are still running when it starts, and each document keeps at most a
  window of page tasks in the queue;
* everything succeeds once."""

import bigdoc
import harness as h

PAGES = 60
WINDOW = 4  # 2 x worker.processes


def started_between(jobs, since, until):
    """Page tasks of jobs that started in (since, until]."""
    return h.db_query("SELECT count(*) AS n FROM ocr_page_tasks WHERE job_id = ANY(%s::uuid[])"
                      " AND started_at > %s AND started_at <= %s",
                      (list(jobs), since, until))[0]["n"]


def main(t):
    conf = h.fleet_config({"worker.processes": 2})
    pdfs = [bigdoc.pdf_of(bigdoc.page_images(PAGES, stem=name, lines=10), h.tmpdir() / f"{name}.pdf")
            for name in ("first", "second")]
    prio_img = h.make_image("Priority job text", h.tmpdir() / "prio.png")
    norm_img = h.make_image("Normal small job", h.tmpdir() / "norm.png")
    w = h.start_worker(conf)
    docs = [h.submit_json(["-c", str(conf), str(pdf)])[0]["job_id"] for pdf in pdfs]
    h.wait_until(lambda: all((h.job_row(d)["pages_done"] or 0) >= 2 for d in docs), timeout=120,
                 what="both documents under way")
    queued = h.queue_counts([h.JOB_QUEUE])[h.JOB_QUEUE]
    t.check(queued <= 2 * WINDOW, f"the two documents keep at most 2 x {WINDOW} page tasks in the"
            f" queue ({queued})")

    prio = h.submit_json(["-c", str(conf), "-p", "9", str(prio_img)])[0]["job_id"]
    norm = h.submit_json(["-c", str(conf), str(norm_img)])[0]["job_id"]
    rows = {r["job_id"]: r for r in h.wait_finished([prio, norm], timeout=180)}
    t.check(all(r["status"] == "succeeded" for r in rows.values()), "both small jobs succeeded")
    p_row, n_row = rows[prio], rows[norm]
    before_p = started_between(docs, p_row["submitted_at"], p_row["started_at"])
    t.check(before_p <= 2, "the priority job started within one page's time: at most the pages"
            f" in flight went first ({before_p} page tasks started before it)")
    before_n = started_between(docs, n_row["submitted_at"], n_row["started_at"])
    t.check(before_n <= 2 * WINDOW, f"the normal job started within a few pages' time ({before_n}"
            f" page tasks of the documents started before it, at most 2 x window = {2 * WINDOW})")
    states = [h.job_row(d) for d in docs]
    t.check(all(s["status"] == "running" or s["finished_at"] > n_row["started_at"] for s in states),
            "both documents were still running when the normal job started (it did not wait"
            " for them)", [(s["status"], s["finished_at"], n_row["started_at"]) for s in states])
    print(f"  pages started before the priority job: {before_p}; before the normal job: "
          f"{before_n}", flush=True)

    rows = h.wait_finished(docs, timeout=300, what="the two documents")
    t.check(all(r["status"] == "succeeded" for r in rows), "both documents succeeded")
    for d in docs:
        bad = bigdoc.pages_in_order(h.result_rows([d])[0]["text"], PAGES)
        t.check(not bad, f"document {d[:8]}: its pages in order", bad[:3])
    h.stop_worker(w)


if __name__ == "__main__":
    h.run(main)
