# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet rides out a RabbitMQ restart (docs/fleet.md, "Outages"): 300
small inline jobs, a supervisor with 2 OCR processes; once some have
succeeded, RabbitMQ is stopped (scripts/services mq-stop), left down a few
seconds and started again. All 300 end succeeded exactly once (300 rows
succeeded, one ocr_results row each, ocrq_jobs_total{outcome="succeeded"}
300), the queues are empty, the supervisor and the same two children still
run (no restart), both consume from ocr.jobs again, each reconnected
(ocrq_reconnects_total{target="amqp"} >= 2), and /readyz is 200 again.

The children get amqp.urls = [a port where nothing listens, the broker], so
they connect, and reconnect, through the second URL of the list.

This stops the broker of scripts/services (ctest runs integration tests one
at a time); it is always started again in a finally. The supervisor and its
children are paused (SIGSTOP) while the broker goes down, so jobs are
certainly left for the outage and some are in flight when it starts,
however fast this machine is. The waits add up to less than ctest's TIMEOUT
(400 s), so the finally that restarts the broker always runs."""

import time

import harness as h

N_JOBS = 300
PROCESSES = 2
OUTAGE_S = 3


def main(t):
    img = h.make_image("Broker restart job 7731", h.tmpdir() / "job.png", width=900)
    inputs = h.copies(img, N_JOBS)

    port = h.free_port()
    dead_url = f"amqp://guest:guest@127.0.0.1:{h.free_port()}/"  # nothing listens there
    w = h.start_worker(h.fleet_config({"worker.processes": PROCESSES,
                                       "worker.metrics_listen": f"127.0.0.1:{port}",
                                       "amqp.urls": [dead_url, h.AMQP_URL]}),
                       environ=h.env(OCRQ_AMQP_URL=None))  # it would replace amqp.urls
    kids = h.wait_children(w, PROCESSES)
    h.check_eventually(t, h.consumer_count, f"the children connect through the second broker of"
                       f" amqp.urls (the first refuses connections): {PROCESSES} consumers on"
                       f" {h.JOB_QUEUE}", ok=lambda n: n == PROCESSES, timeout=60, require=True)
    ids = [o["job_id"] for o in h.submit_json(inputs)]
    t.require(len(ids) == N_JOBS, f"{N_JOBS} jobs submitted", len(ids))
    h.wait_until(lambda: h.count_by_status(ids)["succeeded"] >= 20, what="20 jobs to succeed",
                 timeout=120, interval=0.05)
    h.pause_worker(w)
    try:
        before = h.count_by_status(ids)["succeeded"]
        t.require(before < N_JOBS, "jobs are left for the outage", f"{before} already succeeded")
        print(f"{before} jobs succeeded before the broker stopped", flush=True)
        h.services("mq-stop")
        h.resume_worker(w)
        time.sleep(OUTAGE_S)
        t.check(w.poll() is None and h.worker_children(w) == kids,
                "the supervisor and its children run on while the broker is down",
                f"{kids} -> {h.worker_children(w)}")
    finally:
        if w.poll() is None:
            h.resume_worker(w)
        h.services("mq-start")

    h.check_succeeded_once(t, ids, timeout=200)  # after the restart
    h.check_queues_empty(t, timeout=60, ignore=(h.pika.exceptions.AMQPError, OSError))

    t.check(w.poll() is None and h.worker_children(w) == kids,
            "the supervisor and the same children still run", f"{kids} -> {h.worker_children(w)}")
    h.check_eventually(t, lambda: h.http_get(port, "/readyz"), "GET /readyz: 200 after the restart",
                       ok=lambda r: r[0] == 200, timeout=60, ignore=(OSError,))
    # Both children consume again (one may still be in its reconnect backoff,
    # up to 30 s, after the other has done the remaining jobs).
    h.check_eventually(t, h.consumer_count, f"both children consume from {h.JOB_QUEUE} again",
                       ok=lambda n: n == PROCESSES, timeout=90)
    metrics = h.get_metrics(port)
    t.check(h.metric(metrics, "ocrq_jobs_total", outcome="succeeded") == N_JOBS,
            f'ocrq_jobs_total{{outcome="succeeded"}} == {N_JOBS}: none recorded twice',
            h.metric_series(metrics, "ocrq_jobs_total"))
    t.check((h.metric(metrics, "ocrq_reconnects_total", target="amqp") or 0) >= PROCESSES,
            f'ocrq_reconnects_total{{target="amqp"}} >= {PROCESSES}: each child reconnected',
            h.metric_series(metrics, "ocrq_reconnects_total"))
    t.check(not any(v for _, v in h.metric_series(metrics, "ocrq_child_restarts_total")),
            "no child was restarted", h.metric_series(metrics, "ocrq_child_restarts_total"))
    t.check(h.stop_worker(w) == 0, "the supervisor exits 0 on SIGTERM")


if __name__ == "__main__":
    h.run(main)
