# SPDX-License-Identifier: GPL-3.0-or-later
"""An OCR process killed with SIGKILL in the middle of a job (docs/fleet.md,
"What the supervisor does"): the supervisor starts a new child (another pid,
counted as ocrq_child_restarts_total{reason="crash"}), the broker redelivers
the job, and it completes exactly once: status succeeded, attempts == 2, one
ocr_results row, queues empty. The supervisor itself keeps running.

Then the supervisor is killed outright (SIGKILL): its children die with it
(PR_SET_PDEATHSIG), leaving no OCR process behind.

The child is paused (SIGSTOP) as soon as the job's row says 'running', and the
row is checked again while it is paused, so the kill certainly lands while the
job is in flight, however fast this machine is."""

import signal

import harness as h


def main(t):
    page, text = h.make_a4_page(h.tmpdir() / "page.png")
    port = h.free_port()
    w = h.start_worker(h.fleet_config({"worker.processes": 1,
                                       "worker.metrics_listen": f"127.0.0.1:{port}"}))
    first = h.wait_children(w, 1)[0]
    job_id = h.submit_json([page])[0]["job_id"]
    h.wait_until(lambda: (h.job_row(job_id) or {}).get("status") in ("running", "succeeded"),
                 what="the child to start the job")
    h.signal_pids([first], signal.SIGSTOP)
    row = h.job_row(job_id)
    t.require(row["status"] == "running" and row["attempts"] == 1,
              "the job is running (attempt 1) when the child is killed",
              {k: row[k] for k in ("status", "attempts", "worker")})
    h.signal_pids([first], signal.SIGKILL)

    second = h.check_eventually(t, lambda: [k for k in h.worker_children(w) if k != first],
                                f"a new child was started in place of pid {first}", timeout=60,
                                require=True)[0]
    print(f"new child: pid {first} -> {second}", flush=True)
    rows = h.wait_finished([job_id], what="the new child to finish the job")
    row = rows[0]
    t.check(row["status"] == "succeeded", "the job succeeded",
            {k: row[k] for k in ("status", "error_code", "error_message")})
    t.check(row["attempts"] == 2, "attempts == 2", row["attempts"])
    results = h.result_rows([job_id])
    t.check(len(results) == 1, "exactly one ocr_results row", len(results))
    if results:
        rate = h.cer(text, results[0]["text"])
        t.check(rate < 0.02, f"the page's text is right (CER {rate:.2%})")
    h.check_queues_empty(t, timeout=30)

    metrics = h.get_metrics(port)
    crash = h.metric(metrics, "ocrq_child_restarts_total", reason="crash")
    t.check(crash == 1, 'ocrq_child_restarts_total{reason="crash"} 1',
            h.metric_series(metrics, "ocrq_child_restarts_total"))
    t.check(h.metric(metrics, "ocrq_jobs_total", outcome="succeeded") == 1,
            'ocrq_jobs_total{outcome="succeeded"} 1', h.metric_series(metrics, "ocrq_jobs_total"))
    t.check(w.poll() is None and h.worker_children(w) == [second],
            "the supervisor runs on, with the new child", h.worker_children(w))

    # The supervisor killed outright takes its children with it.
    h.kill_worker(w, signal.SIGKILL)
    alive = h.check_eventually(t, lambda: [k for k in [second] if h.proc_alive(k)],
                               "the child died with its supervisor (SIGKILL)",
                               ok=lambda pids: not pids, timeout=30)
    h.signal_pids(alive, signal.SIGKILL)


if __name__ == "__main__":
    h.run(main)
