# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared helpers for the integration tests (tests/integration/test_*.py).

Each test is a plain script run by Debian's /usr/bin/python3 against the real
RabbitMQ and PostgreSQL that scripts/services starts:

    import harness as h

    def main(t):
        w = h.start_worker()
        r = h.submit(["--wait", "--json", str(img)])
        t.check(r.returncode == 0, "submit exits 0", r.stderr)

    if __name__ == "__main__":
        h.run(main)

h.run() resets the broker and database state (ocrq-admin setup, purge every
ocr.* queue, truncate the tables), calls main(t), stops every worker the test
started, prints one line per check and "N passed, M failed", and exits 1 if
anything failed. A helper that cannot do its job raises TestFailure.

Environment: OCRQ_AMQP_URL and OCRQ_DATABASE_URL (as for the binaries),
OCRQ_BIN_DIR (the build directory: binaries in $OCRQ_BIN_DIR/bin) and
OCRQ_SOURCE_DIR (the source tree). Waits have generous time-outs that only
turn a hang into a failure; no test asserts how fast anything is.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import traceback
import urllib.parse
import uuid
from collections import Counter
from pathlib import Path

import pika
import psycopg2

SOURCE_DIR = Path(os.environ.get("OCRQ_SOURCE_DIR") or Path(__file__).resolve().parents[2])
BUILD_DIR = Path(os.environ.get("OCRQ_BIN_DIR") or SOURCE_DIR / "build")
BIN_DIR = BUILD_DIR / "bin"
SUBMIT = BIN_DIR / "ocrq-submit"
WORKER = BIN_DIR / "ocrq-worker"
ADMIN = BIN_DIR / "ocrq-admin"
API = BIN_DIR / "ocrq-api"
SAMPLES_DIR = SOURCE_DIR / "tests" / "fixtures" / "samples"

AMQP_PORT = int(os.environ.get("OCRQ_AMQP_PORT", "5682"))
PG_PORT = int(os.environ.get("OCRQ_PG_PORT", "5442"))
AMQP_URL = os.environ.get("OCRQ_AMQP_URL", f"amqp://guest:guest@127.0.0.1:{AMQP_PORT}/")
DATABASE_URL = os.environ.get("OCRQ_DATABASE_URL", f"postgresql://ocrq@127.0.0.1:{PG_PORT}/ocrq")

# The default topology (docs/design.md); every queue the system declares.
JOB_QUEUE = "ocr.jobs"
PRIORITY_QUEUE = "ocr.jobs.priority"
FAILED_QUEUE = "ocr.failed"
RETRY_DELAYS_S = (5, 30, 120)
JOB_QUEUES = (JOB_QUEUE, PRIORITY_QUEUE)
ALL_QUEUES = JOB_QUEUES + (FAILED_QUEUE,) + tuple(
    f"{q}.retry.{d}s" for q in JOB_QUEUES for d in RETRY_DELAYS_S)

CONTENT_TYPE = "application/vnd.ocrq.job"
CONVERT = "/usr/bin/convert" if os.path.exists("/usr/bin/convert") else "convert"
FONT = "DejaVu-Sans"

# Time-outs: only there to turn a hang into a failure.
CMD_TIMEOUT_S = 300
WAIT_TIMEOUT_S = 180
STOP_TIMEOUT_S = 60


class TestFailure(Exception):
    """A helper could not do what the test needs; the test fails with this message."""


# --------------------------------------------------------------------------
# State of the running test: its temp directory, its workers, its checks.

class Test:
    def __init__(self, name):
        self.name = name
        self.tmp = Path(tempfile.mkdtemp(prefix=f"ocrq-{name}-"))
        self.results = []  # (ok, what, detail)

    def check(self, ok, what, detail=""):
        """Record one check; returns ok so a test can stop early if it must."""
        ok = bool(ok)
        self.results.append((ok, what, "" if ok else str(detail)))
        print(f"{'PASS' if ok else 'FAIL'}: {what}" + ("" if ok or not detail else f"\n      {detail}"),
              flush=True)
        return ok

    def require(self, ok, what, detail=""):
        """A check the rest of the test depends on: raise TestFailure when it fails."""
        if not self.check(ok, what, detail):
            raise TestFailure(f"cannot go on: {what}")

    @property
    def failed(self):
        return sum(1 for ok, _, _ in self.results if not ok)


_current = None   # the Test being run
_workers = []     # Popen objects started by start_worker(), not yet stopped
_apis = []        # ... and by start_api()


def current():
    if _current is None:
        raise RuntimeError("harness.run(main) is not running")
    return _current


def tmpdir():
    """The temp directory of the running test (kept when the test fails)."""
    return current().tmp


def run(main):
    """Run main(t) as one test script: reset, run, stop workers, report, exit."""
    global _current
    name = Path(sys.argv[0]).stem
    t = _current = Test(name)
    print(f"== {name}  (amqp {redact(AMQP_URL)}, db {redact(DATABASE_URL)}, tmp {t.tmp})", flush=True)
    crashed = None
    try:
        for binary in (SUBMIT, WORKER, ADMIN):
            if not os.access(binary, os.X_OK):
                raise TestFailure(f"{binary} is not built (OCRQ_BIN_DIR={BUILD_DIR})")
        reset()
        main(t)
    except TestFailure as e:
        crashed = str(e)
    except Exception:  # a bug in the test or an unexpected error: report it as a failure
        crashed = traceback.format_exc()
    finally:
        for p in list(_workers):
            stop_worker(p)
        for p in list(_apis):
            stop_api(p)
    for log, line in sanitizer_reports():
        t.results.append((False, f"no sanitizer report in {log.name}", line))
        print(f"FAIL: no sanitizer report in {log}: {line}", flush=True)
    if crashed:
        t.results.append((False, "test ran to the end", crashed))
        print(f"FAIL: test ran to the end\n{crashed}", flush=True)
    if t.failed:
        dump_worker_logs()
    passed = len(t.results) - t.failed
    print(f"{name}: {passed} passed, {t.failed} failed", flush=True)
    if not t.results:
        print(f"{name}: no checks ran", flush=True)
        sys.exit(1)
    if t.failed:
        print(f"{name}: FAILED; files kept in {t.tmp}", flush=True)
        sys.exit(1)
    shutil.rmtree(t.tmp, ignore_errors=True)
    sys.exit(0)


def redact(url):
    u = urllib.parse.urlsplit(url)
    if u.password:
        netloc = u.netloc.replace(":" + u.password + "@", ":***@")
        return urllib.parse.urlunsplit(u._replace(netloc=netloc))
    return url


# --------------------------------------------------------------------------
# Commands

# Overrides a test sets itself when it wants them: inherited, they would replace what
# its config files say.
_NOT_INHERITED = ("OCRQ_METRICS_LISTEN", "OCRQ_FILE_ROOTS")


def env(**extra):
    """The environment for an ocrq binary: ours (without OCRQ_METRICS_LISTEN and
    OCRQ_FILE_ROOTS), plus extra (None removes a variable)."""
    e = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    e["OCRQ_AMQP_URL"] = AMQP_URL
    e["OCRQ_DATABASE_URL"] = DATABASE_URL
    for k, v in extra.items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = str(v)
    return e


