// Go peer for the parser benchmarks: Prometheus's own text-format parser (expfmt.TextParser
// from github.com/prometheus/common, the one promtool and the Pushgateway use), built from
// Debian's golang-github-prometheus-common-dev in GOPATH mode (no module download).
//
// Usage:
//
//	expfmt-peer FILE...        parse each file repeatedly for BENCH_SECONDS (default 0.4),
//	                           print "RESULT<TAB>name<TAB>go-expfmt<TAB>MB/s" (best run)
//	expfmt-peer -once FILE     parse FILE once and print the sample count (whole-process runs)
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

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
	args := os.Args[1:]
	if len(args) == 2 && args[0] == "-once" {
		data, err := os.ReadFile(args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		samples, err := parse(data)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(samples, "samples")
		return
	}
	budget := 0.4
	if s, err := strconv.ParseFloat(os.Getenv("BENCH_SECONDS"), 64); err == nil {
		budget = s
	}
	for _, path := range args {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		best := 0.0
		deadline := time.Now().Add(time.Duration(budget * float64(time.Second)))
		for runs := 0; runs < 3 || time.Now().Before(deadline); runs++ {
			start := time.Now()
			if _, err := parse(data); err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
				break
			}
			if mbps := float64(len(data)) / 1e6 / time.Since(start).Seconds(); mbps > best {
				best = mbps
			}
		}
		fmt.Printf("RESULT\t%s\tgo-expfmt\t%.1f\n", filepath.Base(path), best)
	}
}
