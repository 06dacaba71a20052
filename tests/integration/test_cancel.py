# SPDX-License-Identifier: GPL-3.0-or-later
"""ocrq-admin cancel (docs/operations.md): a canceled job gets no result.

With no worker running, ocrq-submit --wait --json submits a batch of 20
small images and waits; two more jobs go in another batch, one of them an
image of 1.5 megapixels. ocrq-admin cancel --batch cancels the 20 (exit 0,
"20 canceled"), and the waiting ocrq-submit stops waiting: it prints status
canceled for each, counts them in its summary and exits 1 (not every job
succeeded). cancel ID cancels the large one. Then a worker starts (with
webhooks.default_url set): the 21 canceled jobs are acked (no result row, no
webhook event, status stays canceled) and the queues drain, while the job
that was not canceled is OCRed and succeeds. The large image is acked
without OCR ("canceled: acknowledging without OCR"); a small image on its
first attempt has no start of its own, so it may be recognized before its
outcome statement finds it canceled and drops the text ("already final").
Canceling again, canceling a finished job, a running job (a row set
running) and an unknown id all exit 1 and change nothing.
"""

import subprocess

import harness as h

BATCH = "cancel-me"
N = 20


def main(t):
    files = [h.make_image(f"Canceled page {i}", h.tmpdir() / f"page{i:02d}.png") for i in range(N)]
    keep_text = "This job was not canceled"
    others = [h.make_image(keep_text, h.tmpdir() / "keep.png"),
              h.make_image("Canceled alone", h.tmpdir() / "alone.png", width=1500, height=1000)]
    config = h.fleet_config({"webhooks.default_url": "http://127.0.0.1:9/hook",
                             "webhooks.dispatcher": False})

    # ocrq-submit --wait, with no worker: it submits and waits
    argv = [str(h.SUBMIT), "-c", str(config), "--wait", "--json", "--batch", BATCH,
            *map(str, files)]
    waiting = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=h.env())
    try:
        h.wait_until(lambda: len(h.db_query("SELECT 1 FROM ocr_jobs WHERE batch = %s AND"
                                            " status = 'queued'", (BATCH,))) == N
                     and h.queue_counts([h.JOB_QUEUE]).get(h.JOB_QUEUE) == N,
                     what=f"{N} queued jobs and messages")
        lines = h.submit_json(["-c", config, "--batch", "other", *others])
        t.require(len(lines) == 2 and all(h.is_uuid(o.get("job_id")) for o in lines),
                  "two more jobs submitted", lines)
        keep_id, alone_id = lines[0]["job_id"], lines[1]["job_id"]

        r = h.admin(["cancel", "--batch", BATCH])
        t.check(r.returncode == 0 and f"{N} canceled, 0 running" in r.stdout,
                f"cancel --batch cancels the {N} queued jobs (exit 0)",
                f"exit {r.returncode}: {r.stdout} {r.stderr}")
        try:
            out, err = waiting.communicate(timeout=h.WAIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise h.TestFailure("ocrq-submit --wait did not stop waiting for canceled jobs") from None
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait()
    submitted = h.json_lines(out)
    ids = [o.get("job_id") for o in submitted]
    t.check(waiting.returncode == 1, "ocrq-submit --wait exits 1 when jobs were canceled",
            f"exit {waiting.returncode}: {err}")
    t.check(len(submitted) == N and all(o.get("status") == "canceled" for o in submitted),
            "--wait --json prints status canceled for each job", submitted[:3])
    t.require(all(h.is_uuid(i) for i in ids), "every waiting job has an id", ids)
    t.check(f"0 succeeded, 0 failed, {N} canceled" in err, "the summary counts the canceled jobs",
            err)
    t.check(h.admin(["cancel", alone_id]).returncode == 0, "cancel ID cancels one queued job")

    # status counts them
    r = h.admin(["status", "--json", "--batch", BATCH])
    jobs = (h.json_lines(r.stdout) or [{}])[0].get("jobs", {})
    t.check(jobs.get("canceled") == N and jobs.get("queued") == 0, "status --batch counts canceled",
            r.stdout)

    # again: nothing to cancel
    r = h.admin(["cancel", "--batch", BATCH])
    t.check(r.returncode == 1 and f"0 canceled, 0 running (not canceled), {N} finished" in r.stdout,
            "cancel --batch again cancels nothing and exits 1", f"exit {r.returncode}: {r.stdout}")

    # a worker now: the canceled jobs are acked and recorded nowhere, the other one runs
    w = h.start_worker(config=config)
    canceled = ids + [alone_id]
    rows = h.wait_finished([keep_id], what="the job that was not canceled")
    t.check(rows[0]["status"] == "succeeded", "the job that was not canceled succeeds", rows[0])

    def acked(log):
        return [i for i in canceled if f"job={i} canceled: acknowledging without OCR" in log
                or f"job={i} already final" in log]

    def drained():
        c = h.queue_counts()
        return all(v == 0 for v in c.values()) and \
            len(acked(h.log_tail(w, 10000))) == len(canceled)
    h.wait_until(drained, what="the queues to drain and every canceled job to be acked")
    log = h.log_tail(w, 10000)
    t.check(sorted(acked(log)) == sorted(canceled), "the worker logs each canceled job it acked")
    t.check(f"job={alone_id} canceled: acknowledging without OCR" in log,
            "the large canceled image is acked without OCR (its start says canceled)")
    t.check(all(f"job={i} succeeded" not in log and f"job={i} failed" not in log for i in canceled),
            "none of them was recognized or failed", "")
    t.check(h.count_by_status(canceled) == {"queued": 0, "running": 0, "succeeded": 0,
                                            "failed": 0, "canceled": len(canceled)},
            "their statuses stay canceled", h.count_by_status(canceled))
    t.check(not h.result_rows(canceled), "no result rows for the canceled jobs")
    t.check(len(h.result_rows([keep_id])) == 1, "one result row for the job that ran")
    hooks = h.webhook_deliveries()
    t.check([d["job_id"] for d in hooks] == [keep_id],
            "a webhook event only for the job that ran", [(d["job_id"], d["event_type"]) for d in hooks])
    t.check(h.queue_counts([h.FAILED_QUEUE]).get(h.FAILED_QUEUE) == 0, "nothing dead-lettered")

    # what cannot be canceled
    r = h.admin(["cancel", keep_id])
    t.check(r.returncode == 1 and "succeeded already" in r.stderr,
            "cancel of a succeeded job exits 1 and says why", f"exit {r.returncode}: {r.stderr}")
    running = "11111111-1111-4111-8111-111111111111"
    h.db_query("INSERT INTO ocr_jobs (job_id, status, language, batch) VALUES"
               " (%s, 'running', 'eng', 'running-batch')", (running,))
    r = h.admin(["cancel", "--batch", "running-batch"])
    t.check(r.returncode == 1 and "is running" in r.stderr
            and h.job_row(running)["status"] == "running",
            "cancel of a running job exits 1, says so and leaves it running",
            f"exit {r.returncode}: {r.stdout} {r.stderr}")
    r = h.admin(["cancel", "00000000-0000-4000-8000-000000000000"])
    t.check(r.returncode == 1 and "no job" in r.stderr, "cancel of an unknown id exits 1",
            f"exit {r.returncode}: {r.stderr}")
    for args in (["cancel"], ["cancel", "x"], ["cancel", keep_id, "--batch", "b"],
                 ["cancel", "--batch", ""]):
        r = h.admin(args)
        t.check(r.returncode == 2, f"ocrq-admin {' '.join(args)} is a usage error",
                f"exit {r.returncode}: {r.stderr}")
    t.check(h.stop_worker(w) == 0, "worker exits 0 on SIGTERM")


if __name__ == "__main__":
    h.run(main)