def run_cmd(argv, timeout=CMD_TIMEOUT_S, environ=None, stdin=subprocess.DEVNULL):
    """Run argv to completion; returns CompletedProcess with text stdout and stderr."""
    argv = [str(a) for a in argv]
    try:
        return subprocess.run(argv, stdin=stdin, capture_output=True, text=True,
                              timeout=timeout, env=environ or env())
    except subprocess.TimeoutExpired as e:
        raise TestFailure(f"{' '.join(argv)} did not finish within {timeout} s;"
                          f" stderr: {e.stderr!r}") from None


def submit(args, timeout=CMD_TIMEOUT_S, environ=None):
    """Run ocrq-submit with args; returns the CompletedProcess (never raises on exit status)."""
    return run_cmd([SUBMIT, *args], timeout=timeout, environ=environ)


def admin(args, timeout=CMD_TIMEOUT_S, environ=None):
    """Run ocrq-admin with args; returns the CompletedProcess."""
    return run_cmd([ADMIN, *args], timeout=timeout, environ=environ)


class StalledSubmit:
    """ocrq-submit --json whose stdout is a one-page pipe nobody reads at first:
    it writes a line per confirm, so it stops in the middle of its run, with
    publishes in flight and inputs left. start() waits for that (TestFailure if
    it exits first); resume() starts reading, finish() waits for the exit and
    returns a CompletedProcess (stderr read from err_path)."""

    def __init__(self, args, environ, err_path):
        self.err_path = Path(err_path)
        with open(self.err_path, "wb") as err:
            self.p = subprocess.Popen([str(SUBMIT), *map(str, args)], stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=err, env=environ,
                                      pipesize=4096)
        self.out = []
        self.reader = threading.Thread(target=lambda: self.out.append(self.p.stdout.read()))

    def start(self):
        wait_until(lambda: self.pipe_full() or self.p.poll() is not None, timeout=120,
                   what="ocrq-submit to fill its stdout pipe", interval=0.01)
        if self.p.poll() is not None:
            raise TestFailure(f"ocrq-submit exited {self.p.returncode} before it filled its"
                              f" stdout: {self.err_path.read_text(errors='replace')[-400:]}")
        return self

    def pipe_full(self):
        """Whether ocrq-submit's stdout pipe holds a full pipe's worth, unread."""
        import fcntl
        import termios
        fd = self.p.stdout.fileno()
        size = fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)
        waiting = int.from_bytes(fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"), "little")
        return waiting >= size

    def stalled(self):
        """Whether ocrq-submit is stopped in the middle of its run, as start() leaves
        it: still running, its stdout pipe full and not read yet."""
        return self.p.poll() is None and self.reader.ident is None and self.pipe_full()

    def resume(self):
        if self.reader.ident is None:
            self.reader.start()

    def finish(self, timeout=CMD_TIMEOUT_S):
        self.resume()
        try:
            self.p.wait(timeout=timeout)
        finally:
            if self.p.poll() is None:
                self.p.kill()
                self.p.wait()
        self.reader.join()
        return subprocess.CompletedProcess(self.p.args, self.p.returncode,
                                           (self.out[0] if self.out else b"").decode(),
                                           self.err_path.read_text(errors="replace"))


def json_lines(text):
    """Parse one JSON object per non-empty line; raises TestFailure naming the bad line."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            raise TestFailure(f"line {n} of the JSON output is not JSON ({e}): {line!r}") from None
        if not isinstance(obj, dict):
            raise TestFailure(f"line {n} of the JSON output is not an object: {line!r}")
        out.append(obj)
    return out


def submit_json(args, timeout=CMD_TIMEOUT_S, expect_rc=0):
    """ocrq-submit --json args; checks the exit status and returns the parsed lines."""
    r = submit(["--json", "-q", *args], timeout=timeout)
    if r.returncode != expect_rc:
        raise TestFailure(f"ocrq-submit {' '.join(map(str, args))} exited {r.returncode},"
                          f" expected {expect_rc}; stderr: {r.stderr.strip()}")
    return json_lines(r.stdout)


def is_uuid(s):
    try:
        uuid.UUID(str(s))
        return len(str(s)) == 36
    except ValueError:
        return False


# --------------------------------------------------------------------------
# Workers

def _sets(config_text, key):
    """Whether a libconfig text sets key (in any group)."""
    return re.search(r"\b" + re.escape(key) + r"\s*[=:]", config_text) is not None


def start_worker(config=None, extra_args=(), name=None, environ=None, processes=1):
    """Start ocrq-worker in the background, stderr to a log in the test's temp dir.

    Two defaults differ from the worker's own, so that tests behave the same on
    any machine and beside each other:
    * processes: OCR processes (--processes) when neither the config
      (worker.processes) nor extra_args says; the tests were written for one.
      None: the worker's own default, one per CPU it may run on.
    * HTTP: when neither the config (worker.metrics_listen) nor environ
      (OCRQ_METRICS_LISTEN) says, OCRQ_METRICS_LISTEN is a free port
      (p.metrics_port), never the default 127.0.0.1:9464, which another worker
      on this host may hold (the worker would then refuse to start).

    Returns the Popen; p.log_path is its log. Stop it with stop_worker(p)
    (run() stops any that are left). While it is registered, wait_until()
    fails at once if it exits.
    """
    n = len(list(tmpdir().glob("worker-*.log"))) + 1
    name = name or f"{current().name}-{n}"
    log_path = tmpdir() / f"worker-{n}.log"
    text = Path(config).read_text(errors="replace") if config else ""
    extra_args = [str(a) for a in extra_args]
    argv = [str(WORKER), "--name", name, "--log-level", "debug"]
    if config:
        argv += ["-c", str(config)]
    if processes is not None and not _sets(text, "processes") and not any(
            a in ("-p", "--processes") or a.startswith("--processes=") for a in extra_args):
        argv += ["--processes", str(processes)]
    argv += extra_args
    environ = dict(environ or env())
    metrics_port = None
    if not _sets(text, "metrics_listen") and not environ.get("OCRQ_METRICS_LISTEN"):
        metrics_port = free_port()
        environ["OCRQ_METRICS_LISTEN"] = f"127.0.0.1:{metrics_port}"
    log = open(log_path, "wb")
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                         env=environ)
    log.close()
    p.log_path = log_path
    p.worker_name = name
    p.metrics_port = metrics_port
    _workers.append(p)
    return p


def worker_pids(p):
    """p's pid and those of its OCR processes (the supervisor's direct children)."""
    pids = [p.pid]
    try:
        kids = Path(f"/proc/{p.pid}/task/{p.pid}/children").read_text().split()
        pids += [int(k) for k in kids]
    except OSError:
        pass
    return pids


def pause_worker(p):
    """SIGSTOP the supervisor p and its OCR processes: no job starts or finishes."""
    for pid in worker_pids(p):
        os.kill(pid, signal.SIGSTOP)


def resume_worker(p):
    """SIGCONT what pause_worker(p) stopped."""
    for pid in worker_pids(p):
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def forget_worker(p):
    """Stop watching p (e.g. before killing it on purpose)."""
    if p in _workers:
        _workers.remove(p)


def stop_worker(p, timeout=STOP_TIMEOUT_S):
    """SIGTERM p, wait for it, SIGKILL it if it hangs. Returns its exit status
    (negative: killed by that signal); p.hung is True if it had to be killed."""
    forget_worker(p)
    p.hung = False
    kids = worker_pids(p)[1:] if p.poll() is None else []
    if p.poll() is None:
        try:
            resume_worker(p)  # a worker a test paused must see the SIGTERM
            os.kill(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.hung = True
            print(f"worker {p.pid} did not exit {timeout} s after SIGTERM: SIGKILL", flush=True)
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
    _kill_leftovers(kids)
    return p.returncode


def _kill_leftovers(pids, grace=10):
    """SIGKILL those of pids (OCR processes of a supervisor that has exited) that
    are still ocrq-worker processes after grace seconds: nothing a test started
    may outlive it."""
    deadline = time.monotonic() + grace
    def ours(k):
        argv = proc_cmdline(k)
        return proc_alive(k) and bool(argv) and Path(argv[0]).name == WORKER.name

    left = list(pids)
    while left and time.monotonic() < deadline:
        left = [k for k in left if ours(k)]
        if left:
            time.sleep(0.1)
    for k in left:
        if ours(k):
            print(f"OCR process {k} outlived its supervisor: SIGKILL", flush=True)
            try:
                os.kill(k, signal.SIGKILL)
            except ProcessLookupError:
                pass


def kill_worker(p, sig=signal.SIGKILL):
    """Send sig to p on purpose (it is no longer watched) and reap it."""
    forget_worker(p)
    os.kill(p.pid, sig)
    p.wait(STOP_TIMEOUT_S)


def log_tail(p, lines=40):
    try:
        return "\n".join(Path(p.log_path).read_text(errors="replace").splitlines()[-lines:])
    except OSError as e:
        return f"(no log: {e})"


def dump_worker_logs(lines=40):
    if _current is None:
        return
    for log in sorted(_current.tmp.glob("worker-*.log")):
        text = log.read_text(errors="replace").splitlines()[-lines:]
        print(f"--- last {len(text)} lines of {log}", flush=True)
        for line in text:
            print("    " + line)
    sys.stdout.flush()


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def sanitizer_reports():
    """(log, first line) for each worker log of this test in which AddressSanitizer or
    UBSan reported something: a child that died of it is restarted by its supervisor, so
    the test itself might not notice."""
    found = []
    if _current is None:
        return found
    for log in sorted(_current.tmp.glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if any(m in line for m in SANITIZER_MARKS):
                found.append((log, line.strip()))
                break
    return found


def check_workers():
    for p in _workers:
        if p.poll() is not None:
            forget_worker(p)
            raise TestFailure(f"worker {p.pid} ({p.worker_name}) exited with status {p.returncode};"
                              f" last lines of {p.log_path}:\n{log_tail(p)}")


def wait_until(predicate, timeout=WAIT_TIMEOUT_S, what="condition", interval=0.1, ignore=()):
    """Call predicate() until it returns something true, and return that.

    Raises TestFailure after timeout seconds (a hang, not slowness: time-outs
    are generous), or at once if a worker started by start_worker() exits.
    Exceptions of the types in ignore count as "not yet".
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = predicate()
            if last:
                return last
        except ignore as e:
            last = e
        check_workers()
        if time.monotonic() >= deadline:
            raise TestFailure(f"timed out after {timeout} s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def check_eventually(t, read, what, ok=bool, timeout=WAIT_TIMEOUT_S, interval=0.1, ignore=(),
                     require=False):
    """One check of a condition that must come true in time: call read() until
    ok(value) holds or timeout seconds pass, then t.check(ok(value), what, value)
    on the last value read, so that a condition that never comes is this check's
    FAIL line, with what was seen (t.require instead with require=True, for a
    condition the rest of the test depends on). Returns the last value read.
    Exceptions of the types in ignore count as "not yet" (the last one is the
    detail); as in wait_until, a worker started by start_worker() that exits
    raises TestFailure at once."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = read()
            good = bool(ok(value))
        except ignore as e:
            value, good = e, False
        if good:
            break
        check_workers()
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    (t.require if require else t.check)(good, what, value)
    return value


# --------------------------------------------------------------------------
# Configuration files

def _conf_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v) + ("L" if not -2**31 <= v < 2**31 else "")
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_conf_value(x) for x in v) + "]"
    return json.dumps(str(v))  # a libconfig string: same escapes for what tests use


def write_config(overrides=None, path=None, **kw):
    """Write a libconfig file from {"group.key": value} (and key=value for top-level
    keys); e.g. {"ocr.max_pixels": 1000000} -> ocr = { max_pixels = 1000000; };
    Lists become arrays. Returns the path (in the test's temp dir by default)."""
    settings = dict(overrides or {})
    settings.update(kw)
    groups = {}
    for key, value in settings.items():
        *group, leaf = key.split(".")
        node = groups
        for g in group:
            node = node.setdefault(g, {})
        node[leaf] = value

    def emit(node, indent):
        lines = []
        for k, v in node.items():
            if isinstance(v, dict):
                lines.append(f"{indent}{k} = {{")
                lines += emit(v, indent + "    ")
                lines.append(f"{indent}}};")
            else:
                lines.append(f"{indent}{k} = {_conf_value(v)};")
        return lines

    if path is None:
        path = tempfile.mktemp(suffix=".conf", prefix="ocrq-", dir=tmpdir())
    Path(path).write_text("# written by tests/integration/harness.py\n"
                          + "\n".join(emit(groups, "")) + "\n")
    return Path(path)


# --------------------------------------------------------------------------
# Images (ImageMagick, DejaVu Sans, black on white, grayscale PNG)

def _convert(args, path):
    r = run_cmd([CONVERT, *args, "-colorspace", "Gray", "-depth", "8", "-strip", str(path)],
                timeout=120)
    if r.returncode != 0 or not Path(path).is_file():
        raise TestFailure(f"convert failed for {path}: {r.stderr.strip()}")
    return Path(path)


def make_image(text, path, pointsize=40, width=None, height=None, border=40):
    """Render text (newlines make lines) as a PNG. width/height pad the image
    (top left aligned) to that size. Avoid '%' and a leading '@' (ImageMagick
    escapes) and texts over ~300 characters (label: refuses them). Returns the path."""
    args = ["-background", "white", "-fill", "black", "-font", FONT,
            "-pointsize", str(pointsize), "label:" + text,
            "-bordercolor", "white", "-border", str(border)]
    if width or height:
        args += ["-gravity", "northwest", "-background", "white",
                 "-extent", f"{width or ''}x{height or ''}"]
    return _convert(args, path)


A4_WIDTH, A4_HEIGHT = 2480, 3508  # 300 dpi

A4_TEXT = [
    "The warehouse in Leeds received forty crates of printer paper on Monday morning. "
    "Each crate was checked against the delivery note, and two of them were returned "
    "because the seals were broken and the paper inside had been damaged by water.",
    "Our accounts department will send the corrected invoice before the end of the week. "
    "Please make sure that the order number appears on every page of your reply, since "
    "the scanning system sorts incoming letters by that number alone.",
    "The new opening hours apply from the first of June. The reception desk will be "
    "staffed from eight in the morning until six in the evening, and visitors are asked "
    "to sign the book at the entrance and to wear their badge at all times.",
    "Minutes of the meeting held on Thursday: the committee agreed to replace the old "
    "heating system in the east wing, to repaint the corridors on the ground floor, and "
    "to ask three local companies for quotes before the next meeting in September.",
    "Travel expenses are paid back within thirty days when the original receipts are "
    "attached to the form. Taxi fares need a short note that explains why public "
    "transport could not be used, and hotel bills must show the nightly rate.",
    "The library will close for two weeks in August while the shelves are moved to the "
    "second floor. Books that are due during this time may be returned to the post box "
    "next to the main door, and no late fees will be charged for them.",
]


def copies(img, n, stem="job"):
    """n copies of the file img in the test's temp dir (stem-0.png, ...): n inputs, n jobs."""
    data = Path(img).read_bytes()
    out = []
    for i in range(n):
        p = tmpdir() / f"{stem}-{i:03d}{Path(img).suffix}"
        p.write_bytes(data)
        out.append(p)
    return out


def make_a4_page(path, paragraphs=None, pointsize=46):
    """A full A4 page at 300 dpi (2480x3508) of several paragraphs of known
    English text (11 pt, wrapped here at 72 characters); it takes Tesseract
    about 1.5 s. Drawn with -annotate: label: refuses texts this long.
    Returns (path, text)."""
    paragraphs = list(paragraphs or A4_TEXT * 2)
    lines = []
    for para in paragraphs:
        lines += textwrap.wrap(para, width=72) + [""]
    text = "\n".join(lines).strip()
    args = ["-size", f"{A4_WIDTH}x{A4_HEIGHT}", "xc:white", "-font", FONT,
            "-pointsize", str(pointsize), "-fill", "black", "-interline-spacing", "2",
            "-annotate", "+160+200", text]
    return _convert(args, path), text


def sample_files():
    """The bundled samples: [(png path, language, expected text)]; the language is
    the second-to-last part of the name (letter.deu.png)."""
    out = []
    for png in sorted(SAMPLES_DIR.glob("*.png")):
        stem = png.name[:-len(".png")]
        lang = stem.rsplit(".", 1)[-1]
        out.append((png, lang, (SAMPLES_DIR / f"{stem}.expected.txt").read_text()))
    if not out:
        raise TestFailure(f"no samples in {SAMPLES_DIR}")
    return out


# --------------------------------------------------------------------------
# Text comparison

def normalize(text):
    return " ".join(text.split())


def levenshtein(a, b):
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def cer(expected, actual):
    """Character error rate of actual against expected, whitespace-normalized."""
    e, a = normalize(expected), normalize(actual)
    if not e:
        return 0.0 if not a else 1.0
    return levenshtein(e, a) / len(e)


# --------------------------------------------------------------------------
# Database (a short-lived connection per call: the server may be restarted)

def db_query(sql, params=None):
    """Run one statement; returns a list of dicts (empty for statements without rows)."""
    conn = psycopg2.connect(DATABASE_URL, connect_timeout=10)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql, params)
            if cur.description is None:
                return []
            cols = [c.name for c in cur.description]
            return [dict(zip(cols, row)) for row in cur.fetchall()]
    finally:
        conn.close()


