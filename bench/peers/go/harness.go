// The command line and timing the Go peers share (built with each peer: `go build -o PEER
// PEER.go harness.go`).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// run is a peer's main: with "-once FILE" it parses FILE once and prints the sample count (for
// whole-process runs); with FILE... it parses each file, read into memory first, repeatedly for
// BENCH_SECONDS (default 0.4, at least 3 runs) and prints
// "RESULT<TAB>file name<TAB>method<TAB>MB/s" for the best run. A file the parser rejects gets no
// RESULT line, only the error on stderr.
func run(method string, parse func([]byte) (int, error)) {
	args := os.Args[1:]
	if len(args) == 2 && args[0] == "-once" {
		data, err := os.ReadFile(args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		samples, err := parse(data)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", args[1], err)
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
		if _, err := parse(data); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			continue
		}
		best := 0.0
		deadline := time.Now().Add(time.Duration(budget * float64(time.Second)))
		for runs := 0; runs < 3 || time.Now().Before(deadline); runs++ {
			start := time.Now()
			_, _ = parse(data) // parsed without error above
			if mbps := float64(len(data)) / 1e6 / time.Since(start).Seconds(); mbps > best {
				best = mbps
			}
		}
		fmt.Printf("RESULT\t%s\t%s\t%.1f\n", filepath.Base(path), method, best)
	}
}
