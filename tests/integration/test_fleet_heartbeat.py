# SPDX-License-Identifier: GPL-3.0-or-later
"""A long job does not starve the AMQP connection (docs/fleet.md, design.md
"Threads in a worker"): with amqp.heartbeat_s = 1, one page that takes
Tesseract several heartbeat intervals succeeds with attempts == 1 and exactly
one result row; the OCR process kept its broker connection throughout (the
same connection, heartbeat 1 s, is listed by the broker before and after the
job), logged no reconnect, and /metrics says ocrq_reconnects_total{target=
"amqp"} 0 and no repeat delivery.

RabbitMQ closes a connection after two missed heartbeats, so a worker that
sent none while Tesseract ran would lose the connection (~2 s) and its
delivery. The test proves it exercised that: the job's own log line must say
it took more than 3 heartbeat intervals ("succeeded in N ms", N > 3000); the
page is four A4 pages of text stacked (a single A4 page takes ~1-2 s)."""

import re
from collections import Counter

import harness as h

HEARTBEAT_S = 1
MIN_OCR_MS = 3 * HEARTBEAT_S * 1000
RECONNECT_LINE = re.compile(r"reconnect|connection (lost|closed)|broker unavailable"
                            r"|missed heartbeat|heartbeat time", re.I)


def worker_connections():
    """peer ports of the broker's connections that negotiated our heartbeat."""
    return {c["peer_port"] for c in h.broker_connections()
            if c["timeout"] == str(HEARTBEAT_S) and c["state"] == "running"}


def main(t):
    page, text = h.make_long_page(h.tmpdir() / "long.png", pages=4)
    port = h.free_port()
    conf = h.fleet_config({"amqp.heartbeat_s": HEARTBEAT_S, "worker.processes": 1,
                           "worker.metrics_listen": f"127.0.0.1:{port}"})
    w = h.start_worker(conf)
    child = h.wait_children(w, 1)[0]
    before = h.wait_until(worker_connections, timeout=60, interval=0.5,
                          what=f"the OCR process's broker connection (heartbeat {HEARTBEAT_S} s)")
    print(f"broker connections with heartbeat {HEARTBEAT_S} s before the job: {sorted(before)}",
          flush=True)

    job_id = h.submit_json([page])[0]["job_id"]
    row = h.wait_finished([job_id], what="the long job to finish")[0]
    t.check(row["status"] == "succeeded", "the long job succeeded",
            {k: row[k] for k in ("status", "error_code", "error_message")})
    t.check(row["attempts"] == 1, "attempts == 1 (no redelivery)", row["attempts"])
    results = h.result_rows([job_id])
    t.check(len(results) == 1, "exactly one ocr_results row", len(results))
    if results:
        # Word overlap, not h.cer(): Levenshtein in Python on 4 pages takes tens of seconds.
        want, got = Counter(text.split()), Counter(results[0]["text"].split())
        share = sum((want & got).values()) / sum(want.values())
        t.check(share > 0.95, f"the text is right ({share:.1%} of the words)")

    log = h.log_text(w)
    m = re.search(rf"job={job_id} succeeded in (\d+) ms", log)
    t.require(m, "the worker logged 'succeeded in N ms' for the job", h.log_tail(w))
    ms = int(m.group(1))
    t.require(ms > MIN_OCR_MS,
              f"the job took more than {MIN_OCR_MS} ms, i.e. several heartbeat intervals"
              f" ({ms} ms)", "make the page bigger: this test would prove nothing")

    after = worker_connections()
    t.check(before <= after, "the broker connection of the OCR process is the same one after"
            " the job (no reconnect)", f"before {sorted(before)}, after {sorted(after)}")
    bad = [line for line in log.splitlines() if RECONNECT_LINE.search(line)]
    t.check(not bad, "no reconnect or lost connection in the log", "\n".join(bad))

    metrics = h.get_metrics(port)
    t.check(h.metric(metrics, "ocrq_reconnects_total", target="amqp") == 0,
            'ocrq_reconnects_total{target="amqp"} 0',
            h.metric_series(metrics, "ocrq_reconnects_total"))
    t.check(h.metric(metrics, "ocrq_jobs_total", outcome="succeeded") == 1,
            'ocrq_jobs_total{outcome="succeeded"} 1', h.metric_series(metrics, "ocrq_jobs_total"))
    t.check(not h.metric(metrics, "ocrq_jobs_total", outcome="repeat")
            and not h.metric(metrics, "ocrq_jobs_total", outcome="requeued"),  # 0 or absent
            "no repeat delivery and no requeue counted", h.metric_series(metrics, "ocrq_jobs_total"))
    t.check(w.poll() is None and h.worker_children(w) == [child],
            "the supervisor and the same OCR process still run", h.worker_children(w))
    t.check(h.stop_worker(w) == 0, "the worker exits 0 on SIGTERM")
    counts = h.queue_counts()
    t.check(not any(counts.values()), "the queues are empty", counts)


if __name__ == "__main__":
    h.run(main)
