// Package report holds what a firmware-sim run measured and renders it: a
// JSON document whose schema is the Report type (documented field by field
// in firmware-sim/README.md) and one self-contained HTML page with inline
// SVG charts drawn here, so a person can open it in a browser with no
// network and no scripts.
//
// # Basics
//
// Latencies are collected in a Sample (exact percentiles from the kept
// values, reservoir-sampled beyond a cap) and summarised as a Summary in
// milliseconds. Counts over time go into a Series with one bucket per
// second. Errors are counted by kind in Errors.
//
// # Caveats
//
// Percentiles use the nearest-rank method on the kept values: with more
// samples than the reservoir holds they are estimates, exact otherwise.
package report
