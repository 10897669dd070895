#!/usr/bin/env python3
"""Prints, every interval, the CPU time each group of processes used in it (user + system,
from /proc/<pid>/stat), one line per interval: which process is busy during which phase of a
benchmark, e.g. whether a step runs on one core while the other idles.

    tools/cpu_sample.py [--interval 0.5] [--seconds 120] [name ...]

Names are process names (as `ps -o comm` shows them, 15 characters at most); every process
whose name starts with one of them is counted in that group. Default: Passerelle's services,
postgres and nats-server. A process that starts or ends between two samples counts from its
first sample or up to its last.
"""
import argparse
import os
import sys
import time

DEFAULT = ["passerelle-venu", "passerelle-sync", "passerelle-refe", "passerelle-indi",
           "passerelle-noti", "passerelle-gate", "postgres", "nats-server"]


def sample(groups, ticks):
    """{group: {pid: seconds of CPU}} now."""
    out = {g: {} for g in groups}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        for g in groups:
            if name.startswith(g):
                out[g][pid] = (int(fields[11]) + int(fields[12])) / ticks
                break
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("names", nargs="*", default=DEFAULT)
    args = parser.parse_args()
    ticks = os.sysconf("SC_CLK_TCK")
    start = time.time()
    previous = sample(args.names, ticks)
    print("seconds  " + "  ".join(f"{g[:15]:>15}" for g in args.names))
    while time.time() - start < args.seconds:
        time.sleep(args.interval)
        now = sample(args.names, ticks)
        used = [sum(cpu - previous[g].get(pid, 0.0) for pid, cpu in now[g].items())
                for g in args.names]
        print(f"{time.time() - start:7.1f}  " + "  ".join(f"{u:15.2f}" for u in used))
        sys.stdout.flush()
        previous = now


if __name__ == "__main__":
    main()
