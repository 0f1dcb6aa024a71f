#!/usr/bin/env python3
"""A pure-Python diff with none of muster's rules, for comparison with plan().

Generates the same data as benches/plan.rs (N accounts on each side, 3 aliases
each, 10 % changed, 1 % missing on each side), then times only the diff: a
dict from lower-cased primary to account, a field and sorted-alias comparison
per directory entry, and the accounts nobody listed.

Usage: python3 benches/python_diff.py N
Prints one line: python_diff n=N seconds=S creates=C updates=U deletes=D peak_rss_mb=M
"""
import resource
import sys
import time


def aliases(i, changed):
    out = [f"user{i}.a{k}@example.org" for k in range(3)]
    if changed and i % 20 == 3:
        out[2] = f"user{i}.new@example.org"
    return out


def record(i, changed):
    dept = (i % 7) + (1 if changed else 0)
    return {
        "primary_email": f"User{i}@Example.com",
        "first_name": "First%d" % (i % 1000),
        "last_name": "Last%d" % (i % 997),
        "department": "Dept%d" % dept,
        "aliases": aliases(i, changed),
    }


def generate(n):
    current = [record(i, False) for i in range(n) if i % 100 != 50]
    desired = [record(i, i % 10 == 3) for i in range(n) if i % 100 != 0]
    return desired, current


def diff(desired, current):
    by_primary = {a["primary_email"].lower(): a for a in current}
    seen = set()
    creates, updates = [], []
    for e in desired:
        key = e["primary_email"].lower()
        a = by_primary.get(key)
        if a is None:
            creates.append(e)
            continue
        seen.add(key)
        if (
            a["first_name"] != e["first_name"]
            or a["last_name"] != e["last_name"]
            or a["department"] != e["department"]
            or sorted(x.lower() for x in a["aliases"]) != sorted(x.lower() for x in e["aliases"])
        ):
            updates.append((a, e))
    deletes = [a for k, a in by_primary.items() if k not in seen]
    return creates, updates, deletes


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    desired, current = generate(n)
    start = time.perf_counter()
    creates, updates, deletes = diff(desired, current)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"python_diff n={n} seconds={seconds:.3f} creates={len(creates)} "
        f"updates={len(updates)} deletes={len(deletes)} peak_rss_mb={peak_mb:.0f}"
    )


if __name__ == "__main__":
    main()