def job_rows(ids=None):
    """ocr_jobs rows (all, or those of ids), as dicts with job_id as text."""
    sql = "SELECT *, job_id::text AS job_id FROM ocr_jobs"
    if ids is not None:
        return db_query(sql + " WHERE job_id = ANY(%s::uuid[]) ORDER BY submitted_at", (list(ids),))
    return db_query(sql + " ORDER BY submitted_at")


def job_row(job_id):
    rows = job_rows([job_id])
    return rows[0] if rows else None


def result_rows(ids=None):
    sql = "SELECT *, job_id::text AS job_id FROM ocr_results"
    if ids is not None:
        return db_query(sql + " WHERE job_id = ANY(%s::uuid[])", (list(ids),))
    return db_query(sql)


def count_by_status(ids=None):
    """{"queued": n, "running": n, "succeeded": n, "failed": n, "canceled": n}
    (all, or of ids)."""
    counts = dict.fromkeys(("queued", "running", "succeeded", "failed", "canceled"), 0)
    if ids is None:
        rows = db_query("SELECT status, count(*) AS n FROM ocr_jobs GROUP BY status")
    else:
        rows = db_query("SELECT status, count(*) AS n FROM ocr_jobs"
                        " WHERE job_id = ANY(%s::uuid[]) GROUP BY status", (list(ids),))
    for r in rows:
        counts[r["status"]] = r["n"]
    return counts


