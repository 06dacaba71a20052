# SPDX-License-Identifier: GPL-3.0-or-later
"""docs/protocol.md is enough to write a producer: this test publishes jobs with
pika alone, written from the protocol page (section 6) and not from ocrq's
code: no ocrq binary and no ocrq-side helper builds the messages. One normal
job to ocr.jobs (with the optional fields and a key from a later version),
one priority job to ocr.jobs.priority with a German text; the worker creates
their rows, recognizes the text and stores source and metadata."""

import datetime
import json
import uuid

import pika

import harness as h

CONTENT_TYPE = "application/vnd.ocrq.job"
PRIORITY_THRESHOLD = 7


def make_body(job_id, data, priority, language, source, extra=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    line = {
        "schema_version": 1,
        "job_id": job_id,
        "priority": priority,
        "language": language,
        "submitted_at": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "source": source,
        "metadata": {"submitted_by": "test_pika_protocol", "n": 1},
        "document": {"kind": "inline", "size": len(data), "content_type": "image/png"},
    }
    line.update(extra or {})
    text = json.dumps(line, separators=(",", ":"), allow_nan=False).encode("ascii")
    assert b"\n" not in text and len(text) < 65536
    return text + b"\n" + data


def publish(ch, data, priority, language, source, extra=None):
    job_id = str(uuid.uuid4())
    queue = "ocr.jobs.priority" if priority >= PRIORITY_THRESHOLD else "ocr.jobs"
    props = pika.BasicProperties(delivery_mode=2, content_type=CONTENT_TYPE,
                                 message_id=job_id, priority=priority)
    ch.queue_declare(queue=queue, passive=True)
    ch.basic_publish(exchange="", routing_key=queue,
                     body=make_body(job_id, data, priority, language, source, extra),
                     properties=props, mandatory=True)  # raises unless confirmed
    return job_id


def main(t):
    eng_text = "Submitted with pika alone"
    deu_text = "Grüße aus Köln"
    eng = h.make_image(eng_text, h.tmpdir() / "eng.png").read_bytes()
    deu = h.make_image(deu_text, h.tmpdir() / "deu.png").read_bytes()

    conn = pika.BlockingConnection(pika.URLParameters(h.AMQP_URL))
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        eng_id = publish(ch, eng, 0, "eng", "eng.png", {"x_from_a_later_version": {"a": 1}})
        deu_id = publish(ch, deu, 8, "deu", "deu.png")
    finally:
        conn.close()
    counts = h.queue_counts([h.JOB_QUEUE, h.PRIORITY_QUEUE])
    t.check(counts == {h.JOB_QUEUE: 1, h.PRIORITY_QUEUE: 1},
            "one job in ocr.jobs and one in ocr.jobs.priority", counts)

    w = h.start_worker()
    rows = {r["job_id"]: r for r in h.wait_finished([eng_id, deu_id])}
    results = {r["job_id"]: r for r in h.result_rows([eng_id, deu_id])}
    for job_id, text, lang, prio, source in ((eng_id, eng_text, "eng", 0, "eng.png"),
                                             (deu_id, deu_text, "deu", 8, "deu.png")):
        row = rows[job_id]
        t.check(row["status"] == "succeeded", f"{source}: the job succeeded",
                {k: row[k] for k in ("status", "error_code", "error_message")})
        t.check((row["language"], row["priority"], row["source"], row["attempts"]) == (lang, prio, source, 1),
                f"{source}: the worker recorded language, priority, source, attempts 1",
                (row["language"], row["priority"], row["source"], row["attempts"]))
        t.check(row["metadata"] == {"submitted_by": "test_pika_protocol", "n": 1},
                f"{source}: metadata stored", row["metadata"])
        got = results.get(job_id, {}).get("text", "")
        rate = h.cer(text, got)
        t.check(rate < 0.1, f"{source}: the text matches (CER {rate:.0%})", repr(got))
    t.check(h.stop_worker(w) == 0, "worker exits 0 on SIGTERM")
    counts = h.queue_counts()
    t.check(not any(counts.values()), "the queues are empty", counts)


if __name__ == "__main__":
    h.run(main)
