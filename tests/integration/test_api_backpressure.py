# SPDX-License-Identifier: GPL-3.0-or-later
"""Backpressure of ocrq-api with a real broker: (1) over api.max_queue_depth
ready jobs, POST /v1/jobs answers 503 queue_full with Retry-After before
recording anything; (2) with a broker-enforced cap (a RabbitMQ policy
max-length + overflow reject-publish) the broker nacks publishes to the
full queue: those requests get 503, their rows are removed, and every job
answered 202 is in the queue and later succeeds through a worker: none is
lost, none is doubled."""

import threading

import harness as h

POLICY = "ocrq-test-cap"



def ready_seen(api):
    m = h.parse_metrics(h.api_request(api, "GET", "/metrics")[2].decode())
    return h.metric(m, "ocrq_api_queue_ready", queue=h.JOB_QUEUE)


def post_many(api, key, img, n, batch):
    """n POSTs at once; returns [(status, headers, obj)]."""
    out = [None] * n

    def one(i):
        out[i] = h.api_post_image(api, key, img, f"batch={batch}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    return out


def main(t):
    img = h.make_image("Backpressure", h.tmpdir() / "bp.png").read_bytes()
    _, key = h.api_key()

    # 1. ocrq-api's own check against the sampled queue depth
    api = h.start_api({"api.max_queue_depth": 5, "api.rate_limit_per_s": 0})
    res = []
    for _ in range(12):
        res.append(h.api_post_image(api, key, img, "batch=depth"))
        n = sum(1 for st, _, _ in res if st == 202)
        # the depth is sampled every 250 ms or so: wait until the API has seen each job
        h.wait_until(lambda: ready_seen(api) == n, timeout=30, what=f"ocrq-api sees {n} ready")
    accepted = [o["job_id"] for st, _, o in res if st == 202]
    refused = [(st, hd, o) for st, hd, o in res if st != 202]
    t.check(len(accepted) == 5, "exactly 5 jobs accepted up to a depth of 5",
            [st for st, _, _ in res])
    t.check(refused and all(st == 503 and o.get("error", {}).get("code") == "queue_full"
                            and hd.get("retry-after", "").isdigit() for st, hd, o in refused),
            "the rest: 503 queue_full with Retry-After", refused[:2])
    rows = h.db_query("SELECT job_id::text AS id FROM ocr_jobs WHERE batch = 'depth'")
    t.check(sorted(r["id"] for r in rows) == sorted(accepted),
            "only the accepted jobs are recorded", (len(rows), len(accepted)))
    t.check(sorted(h.queue_message_ids(h.JOB_QUEUE)) == sorted(accepted),
            "the queue holds exactly the accepted jobs")
    h.stop_api(api)
    h.purge_queues()

    # 2. the broker enforces a cap: publishes to the full queue are nacked
    vhost = h.amqp_vhost()
    r = h.rabbitmqctl("set_policy", "-p", vhost, POLICY, r"^ocr\.jobs$",
                      '{"max-length": 4, "overflow": "reject-publish"}', "--apply-to", "queues")
    t.require(r.returncode == 0, "set a max-length reject-publish policy", r.stderr)
    try:
        h.wait_until(lambda: POLICY in h.rabbitmqctl("list_queues", "-p", vhost, "name",
                                                      "policy").stdout,
                     timeout=30, what="the policy applies to ocr.jobs")
        api = h.start_api({"api.max_queue_depth": 0, "api.rate_limit_per_s": 0})
        res = post_many(api, key, img, 10, "cap")
        t.require(all(x is not None for x in res), "every concurrent POST was answered")
        accepted = [o["job_id"] for st, _, o in res if st == 202]
        refused = [(st, o) for st, _, o in res if st != 202]
        t.check(len(accepted) == 4, "4 of 10 accepted under a cap of 4",
                [st for st, _, _ in res])
        t.check(len(refused) == 6 and all(st == 503 and o["error"]["code"] == "queue_full"
                                          for st, o in refused),
                "the 6 nacked publishes are 503 queue_full", refused[:2])
        in_queue = h.queue_message_ids(h.JOB_QUEUE)
        t.check(sorted(in_queue) == sorted(accepted), "the queue holds the 4 accepted jobs",
                (in_queue, accepted))
        rows = h.db_query("SELECT job_id::text AS id, status FROM ocr_jobs WHERE batch = 'cap'")
        t.check(sorted(r["id"] for r in rows) == sorted(accepted),
                "the refused jobs' rows were removed; the accepted stay", rows)
        m = h.parse_metrics(h.api_request(api, "GET", "/metrics")[2].decode())
        t.check(h.metric(m, "ocrq_api_publish_nacked_total") == 6, "/metrics counts 6 nacks",
                h.metric(m, "ocrq_api_publish_nacked_total"))
        h.stop_api(api)
    finally:
        h.rabbitmqctl("clear_policy", "-p", vhost, POLICY)

    w = h.start_worker(h.fleet_config())
    h.wait_finished(accepted)
    t.check(h.count_by_status(accepted)["succeeded"] == 4, "all 4 accepted jobs succeed",
            h.count_by_status(accepted))
    t.check(len(h.result_rows(accepted)) == 4, "one result each")
    h.stop_worker(w)


if __name__ == "__main__":
    h.run(main)