def check_succeeded_once(t, ids, timeout=WAIT_TIMEOUT_S):
    """Wait for the jobs ids to finish, then check that all succeeded with
    exactly one ocr_results row each (nothing lost, nothing done twice)."""
    n = len(ids)
    rows = wait_finished(ids, what=f"all {n} jobs to finish", timeout=timeout)
    bad = Counter((r["status"], r["error_code"]) for r in rows if r["status"] != "succeeded")
    t.check(len(rows) == n and not bad, f"all {n} jobs succeeded", dict(bad))
    results = result_rows(ids)
    per_job = Counter(r["job_id"] for r in results)
    t.check(len(results) == n and set(per_job) == set(ids),
            f"exactly one ocr_results row per job ({len(results)} rows, {len(per_job)} jobs)",
            [j for j, k in per_job.items() if k != 1][:10])


def wait_finished(ids, timeout=WAIT_TIMEOUT_S, what=None):
    """Wait until every job of ids is final (succeeded, failed or canceled);
    returns their rows."""
    ids = list(ids)

    def done():
        c = count_by_status(ids)
        return c["succeeded"] + c["failed"] + c["canceled"] == len(ids)
    wait_until(done, timeout, what or f"{len(ids)} jobs to finish")
    return job_rows(ids)


# --------------------------------------------------------------------------
# Broker (pika)

def amqp_connection():
    params = pika.URLParameters(AMQP_URL)
    params.connection_attempts = 3
    params.retry_delay = 1
    params.blocked_connection_timeout = 30
    return pika.BlockingConnection(params)


def queue_counts(names=ALL_QUEUES):
    """{queue: ready messages} for each queue that exists (passive declare)."""
    out = {}
    conn = amqp_connection()
    try:
        ch = conn.channel()
        for q in names:
            try:
                out[q] = ch.queue_declare(q, passive=True).method.message_count
            except pika.exceptions.ChannelClosedByBroker:
                ch = conn.channel()  # 404: the queue does not exist
    finally:
        conn.close()
    return out


def check_queues_empty(t, timeout=60, ignore=()):
    """Check that every ocr.* queue is empty within timeout seconds (messages
    acked a moment after the rows are written); the detail is the counts."""
    return check_eventually(t, queue_counts, "the queues are empty",
                            ok=lambda counts: not any(counts.values()), timeout=timeout,
                            ignore=ignore)


