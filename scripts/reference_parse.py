#!/usr/bin/env python3
"""The reference parser of the differential test (tests/cli/differential.rs): Python's
prometheus_client reads each file given and prints one JSON object per sample:
{"file", "name", "labels", "value", "timestamp"}, numbers as Python's repr (so NaN, infinities
and -0.0 survive), the timestamp in seconds as prometheus_client returns it, or null."""

import json
import sys

from prometheus_client.parser import text_string_to_metric_families

for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            print(json.dumps({
                "file": path,
                "name": sample.name,
                "labels": sample.labels,
                "value": repr(float(sample.value)),
                "timestamp": None if sample.timestamp is None else repr(float(sample.timestamp)),
            }, ensure_ascii=False))
