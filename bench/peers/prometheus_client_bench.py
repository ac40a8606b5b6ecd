"""Throughput of Python prometheus_client's text parser in MB/s on each file given as an argument.

Prints `RESULT <input> prometheus_client <MB/s> <bytes> <samples>` lines for
scripts/bench-parser.sh. BENCH_SECONDS is the time spent per measurement (default 0.4); at least
one run is made, so a large payload is parsed once.
"""

import os
import sys
import time

from prometheus_client.parser import text_string_to_metric_families


def samples_in(text):
    return sum(len(family.samples) for family in text_string_to_metric_families(text))


def main():
    budget = float(os.environ.get("BENCH_SECONDS", "0.4"))
    for path in sys.argv[1:]:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        size = len(text.encode("utf-8"))
        best = float("inf")
        start = time.perf_counter()
        samples = 0
        while best == float("inf") or time.perf_counter() - start < budget:
            t = time.perf_counter()
            samples = samples_in(text)
            best = min(best, time.perf_counter() - t)
        name = os.path.basename(path)
        print(f"RESULT\t{name}\tprometheus_client\t{size / best / 1e6:.1f}\t{size}\t{samples}", flush=True)


if __name__ == "__main__":
    main()