def queue_message_ids(queue):
    """message_id of every message in queue, read without taking them (unacked,
    they go back when the connection closes)."""
    conn = amqp_connection()
    ch = conn.channel()
    ids = []
    try:
        while True:
            m, props, _ = ch.basic_get(queue, auto_ack=False)
            if m is None:
                break
            ids.append(props.message_id)
    finally:
        conn.close()
    return ids


def purge_queues(names=ALL_QUEUES):
    conn = amqp_connection()
    try:
        ch = conn.channel()
        for q in names:
            try:
                ch.queue_purge(q)
            except pika.exceptions.ChannelClosedByBroker:
                ch = conn.channel()
    finally:
        conn.close()


def publish_raw(body, props=None, routing_key=JOB_QUEUE, exchange=""):
    """Publish one message with publisher confirms (mandatory); raises TestFailure
    if the broker nacks or returns it. props: pika.BasicProperties or a dict."""
    if isinstance(props, dict):
        props = pika.BasicProperties(**props)
    conn = amqp_connection()
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        try:
            ch.basic_publish(exchange, routing_key, body, props, mandatory=True)
        except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as e:
            raise TestFailure(f"publish to {routing_key!r} was not confirmed: {e!r}") from None
    finally:
        conn.close()


def peek_messages(queue=JOB_QUEUE):
    """{message_id: body} of every message in queue, read without taking them
    (unacked, so they go back when the connection closes)."""
    conn = amqp_connection()
    out = {}
    try:
        ch = conn.channel()
        while True:
            m, props, body = ch.basic_get(queue, auto_ack=False)
            if m is None:
                break
            out[props.message_id] = body
    finally:
        conn.close()
    return out


def get_failed_messages(queue=FAILED_QUEUE):
    """Take (and ack) every message now in ocr.failed. Returns a list of dicts:
    message_id, content_type, headers (dict, str values), properties, body."""
    out = []
    conn = amqp_connection()
    try:
        ch = conn.channel()
        while True:
            method, props, body = ch.basic_get(queue, auto_ack=False)
            if method is None:
                break
            headers = {k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else v)
                       for k, v in (props.headers or {}).items()}
            out.append({"message_id": props.message_id, "content_type": props.content_type,
                        "headers": headers, "properties": props, "body": body})
            ch.basic_ack(method.delivery_tag)
    finally:
        conn.close()
    return out


