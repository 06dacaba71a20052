# SPDX-License-Identifier: GPL-3.0-or-later
"""The licence (docs/documents.md, "Why poppler, and the licence"): LICENSE is
the GPL version 3, and every source file of the repository (C, headers,
Python, shell and bench scripts, CMake, Lua, the Dockerfile) names it with an
SPDX-License-Identifier of GPL-3.0-or-later in its first lines. Needs no
services."""

import os
import re
import subprocess
import sys

TAG = "SPDX-License-Identifier: GPL-3.0-or-later"
ROOT = os.environ.get("OCRQ_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def source(p):
    if p.startswith("tests/fuzz/corpus/"):
        return False
    return (p.endswith((".c", ".h", ".py", ".lua", ".cmake")) or p.endswith("CMakeLists.txt")
            or p in (".ci/run", "docker/Dockerfile") or p.startswith("scripts/")
            or re.fullmatch(r"bench/[a-z_]+", p) is not None)


def main():
    failed = 0
    lic = open(os.path.join(ROOT, "LICENSE"), encoding="utf-8").read()
    ok = "GNU GENERAL PUBLIC LICENSE" in lic and "Version 3, 29 June 2007" in lic
    print(("PASS" if ok else "FAIL") + ": LICENSE is the GNU GPL version 3")
    failed += not ok
    files = subprocess.run(["git", "-C", ROOT, "ls-files"], capture_output=True, text=True,
                           check=True).stdout.split()
    files = [p for p in files if source(p)]
    missing = []
    for p in files:
        with open(os.path.join(ROOT, p), encoding="utf-8", errors="replace") as f:
            head = "".join(f.readline() for _ in range(3))
        if TAG not in head:
            missing.append(p)
    ok = bool(files) and not missing
    print(("PASS" if ok else "FAIL") + f": {len(files)} source files carry {TAG}"
          + (f"; missing in {missing[:10]}" if missing else ""))
    failed += not ok
    print(f"test_licence: {2 - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
