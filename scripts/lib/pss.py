#!/usr/bin/env python3
"""Prints the PSS of processes and each of their descendants, then the total.

PSS splits shared pages between the processes sharing them, so the sum is what the process
trees really cost. Usage: pss.py PID [PID...]"""
import os
import sys


def children(pid):
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


todo, total, seen = [int(p) for p in sys.argv[1:]], 0, set()
while todo:
    pid = todo.pop()
    if pid in seen:
        continue
    seen.add(pid)
    kb = pss_kb(pid)
    total += kb
    print(f"{comm(pid):<24} pid {pid:<8} {kb / 1024:8.1f} MB")
    todo += children(pid)
print(f"{'total':<33} {total / 1024:8.1f} MB")