def inline_job(document, job_id=None, priority=0, language="eng", source=None, **fields):
    """A job message per docs/protocol.md: (body, properties) for publish_raw().
    Body: one compact JSON line, LF, the raw document bytes."""
    job_id = job_id or str(uuid.uuid4())
    meta = {"schema_version": 1, "job_id": job_id, "priority": priority, "language": language,
            "submitted_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "document": {"kind": "inline", "size": len(document)}}
    if source is not None:
        meta["source"] = source
    meta.update(fields)
    body = json.dumps(meta, separators=(",", ":"), ensure_ascii=False).encode() + b"\n" + document
    props = pika.BasicProperties(content_type=CONTENT_TYPE, delivery_mode=2,
                                 message_id=job_id, priority=priority)
    return body, props


# --------------------------------------------------------------------------
# Reset

def reset():
    """Declare the topology and migrate (ocrq-admin setup), purge every ocr.*
    queue, and empty the tables, so each test starts from nothing."""
    r = admin(["setup"], timeout=120)
    if r.returncode != 0:
        raise TestFailure(f"ocrq-admin setup exited {r.returncode}: {r.stderr.strip()}")
    purge_queues()
    db_query("TRUNCATE ocr_jobs, ocr_results, ocr_idempotency_keys, ocr_blobs CASCADE")


# --------------------------------------------------------------------------
# The worker fleet (docs/fleet.md): a supervisor's children, /proc, HTTP,
# Prometheus text, long pages, scripts/services

def proc_stat_fields(pid):
    """Fields of /proc/<pid>/stat after the command name: [state, ppid, ...];
    None if the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def proc_alive(pid):
    """True while pid exists and is not a zombie."""
    f = proc_stat_fields(pid)
    return f is not None and f[0] not in ("Z", "X")


def proc_children(pid):
    """The direct children of pid, zombies included (sorted pids)."""
    kids = set()
    task_dir = Path(f"/proc/{pid}/task")
    have_children_file = False
    try:
        for task in task_dir.iterdir():
            try:
                kids.update(int(x) for x in (task / "children").read_text().split())
                have_children_file = True
            except OSError:
                pass
    except OSError:
        return []
    if not have_children_file:  # a kernel without CONFIG_PROC_CHILDREN: scan /proc
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                f = proc_stat_fields(d.name)
                if f and int(f[1]) == pid:
                    kids.add(int(d.name))
    return sorted(kids)


def proc_cmdline(pid):
    """argv of pid as a list of str ([] if it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0")[:-1]]


def proc_status(pid):
    """/proc/<pid>/status as {field: value}, e.g. ["Cpus_allowed_list"] == "0-1"."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        out[k] = v.strip()
    return out


def proc_environ(pid):
    """The environment pid was executed with, as a dict."""
    out = {}
    for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
        if item:
            k, _, v = item.decode(errors="replace").partition("=")
            out[k] = v
    return out


def cpu_list(text):
    """"0-2,5" -> {0, 1, 2, 5} (the kernel's list format, as in Cpus_allowed_list)."""
    cpus = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


def worker_children(p):
    """The live OCR children of supervisor p: direct children that are not
    zombies and have executed themselves (argv differs from the supervisor's:
    `ocrq-worker --child K`), so their affinity and environment are final.
    The webhook dispatcher (`ocrq-worker --dispatcher`) is not one of them."""
    parent = proc_cmdline(p.pid)
    return [c for c in proc_children(p.pid)
            if proc_alive(c) and proc_cmdline(c) and proc_cmdline(c) != parent
            and "--dispatcher" not in proc_cmdline(c)]


def dispatcher_pid(p):
    """The pid of supervisor p's webhook dispatcher, or None."""
    for c in proc_children(p.pid):
        if proc_alive(c) and "--dispatcher" in (proc_cmdline(c) or []):
            return c
    return None


def wait_children(p, n, timeout=60, what=None):
    """Wait until supervisor p has exactly n live, executed children; returns their pids."""
    return wait_until(lambda: (lambda k: k if len(k) == n else None)(worker_children(p)),
                      timeout, what or f"{n} OCR children of the supervisor", interval=0.05)


def check_children(t, p, n, what, timeout=60):
    """Check that supervisor p comes to have exactly n live, executed children
    (wait_children as a check: the detail is the children it has); returns them."""
    return check_eventually(t, lambda: worker_children(p), what, ok=lambda k: len(k) == n,
                            timeout=timeout, interval=0.05)


def signal_pids(pids, sig):
    """Send sig to each pid that still exists."""
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def log_text(p):
    """Everything worker p has logged so far."""
    return Path(p.log_path).read_text(errors="replace")


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path, timeout=10):
    """GET http://127.0.0.1:port/path; returns (status, content type, body text).
    Connection errors raise OSError."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type") or "", r.read().decode(errors="replace")
    finally:
        conn.close()


def parse_metrics(text):
    """Parse Prometheus text format 0.0.4. Returns {(name, ((label, value), ...)): float}
    with labels sorted; raises TestFailure naming the first line that does not parse."""
    import re
    name_re = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
    label_re = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\\n]|\\[\\"n])*)"\s*(,|(?=\}))')
    out = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 2 and parts[1] in ("HELP", "TYPE"):
                if len(parts) < 3 or not name_re.fullmatch(parts[2]):
                    raise TestFailure(f"metrics line {n}: bad {parts[1]}: {line!r}")
                if parts[1] == "TYPE" and (len(parts) < 4 or parts[3].strip() not in (
                        "counter", "gauge", "histogram", "summary", "untyped")):
                    raise TestFailure(f"metrics line {n}: bad TYPE: {line!r}")
            continue
        m = name_re.match(line)
        if not m:
            raise TestFailure(f"metrics line {n} does not start with a metric name: {line!r}")
        name, rest = m.group(0), line[m.end():]
        labels = []
        if rest.startswith("{"):
            rest = rest[1:]
            while not rest.lstrip().startswith("}"):
                lm = label_re.match(rest)
                if not lm:
                    raise TestFailure(f"metrics line {n}: bad labels: {line!r}")
                value = lm.group(2).replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
                labels.append((lm.group(1), value))
                rest = rest[lm.end():]
            rest = rest.lstrip()[1:]
        fields = rest.split()
        if not rest[:1].isspace() or len(fields) not in (1, 2):
            raise TestFailure(f"metrics line {n}: expected 'name{{labels}} value [timestamp]': {line!r}")
        try:
            value = float(fields[0])  # accepts NaN, +Inf, -Inf as the format does
            if len(fields) == 2:
                int(fields[1])
        except ValueError:
            raise TestFailure(f"metrics line {n}: bad value: {line!r}") from None
        key = (name, tuple(sorted(labels)))
        if key in out:
            raise TestFailure(f"metrics line {n}: the same series twice: {line!r}")
        out[key] = value
    return out


def metric(metrics, name, **labels):
    """The value of the series name{labels} in parse_metrics() output, or None."""
    return metrics.get((name, tuple(sorted(labels.items()))))


def metric_series(metrics, name):
    """[(labels dict, value)] of every series called name."""
    return [(dict(l), v) for (n, l), v in metrics.items() if n == name]


def get_metrics(port):
    """GET /metrics and parse it; raises TestFailure unless the answer is 200."""
    status, _, body = http_get(port, "/metrics")
    if status != 200:
        raise TestFailure(f"GET /metrics answered {status}: {body[:200]!r}")
    return parse_metrics(body)


def make_long_page(path, pages=3, pointsize=46):
    """pages A4 pages of text stacked into one tall image (2480 x 3508*pages at
    300 dpi), each page like make_a4_page(); Tesseract needs about pages times
    as long as for one page. Returns (path, text)."""
    paragraphs = A4_TEXT * 2
    lines = []
    for para in paragraphs:
        lines += textwrap.wrap(para, width=72) + [""]
    page_text = "\n".join(lines).strip()
    args = ["-size", f"{A4_WIDTH}x{A4_HEIGHT * pages}", "xc:white", "-font", FONT,
            "-pointsize", str(pointsize), "-fill", "black", "-interline-spacing", "2"]
    for k in range(pages):
        args += ["-annotate", f"+160+{200 + k * A4_HEIGHT}", page_text]
    return _convert(args, path), "\n\n".join([page_text] * pages)


SERVICES = SOURCE_DIR / "scripts" / "services"


def services(cmd, timeout=180):
    """Run scripts/services cmd (e.g. "pg-stop", "mq-start") against the services
    of OCRQ_AMQP_PORT / OCRQ_PG_PORT / OCRQ_RUN_DIR. Refuses pg-* / mq-* when
    OCRQ_DATABASE_URL / OCRQ_AMQP_URL point elsewhere (it would stop a server
    the test does not use). Output goes to a file: a started broker keeps the
    script's stdout open."""
    url, port, var = ((DATABASE_URL, PG_PORT, "OCRQ_PG_PORT") if cmd.startswith("pg-")
                      else (AMQP_URL, AMQP_PORT, "OCRQ_AMQP_PORT") if cmd.startswith("mq-")
                      else (None, None, None))
    if url is not None:
        actual = urllib.parse.urlsplit(url).port
        if actual != port:
            raise TestFailure(f"{redact(url)} is not the scripts/services server (port {port}):"
                              f" set {var}, or scripts/services {cmd} would hit another server")
    log_path = tmpdir() / "services.log"
    with open(log_path, "ab") as log:
        try:
            r = subprocess.run([str(SERVICES), cmd], stdin=subprocess.DEVNULL, stdout=log,
                               stderr=subprocess.STDOUT, timeout=timeout,
                               env=env(OCRQ_AMQP_PORT=AMQP_PORT, OCRQ_PG_PORT=PG_PORT))
        except subprocess.TimeoutExpired:
            raise TestFailure(f"scripts/services {cmd} did not finish within {timeout} s") from None
    if r.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-10:])
        raise TestFailure(f"scripts/services {cmd} exited {r.returncode}: {tail}")


def fleet_config(overrides=None, **kw):
    """write_config() for a supervisor: worker.metrics_listen is "" (no HTTP)
    unless given, so tests never clash on the default 127.0.0.1:9464 (a worker
    whose address is taken does not start)."""
    settings = {"worker.metrics_listen": ""}
    settings.update(overrides or {})
    return write_config(settings, **kw)


def broker_connections(fields=("peer_port", "timeout", "state")):
    """The broker's client connections (scripts/services ctl list_connections),
    as a list of {field: text}. Needs OCRQ_AMQP_URL to be the scripts/services broker."""
    if urllib.parse.urlsplit(AMQP_URL).port != AMQP_PORT:
        raise TestFailure(f"{redact(AMQP_URL)} is not the scripts/services broker (port {AMQP_PORT})")
    r = run_cmd([SERVICES, "ctl", "list_connections", *fields], timeout=60,
                environ=env(OCRQ_AMQP_PORT=AMQP_PORT, OCRQ_PG_PORT=PG_PORT))
    if r.returncode != 0:
        raise TestFailure(f"rabbitmqctl list_connections exited {r.returncode}: {r.stderr.strip()}")
    out = []
    for line in r.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == len(fields):
            out.append(dict(zip(fields, parts)))
    return out


def consumer_count(queue=JOB_QUEUE):
    """Consumers of queue now (an idle OCR process consumes both job queues:
    design.md "Idle"); 0 if the queue does not exist."""
    conn = amqp_connection()
    try:
        ch = conn.channel()
        try:
            return ch.queue_declare(queue, passive=True).method.consumer_count
        except pika.exceptions.ChannelClosedByBroker:
            return 0
    finally:
        conn.close()


def wait_idle_consumers(n, timeout=60, queue=JOB_QUEUE):
    """Wait until queue has n consumers: n OCR processes connected and idle."""
    return wait_until(lambda: consumer_count(queue) == n, timeout,
                      f"{n} idle consumers on {queue}", interval=0.1)


