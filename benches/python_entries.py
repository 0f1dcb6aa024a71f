#!/usr/bin/env python3
"""`DirectorySnapshot.entries` over N rows: built once, then free.

The baseline, measured in the same run, is what `entries` used to cost on
every access: a list of N entry dicts (`list(snapshot.entries)` builds
exactly that). Asserted, not only printed:

- reading `entries` twice gives the same object (identity) and both
  accesses together cost less than 1 % of one baseline build: the second
  read builds nothing, the first only the view;
- `len(entries)` and `entries[N // 2]` allocate a few kilobytes at most
  (tracemalloc): no dict is built for every row.

Usage: python benches/python_entries.py [N]
Prints: python_entries n=N first_s=.. second_s=.. baseline_s=.. ratio=.. index_kib=..
"""

from __future__ import annotations

import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import muster


def write_csv(path: Path, n: int) -> None:
    with open(path, "w") as f:
        f.write("First Name,Last Name,Primary Email,Mobile,Alias 1,Alias 2\n")
        for i in range(n):
            f.write(f"First{i},Last{i},user{i}@example.com,+1 555 {i:07d},u{i}.a@example.com,u{i}.b@example.com\n")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "users.csv"
        write_csv(path, n)
        snapshot = muster.StandardCsv(path).read()
        assert len(snapshot) == n

        start = time.perf_counter()
        first = snapshot.entries
        first_s = time.perf_counter() - start
        start = time.perf_counter()
        second = snapshot.entries
        second_s = time.perf_counter() - start
        assert first is second, "entries is built once: the same object on every access"

        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        assert len(second) == n
        middle = second[n // 2]
        assert middle["primary_email"] == f"user{n // 2}@example.com"
        index_bytes = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
        del middle
        tracemalloc.stop()

        start = time.perf_counter()
        built = list(second)
        baseline_s = time.perf_counter() - start
        assert len(built) == n and built[0]["primary_email"] == "user0@example.com"

    ratio = (first_s + second_s) / baseline_s
    assert ratio < 0.01, f"two reads of entries cost {ratio:.2%} of building every dict"
    assert index_bytes < 16 * 1024, f"len() and one index allocated {index_bytes} bytes"
    print(
        f"python_entries n={n} first_s={first_s:.6f} second_s={second_s:.6f} "
        f"baseline_s={baseline_s:.3f} ratio={ratio:.6f} index_kib={index_bytes / 1024:.1f}"
    )


if __name__ == "__main__":
    main()
