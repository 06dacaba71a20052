# SPDX-License-Identifier: GPL-3.0-or-later
"""Two workers on one host and worker.metrics_listen (docs/fleet.md, "HTTP
endpoints"; issue 15: the second one used to run without its endpoints,
silently, because the first held the port).

* A first worker serves /healthz on a port picked here (never 9464).
* A second one with the same worker.metrics_listen exits 2 (a configuration
  error) with a message that names the address and the ways out
  (worker.metrics_listen, "" for none, OCRQ_METRICS_LISTEN), before it starts
  any OCR process. The first one still serves. The same address from
  OCRQ_METRICS_LISTEN: the same, and the message names the variable.
* The same config with OCRQ_METRICS_LISTEN set to another port: the second
  worker starts and serves /healthz and /metrics there.
* OCRQ_METRICS_LISTEN that is not host:port stops the worker with exit 2 and
  the variable's name.
"""

import harness as h


def healthy(port):
    try:
        return h.http_get(port, "/healthz")[0] == 200
    except OSError:
        return False


def main(t):
    port = h.free_port()
    addr = f"127.0.0.1:{port}"
    conf = h.fleet_config({"worker.processes": 1, "worker.metrics_listen": addr})
    w1 = h.start_worker(conf)
    h.wait_until(lambda: healthy(port), what=f"the first worker's /healthz on {addr}")

    r = h.run_cmd([h.WORKER, "-c", conf, "--name", "second"], timeout=60)
    err = r.stderr
    t.check(r.returncode == 2, "a second worker on the same address exits 2",
            f"exit {r.returncode}; stderr: {err[-1500:]}")
    for what in (addr, "worker.metrics_listen", '""', "OCRQ_METRICS_LISTEN",
                 "another ocrq-worker"):
        t.check(what in err, f"its message names {what}", err[-1500:])
    t.check("started child" not in err and "worker second" not in err,
            "it started no OCR process", err[-1500:])
    t.check(healthy(port), "the first worker still answers /healthz", addr)

    r = h.run_cmd([h.WORKER, "-c", h.fleet_config({"worker.processes": 1})],
                  environ=h.env(OCRQ_METRICS_LISTEN=addr), timeout=60)
    t.check(r.returncode == 2 and f"OCRQ_METRICS_LISTEN: cannot listen on {addr}" in r.stderr,
            "the same address from OCRQ_METRICS_LISTEN: exit 2, the message names the variable",
            f"exit {r.returncode}; stderr: {r.stderr[-1500:]}")

    port2 = h.free_port()
    w2 = h.start_worker(conf, name="second",
                        environ=h.env(OCRQ_METRICS_LISTEN=f"127.0.0.1:{port2}"))
    h.wait_until(lambda: healthy(port2),
                 what=f"the second worker's /healthz on OCRQ_METRICS_LISTEN 127.0.0.1:{port2}")
    status, ctype, body = h.http_get(port2, "/metrics")
    t.check(status == 200 and "ocrq_children" in body,
            "the second worker serves /metrics on OCRQ_METRICS_LISTEN's port",
            (status, body[:200]))
    t.check(f"/healthz /readyz /metrics on 127.0.0.1:{port2}" in h.log_text(w2),
            "its log names the address from the environment", h.log_tail(w2))
    t.check(w2.poll() is None and w1.poll() is None and healthy(port),
            "both workers run, each with its own endpoints", (w1.poll(), w2.poll()))
    h.stop_worker(w2)
    h.stop_worker(w1)

    r = h.run_cmd([h.WORKER, "-c", conf], environ=h.env(OCRQ_METRICS_LISTEN="localhost"),
                  timeout=60)
    t.check(r.returncode == 2 and "OCRQ_METRICS_LISTEN: worker.metrics_listen: must be host:port"
            in r.stderr, "OCRQ_METRICS_LISTEN=localhost (no port) is refused with exit 2",
            f"exit {r.returncode}; stderr: {r.stderr[-500:]}")


if __name__ == "__main__":
    h.run(main)
