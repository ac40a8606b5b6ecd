// Go peer for the parser benchmarks: the parser Prometheus's scraper uses on text payloads
// (textparse.PromParser from the Prometheus server's model/textparse, faster than expfmt),
// built with harness.go by scripts/textparse-peer from Debian's `prometheus` source package with
// Debian's Go in GOPATH mode (no module download).
//
// What it does per file, to match a scrape in which every series is new (the first scrape of a
// target; kubelet-metrics parses each payload once, so this is the like-for-like case): the
// whole file is read into memory first (outside the in-process timing), then
// textparse.NewPromParser runs Next() over every entry; a TYPE entry calls Type(), a HELP entry
// Help(); every sample calls Series() (name and labels as bytes, optional timestamp, float64
// value) and Metric(&labels) (the labels built, unescaped and sorted into labels.Labels, one
// string allocation per sample), as scrapeLoop.append does on a series-cache miss.
//
// What it does not do: no series-cache lookup (a later scrape of an unchanged target skips
// Metric() through that cache and is faster), no labels.Hash(), no relabelling, no exemplars
// (PromParser has none), no append to storage; no Histogram() (the text format has no native
// histograms). The Go runtime's defaults are kept (GOGC=100).
//
// Usage:
//
//	textparse-peer FILE...     parse each file repeatedly for BENCH_SECONDS (default 0.4),
//	                           print "RESULT<TAB>name<TAB>go-textparse<TAB>MB/s" (best run)
//	textparse-peer -once FILE  parse FILE once and print the sample count (whole-process runs)
package main

import (
	"errors"
	"io"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
)

// parse runs the parser over every entry of data and returns the number of samples.
func parse(data []byte) (int, error) {
	parser := textparse.NewPromParser(data)
	var lset labels.Labels
	samples := 0
	for {
		entry, err := parser.Next()
		if errors.Is(err, io.EOF) {
			return samples, nil
		}
		if err != nil {
			return samples, err
		}
		switch entry {
		case textparse.EntryType:
			parser.Type()
		case textparse.EntryHelp:
			parser.Help()
		case textparse.EntrySeries:
			parser.Series()
			parser.Metric(&lset)
			samples++
		}
	}
}

func main() {
	run("go-textparse", parse)
}
