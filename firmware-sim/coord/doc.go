// Package coord splits one simulated fleet over several firmware-sim
// processes, for fleets larger than one process's open-file limit: each
// child runs its share of the devices (its own device ID prefix, its own
// slice of loopback source addresses) against the same server, writes
// its report with its latency samples, and prints status lines that the
// coordinator adds up. The coordinator waits for all, stops the rest
// when one fails (naming it, with its last lines), and merges the
// reports into one (report.Merge), judged by the same checks.
package coord
