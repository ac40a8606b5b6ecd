// Go peer for the parser benchmarks: Prometheus's own text-format parser (expfmt.TextParser
// from github.com/prometheus/common, the one promtool and the Pushgateway use), built from
// Debian's golang-github-prometheus-common-dev in GOPATH mode (no module download), with
// harness.go: `go build -o expfmt-peer expfmt.go harness.go`.
//
// Usage:
//
//	expfmt-peer FILE...        parse each file repeatedly for BENCH_SECONDS (default 0.4),
//	                           print "RESULT<TAB>name<TAB>go-expfmt<TAB>MB/s" (best run)
//	expfmt-peer -once FILE     parse FILE once and print the sample count (whole-process runs)
package main

import (
	"bytes"

	"github.com/prometheus/common/expfmt"
)

func parse(data []byte) (int, error) {
	var parser expfmt.TextParser
	families, err := parser.TextToMetricFamilies(bytes.NewReader(data))
	if err != nil {
		return 0, err
	}
	samples := 0
	for _, family := range families {
		samples += len(family.GetMetric())
	}
	return samples, nil
}

func main() {
	run("go-expfmt", parse)
}
