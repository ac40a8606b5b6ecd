#!/usr/bin/env python3
"""Checks a `kubelet-metrics histogram -o json` report against kubesim's truth.json.

Usage: check_report.py REPORT.json TRUTH.json METHOD KIND_BY_FAULT
KIND_BY_FAULT maps a fault's name (its spelling in truth.json up to ':') to the failure kind it
gives through METHOD, e.g. '{"hang": "timeout", "garbage": null}'; null: the node answers.
Every node without a fault, or whose fault maps to null, must report the truth's count, sum and
p99 (PromQL's histogram_quantile over the truth's buckets); every other node must have failed with
its kind and a fix. Prints one summary line; exits 1 with the first problems otherwise.
"""
import json
import math
import sys


def quantile(q, buckets):
    """PromQL's histogram_quantile over cumulative (le, count) pairs ending with +Inf."""
    total = buckets[-1][1]
    if total == 0:
        return math.nan
    rank = q * total
    finite = len(buckets) - 1
    b = next((i for i in range(finite) if buckets[i][1] >= rank), finite)
    if b == finite:
        return buckets[finite - 1][0]
    start, below = (0.0, 0) if b == 0 else buckets[b - 1]
    end, count = buckets[b]
    return start + (end - start) * ((rank - below) / (count - below))


def close(a, b):
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1.0)


def main():
    report_path, truth_path, method, kinds = sys.argv[1:5]
    report = json.load(open(report_path))
    truth = json.load(open(truth_path))
    kinds = json.loads(kinds)
    rows = {row["node"]: row for row in report["nodes"]}
    errors = {error["node"]: error for error in report["errors"]}
    problems, answered, failed = [], 0, 0
    for node in truth["nodes"]:
        name, fault = node["name"], node.get("fault")
        expected = kinds.get(fault.split(":")[0]) if fault else None
        if expected is None:
            row = rows.get(name)
            if row is None:
                problems.append(f"{name} ({fault}): no row; {errors.get(name)}")
                continue
            truth_h = node["pod_start"]
            buckets = [(math.inf if b["le"] == "+Inf" else float(b["le"]), b["count"]) for b in truth_h["buckets"]]
            p99 = row["quantiles"]["0.99"]
            if row["count"] != truth_h["count"]:
                problems.append(f"{name}: count {row['count']} != {truth_h['count']}")
            if not close(row["sum"], truth_h["sum"]):
                problems.append(f"{name}: sum {row['sum']} != {truth_h['sum']}")
            if not close(p99, quantile(0.99, buckets)):
                problems.append(f"{name}: p99 {p99} != {quantile(0.99, buckets)}")
            answered += 1
        else:
            error = errors.get(name)
            if error is None or error["kind"] != expected or not error.get("fix"):
                problems.append(f"{name} ({fault}): expected {expected}, got {error}")
            failed += 1
    if len(rows) != answered or len(errors) != failed:
        problems.append(f"{len(rows)} rows and {len(errors)} errors, expected {answered} and {failed}")
    if problems:
        print(f"{method}: {len(problems)} problems:")
        for problem in problems[:20]:
            print("  " + problem)
        sys.exit(1)
    print(f"{method}: {answered} healthy nodes match truth.json (count, sum, p99); "
          f"{failed} faulty nodes failed with the expected kind and a fix")


if __name__ == "__main__":
    main()
