# SPDX-License-Identifier: GPL-3.0-or-later
"""ocrq-admin apikey create|list|revoke against the real database: the key is
printed once, alone on the last line of stdout; only its SHA-256 is stored
(never the key), with the key id to find the row; list shows names and
states but no key; a taken name, an unknown or already revoked key, and a
bad name are refused with the documented exit codes."""

import hashlib
import json
import re

import harness as h

KEY_RE = re.compile(r"^ocrq_([0-9A-Za-z]{10})_[0-9A-Za-z]{32}$")


def admin(*args):
    return h.admin(["apikey", *args])


def main(t):
    h.db_query("DELETE FROM ocr_api_keys WHERE name LIKE 'apikey-test-%'")

    r = admin("create", "apikey-test-a")
    t.check(r.returncode == 0, "apikey create exits 0", r.stderr)
    last = r.stdout.rstrip("\n").split("\n")[-1]
    m = KEY_RE.match(last)
    t.require(m is not None, "the key is alone on the last line of stdout", r.stdout)
    key, key_id = last, m.group(1)
    rows = h.db_query("SELECT key_id, key_hash, revoked_at FROM ocr_api_keys WHERE name = %s",
                      ("apikey-test-a",))
    t.require(len(rows) == 1, "one row for the key", rows)
    row = rows[0]
    t.check(row["key_id"] == key_id, "the row holds the key id", row)
    t.check(row["key_hash"] == hashlib.sha256(key.encode()).hexdigest(),
            "the row holds the key's SHA-256", row["key_hash"])
    stored = h.db_query("SELECT count(*) AS n FROM ocr_api_keys"
                        " WHERE key_hash LIKE %s OR key_id LIKE %s OR name LIKE %s",
                        (f"%{key[-32:]}%",) * 3)[0]["n"]
    t.check(stored == 0, "the secret part of the key is stored nowhere", stored)

    r2 = admin("create", "apikey-test-b")
    key2 = r2.stdout.rstrip("\n").split("\n")[-1]
    t.check(r2.returncode == 0 and KEY_RE.match(key2) and key2 != key,
            "a second key is different", (r2.returncode, key2))

    r = admin("create", "apikey-test-a")
    t.check(r.returncode == 1 and "exists" in r.stderr, "a taken name exits 1 and says so",
            (r.returncode, r.stderr))

    r = admin("list")
    t.check(r.returncode == 0 and "apikey-test-a" in r.stdout and "apikey-test-b" in r.stdout,
            "apikey list shows both names", r.stdout)
    t.check(key not in r.stdout and key[-32:] not in r.stdout, "apikey list never shows a key")

    r = admin("revoke", "apikey-test-a")
    t.check(r.returncode == 0, "apikey revoke exits 0", r.stderr)
    r = h.admin(["apikey", "list", "--json"])
    keys = {o["name"]: o for o in h.json_lines(r.stdout)}
    t.check(keys.get("apikey-test-a", {}).get("revoked_at") is not None
            and keys.get("apikey-test-b", {}).get("revoked_at") is None,
            "list --json: a revoked, b active", json.dumps(keys)[:400])

    r = admin("revoke", "apikey-test-a")
    t.check(r.returncode == 1, "revoking it again exits 1", (r.returncode, r.stderr))
    r = admin("revoke", "apikey-test-none")
    t.check(r.returncode == 1, "revoking an unknown key exits 1", (r.returncode, r.stderr))
    for bad in (["create", "a b"], ["create", "x" * 65], ["create", ".dot"], ["create"],
                ["remove", "apikey-test-a"], ["list", "--failed"]):
        r = admin(*bad)
        t.check(r.returncode == 2, f"apikey {' '.join(bad)[:30]} is a usage error (exit 2)",
                (r.returncode, r.stderr))
    h.db_query("DELETE FROM ocr_api_keys WHERE name LIKE 'apikey-test-%'")


if __name__ == "__main__":
    h.run(main)
