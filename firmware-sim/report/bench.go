package report

import "time"

// Bench is the result of the `bench` command: the same client and
// certificates against several servers, measured in alternating rounds.
type Bench struct {
	Started    time.Time     `json:"started"`
	Seconds    float64       `json:"seconds"`
	Settings   BenchSettings `json:"settings"`
	Contenders []Contender   `json:"contenders"`
	Rows       []BenchRow    `json:"rows"`
	Goals      []Goal        `json:"goals"`
	// Runtime is fleetgate's growth per idle connection in its own Go
	// runtime metrics (go_memstats_stack_inuse_bytes, ..., go_goroutines),
	// read from its ops endpoint with the memory row: where the bytes go.
	Runtime map[string]float64 `json:"fleetgate_runtime_per_connection,omitempty"`
}

// BenchSettings echoes how the bench ran.
type BenchSettings struct {
	Rounds         int     `json:"rounds"`
	RoundSeconds   float64 `json:"round_seconds"`
	ConnectClients int     `json:"connect_clients"` // concurrent connect loops
	MessageClients int     `json:"message_clients"` // clients publishing to themselves
	Window         int     `json:"window"`          // messages in flight per client
	PayloadBytes   int     `json:"payload_bytes"`
	IdleConns      int     `json:"idle_connections"`
	GOGC           string  `json:"gogc"` // GOGC of the Go servers; empty (older runs): fleetgate its gc_percent, the others Go's default
	// IdleHoldSeconds is how long the memory row held its idle
	// connections before the steady-state reading.
	IdleHoldSeconds float64 `json:"idle_hold_seconds,omitempty"`
}

// Contender is one server measured.
type Contender struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	KeyExchange string `json:"key_exchange"` // negotiated with the bench client
	Settings    string `json:"settings"`
}

// BenchRow is one measured quantity for every contender.
type BenchRow struct {
	Metric string             `json:"metric"`
	Unit   string             `json:"unit"`
	Values map[string]float64 `json:"values"` // by contender name; absent: not measured
	// Rounds holds each round's value by contender, for the rows
	// measured in rounds.
	Rounds map[string][]float64 `json:"rounds,omitempty"`
}

// Goal is a ratio the broker must reach against a reference.
type Goal struct {
	Name   string  `json:"name"`
	Metric string  `json:"metric"`
	Of     string  `json:"of"`     // the contender measured
	Versus string  `json:"versus"` // the reference, or "" for an absolute goal
	Value  float64 `json:"value"`  // the median of the rounds' ratios, or the value itself
	// PerRound are the ratios of each round: the contenders of a round
	// ran back to back, so its ratio is the least disturbed by noise.
	PerRound []float64 `json:"per_round,omitempty"`
	Want     string    `json:"want"` // ">= 0.90", "<= 40960"
	Met      bool      `json:"met"`
}

// Row returns the row of a metric, or nil.
func (b *Bench) Row(metric string) *BenchRow {
	for i := range b.Rows {
		if b.Rows[i].Metric == metric {
			return &b.Rows[i]
		}
	}
	return nil
}