# --------------------------------------------------------------------------
# Webhooks (docs/webhooks.md): a receiver, secrets, an independent verifier

def make_webhook_secret(nbytes=32):
    """A Standard Webhooks secret: "whsec_" + base64 of nbytes random bytes."""
    import base64
    return "whsec_" + base64.b64encode(os.urandom(nbytes)).decode()


def verify_webhook(secrets, headers, body, tolerance=300, now=None):
    """Check a webhook request the way docs/webhooks.md tells receivers to, with
    Python's hmac (independent of ocrq's C code). secrets: a list of whsec_...;
    headers: {lower-case name: value}; body: the raw bytes. Returns None when the
    webhook-signature holds a v1 signature that matches one of the secrets and the
    webhook-timestamp is within tolerance seconds of now, else the reason."""
    import base64
    import hashlib
    import hmac
    msg_id, ts, sigs = (headers.get(k) for k in
                        ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not msg_id or not ts or not sigs:
        return f"missing headers: id {msg_id!r}, timestamp {ts!r}, signature {sigs!r}"
    try:
        skew = abs((time.time() if now is None else now) - int(ts))
    except ValueError:
        return f"webhook-timestamp is not an integer: {ts!r}"
    if skew > tolerance:
        return f"webhook-timestamp {ts} is {skew:.0f} s from now"
    signed = f"{msg_id}.{ts}.".encode() + body
    wants = [base64.b64encode(hmac.new(base64.b64decode(s[len("whsec_"):]), signed,
                                       hashlib.sha256).digest()).decode() for s in secrets]
    for sig in sigs.split():
        version, _, value = sig.partition(",")
        if version == "v1" and any(hmac.compare_digest(value, w) for w in wants):
            return None
    return f"no v1 signature matches: {sigs!r}"


class WebhookRequest:
    """One request a Receiver got: when (time.time() at arrival), method, path,
    headers ({lower-case name: value}), body (bytes), and the status answered."""

    def __init__(self, at, method, path, headers, body):
        self.at, self.method, self.path, self.headers, self.body = at, method, path, headers, body
        self.status = None

    @property
    def id(self):
        return self.headers.get("webhook-id")

    def json(self):
        return json.loads(self.body)


class Receiver:
    """A webhook receiver: a real HTTP server (ThreadingHTTPServer: a thread per
    connection) on host:port (port 0: any free one) in a background thread.

    Every request is recorded (self.requests, a list of WebhookRequest, in arrival
    order) before it is answered. answer(req) decides the answer: it returns a
    status, or (status, {header: value}), and may sleep; the default answers 200
    at once. Use it as a context manager, or start() and stop() it; it is stopped
    when the test process exits anyway (daemon threads)."""

    def __init__(self, answer=None, port=0, host="127.0.0.1"):
        import threading
        self.host, self.port = host, port
        self.answer = answer or (lambda req: 200)
        self.requests = []
        self.lock = threading.Lock()
        self.server = None
        self.thread = None

    def url(self, path="/hook"):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    def start(self):
        import http.server
        import socket
        import threading
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _serve(self):
                at = time.time()
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                req = WebhookRequest(at, self.command, self.path,
                                     {k.lower(): v for k, v in self.headers.items()}, body)
                with receiver.lock:
                    receiver.requests.append(req)
                try:
                    out = receiver.answer(req)
                except Exception:
                    traceback.print_exc()
                    out = 599
                status, headers = out if isinstance(out, tuple) else (out, {})
                req.status = status
                payload = b"ok\n"
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, str(v))
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (its time limit)

            do_POST = do_GET = do_PUT = _serve

        class Server(http.server.ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 128

        self.server = Server((self.host, self.port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def __enter__(self):
        return self.start() if self.server is None else self

    def __exit__(self, *exc):
        self.stop()

    def snapshot(self):
        with self.lock:
            return list(self.requests)

    def ids(self):
        """The webhook-id of every request so far, in arrival order."""
        return [r.id for r in self.snapshot()]

    def by_job(self):
        """{data.job_id: [requests]} of the requests whose body parses as an event."""
        out = {}
        for r in self.snapshot():
            try:
                job = r.json()["data"]["job_id"]
            except (ValueError, KeyError, TypeError):
                continue
            out.setdefault(job, []).append(r)
        return out

    def wait_for(self, predicate, timeout=WAIT_TIMEOUT_S, what="webhook requests"):
        """wait_until(predicate(self.snapshot())); returns the snapshot."""
        return wait_until(lambda: (lambda s: s if predicate(s) else None)(self.snapshot()),
                          timeout, what, interval=0.05)


class Listener:
    """A bare TCP listener (no HTTP) that records every connection accepted, for
    checking that nothing connects: listen on host:port in a thread, accept and
    close. self.connections: [(time, peer address)]."""

    def __init__(self, host="127.0.0.1", port=0):
        import socket
        import threading
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        self.sock.bind((host, port))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        import socket
        while not self._stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            self.connections.append((time.time(), peer))
            conn.close()

    def close(self):
        self._stop.set()
        self.thread.join(5)
        self.sock.close()


def webhook_deliveries(job_ids=None):
    """ocr_webhook_deliveries rows (all, or of job_ids) as dicts, job_id as text, by id."""
    sql = "SELECT *, job_id::text AS job_id FROM ocr_webhook_deliveries"
    if job_ids is not None:
        return db_query(sql + " WHERE job_id = ANY(%s::uuid[]) ORDER BY id", (list(job_ids),))
    return db_query(sql + " ORDER BY id")


def webhook_attempts(delivery_id=None):
    """ocr_webhook_attempts rows (all, or of one delivery), by delivery and attempt."""
    sql = "SELECT * FROM ocr_webhook_attempts"
    if delivery_id is not None:
        return db_query(sql + " WHERE delivery_id = %s ORDER BY attempt", (delivery_id,))
    return db_query(sql + " ORDER BY delivery_id, attempt")


def dispatcher_pids(p):
    """The webhook dispatcher(s) of supervisor p: live direct children run as
    `ocrq-worker --dispatcher` (docs/fleet.md)."""
    return [c for c in proc_children(p.pid) if proc_alive(c) and "--dispatcher" in proc_cmdline(c)]


def webhook_config(overrides=None, secrets=(), allow=("127.0.0.1",), **kw):
    """fleet_config() with webhooks.secrets = secrets and security.url_allowlist =
    allow (the receiver on 127.0.0.1 must be reachable); overrides win."""
    settings = {"security.url_allowlist": list(allow), "webhooks.secrets": list(secrets)}
    settings.update(overrides or {})
    return fleet_config(settings, **kw)


def webhook_env(**extra):
    """env() without OCRQ_WEBHOOK_SECRETS and OCRQ_URL_ALLOWLIST (they would replace
    the config's webhooks.secrets and security.url_allowlist), plus extra."""
    settings = {"OCRQ_WEBHOOK_SECRETS": None, "OCRQ_URL_ALLOWLIST": None}
    settings.update(extra)
    return env(**settings)


# --------------------------------------------------------------------------
# ocrq-api (docs/api.md)

def api_key(name=None):
    """Create an API key with ocrq-admin apikey create; returns (name, key)."""
    name, key, _ = api_key_with_secret(name)
    return name, key


def api_key_with_secret(name=None):
    """Create an API key; returns (name, key, its webhook signing secret): the key is
    alone on the last line of ocrq-admin apikey create, the secret on the line before."""
    name = name or f"{current().name}-{uuid.uuid4().hex[:8]}"
    r = admin(["apikey", "create", name])
    if r.returncode != 0:
        raise TestFailure(f"ocrq-admin apikey create {name} exited {r.returncode}: {r.stderr}")
    lines = r.stdout.rstrip("\n").split("\n")
    secret = lines[-2].split()[-1] if len(lines) >= 2 else ""
    if not secret.startswith("whsec_"):
        raise TestFailure(f"no webhook secret on the line before the key: {r.stdout!r}")
    return name, lines[-1], secret


def start_api(overrides=None, environ=None, wait=True):
    """Start ocrq-api on a free port with a config of overrides ({"api.x": v}).
    wait=True waits for /readyz (the API has connected to the broker and the
    database: before that a POST is answered 503 broker_unavailable);
    wait="healthz" only for /healthz (it listens); False does not wait.
    Returns the Popen with .port and .log_path; run() stops it (SIGTERM) if
    the test does not."""
    n = len(list(tmpdir().glob("api-*.log"))) + 1
    port = free_port()
    settings = {"api.listen": f"127.0.0.1:{port}", "log.level": "debug"}
    settings.update(overrides or {})
    conf = write_config(settings, path=tmpdir() / f"api-{n}.conf")
    log_path = tmpdir() / f"api-{n}.log"
    log = open(log_path, "wb")
    e = environ or env()
    e.pop("OCRQ_API_LISTEN", None)
    p = subprocess.Popen([str(API), "-c", str(conf)], stdin=subprocess.DEVNULL, stdout=log,
                         stderr=subprocess.STDOUT, env=e)
    log.close()
    p.port, p.log_path, p.worker_name = port, log_path, "ocrq-api"
    _apis.append(p)
    if wait:
        path = "/healthz" if wait == "healthz" else "/readyz"
        def healthy():
            if p.poll() is not None:
                raise TestFailure(f"ocrq-api exited {p.returncode}: {log_tail(p)}")
            try:
                return api_request(p, "GET", path)[0] == 200
            except OSError:
                return False
        wait_until(healthy, timeout=30, what=f"ocrq-api answers {path} with 200")
    return p


def stop_api(p, timeout=STOP_TIMEOUT_S):
    """SIGTERM ocrq-api and wait; SIGKILL if it hangs. Returns its exit status."""
    if p in _apis:
        _apis.remove(p)
    p.hung = False
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.hung = True
            p.kill()
            p.wait()
    return p.returncode


def api_request(p, method, path, body=None, headers=None, key=None, timeout=60):
    """One request to ocrq-api p (or a port) made with curl; returns (status,
    headers with lower-case names, body bytes). A connection that cannot be
    made or a request that times out raises OSError."""
    port = p if isinstance(p, int) else p.port
    hdrs = {"Expect": ""}  # no 100-continue round trip
    if body is not None:
        hdrs["Content-Type"] = ""  # none unless given (curl would say form-urlencoded)
    hdrs.update(headers or {})
    if key:
        hdrs["Authorization"] = f"Bearer {key}"
    with tempfile.TemporaryDirectory(dir=tmpdir()) as d:
        head, out = Path(d) / "head", Path(d) / "body"
        argv = ["curl", "-sS", "-X", method, "--max-time", str(timeout), "-D", str(head),
                "-o", str(out)]
        for k, v in hdrs.items():
            argv += ["-H", f"{k}:" if v == "" else f"{k}: {v}"]
        if body is not None:
            (Path(d) / "in").write_bytes(body if isinstance(body, bytes) else body.encode())
            argv += ["--data-binary", f"@{Path(d) / 'in'}"]
        argv.append(f"http://127.0.0.1:{port}{path}")
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=timeout + 30)
        except subprocess.TimeoutExpired:
            raise OSError(f"curl {method} {path}: no answer") from None
        if r.returncode != 0:
            raise OSError(f"curl {method} {path}: exit {r.returncode}: {r.stderr.decode().strip()}")
        # the last header block is the answer (a 1xx block may come first)
        blocks = [b for b in head.read_bytes().decode("latin-1").split("\r\n\r\n") if b.strip()]
        lines = blocks[-1].split("\r\n")
        status = int(lines[0].split()[1])
        hmap = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                hmap[k.strip().lower()] = v.strip()
        return status, hmap, out.read_bytes() if out.exists() else b""


def api_json(p, method, path, body=None, headers=None, key=None):
    """api_request() whose answer must be JSON: (status, headers, object)."""
    status, hdrs, data = api_request(p, method, path, body, headers, key)
    try:
        obj = json.loads(data)
    except ValueError:
        raise TestFailure(f"{method} {path}: {status} with a body that is not JSON: {data[:200]!r}")
    return status, hdrs, obj


def api_post_image(p, key, image_bytes, query="", content_type="image/png", headers=None):
    """POST /v1/jobs with a raw image body; returns api_json()'s triple."""
    h = {"Content-Type": content_type}
    h.update(headers or {})
    return api_json(p, "POST", "/v1/jobs" + (f"?{query}" if query else ""), image_bytes, h, key)


def multipart(fields, file_bytes=None, filename="page.png", file_type="image/png"):
    """A multipart/form-data body: (body bytes, content type)."""
    boundary = "ocrqtest" + uuid.uuid4().hex
    out = []
    for k, v in fields.items():
        out.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n"
                   f"{v}\r\n".encode())
    if file_bytes is not None:
        out.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\";"
                   f" filename=\"{filename}\"\r\nContent-Type: {file_type}\r\n\r\n".encode()
                   + file_bytes + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


def rabbitmqctl(*args, timeout=120):
    """scripts/services ctl ARGS (rabbitmqctl of the private broker); returns CompletedProcess."""
    return run_cmd([SERVICES, "ctl", *args], timeout=timeout,
                   environ=env(OCRQ_AMQP_PORT=AMQP_PORT, OCRQ_PG_PORT=PG_PORT))


def amqp_vhost():
    """The vhost of AMQP_URL ("/" when the path is empty)."""
    path = urllib.parse.urlsplit(AMQP_URL).path
    return urllib.parse.unquote(path[1:]) if len(path) > 1 else "/"


def broker_pid():
    """pid of the broker listening on AMQP_PORT (the scripts/services one), or None."""
    import re
    r = run_cmd(["ss", "-ltnpH", f"sport = :{AMQP_PORT}"], timeout=30)
    m = re.search(r"pid=(\d+)", r.stdout)
    return int(m.group(1)) if m else None


def api_in_progress(p):
    """ocrq_api_requests_in_progress of ocrq-api p (the /metrics request itself excluded)."""
    st, _, data = api_request(p, "GET", "/metrics")
    v = metric(parse_metrics(data.decode()), "ocrq_api_requests_in_progress")
    return int(v) - 1 if v is not None else 0
