# SPDX-License-Identifier: GPL-3.0-or-later
"""Each API key signs its jobs' webhooks with a secret of its own (issue 14,
finding 5; docs/webhooks.md, "Secrets"), so that one tenant's receiver
cannot forge events another tenant's receiver would accept.

* `ocrq-admin apikey create` prints the key's webhook signing secret on the
  line before the last, and the key alone on the last line.
* A job of key A is signed with A's secret only: B's secret and the global
  secret (webhooks.secrets, for jobs without a key) verify nothing of it;
  the same for B; a job from ocrq-submit (no key) is signed with the global
  secret only.
* `ocrq-admin apikey rotate-secret A --overlap 1h`: A's next event carries
  two signatures, one under the new secret and one under the old.
* `rotate-secret A --overlap 0`: the next one verifies under the newest
  secret only.
* rotate-secret of an unknown name exits 1."""

import urllib.parse
import uuid

import harness as h


def rotate(name, overlap):
    r = h.admin(["apikey", "rotate-secret", name, "--overlap", overlap])
    if r.returncode != 0:
        raise h.TestFailure(f"rotate-secret {name}: {r.stderr}")
    return r.stdout.rstrip("\n").split("\n")[-1]


def main(t):
    glob = h.make_webhook_secret()
    name_a, name_b = (f"wh-{c}-{uuid.uuid4().hex[:6]}" for c in "ab")
    _, key_a, sec_a = h.api_key_with_secret(name_a)
    _, key_b, sec_b = h.api_key_with_secret(name_b)
    t.check(sec_a.startswith("whsec_") and sec_a != sec_b and key_a.startswith("ocrq_"),
            "apikey create: the secret on the line before, the key alone on the last line")
    img = h.make_image("Per key secret 6161", h.tmpdir() / "k.png").read_bytes()

    with h.Receiver() as rc:
        w = h.start_worker(h.webhook_config({"worker.processes": 1}, secrets=[glob]),
                           environ=h.webhook_env())
        api = h.start_api({"api.rate_limit_per_s": 0})
        hook = urllib.parse.quote(rc.url("/hook"), safe="")

        def post(key):
            st, _, o = h.api_post_image(api, key, img, f"webhook_url={hook}")
            t.require(st == 202, "the API accepts the job", (st, o))
            return o["job_id"]

        def event(job):
            rc.wait_for(lambda reqs: any(q.json()["data"]["job_id"] == job for q in reqs),
                        timeout=60, what=f"the event of {job}")
            return [q for q in rc.snapshot() if q.json()["data"]["job_id"] == job][0]

        def verifies(q, secret):
            return h.verify_webhook([secret], q.headers, q.body) is None

        job_a, job_b = post(key_a), post(key_b)
        cli = h.submit_json(["--webhook", rc.url("/hook"), str(h.tmpdir() / "k.png")])[0]["job_id"]
        qa, qb, qc = event(job_a), event(job_b), event(cli)
        t.check(verifies(qa, sec_a) and not verifies(qa, sec_b) and not verifies(qa, glob),
                "key A's job: signed with A's secret only")
        t.check(verifies(qb, sec_b) and not verifies(qb, sec_a) and not verifies(qb, glob),
                "key B's job: signed with B's secret only")
        t.check(verifies(qc, glob) and not verifies(qc, sec_a) and not verifies(qc, sec_b),
                "a job without a key (ocrq-submit): signed with the global secret only")

        new_a = rotate(name_a, "1h")
        q = event(post(key_a))
        sigs = q.headers.get("webhook-signature", "").split()
        t.check(new_a != sec_a and len(sigs) == 2 and verifies(q, new_a) and verifies(q, sec_a),
                "during the overlap: two signatures, the new secret's and the old one's", sigs)
        newest = rotate(name_a, "0")
        q = event(post(key_a))
        t.check(verifies(q, newest) and not verifies(q, new_a) and not verifies(q, sec_a),
                "overlap 0: the newest secret alone signs")
        r = h.admin(["apikey", "rotate-secret", "no-such-key-x"])
        t.check(r.returncode == 1, "rotate-secret of an unknown key exits 1", r.returncode)
        h.stop_api(api)
        h.stop_worker(w)


if __name__ == "__main__":
    h.run(main)
