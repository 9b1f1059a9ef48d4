package report

import "time"

// SchemaVersion names the layout of Report; it changes when a field
// changes meaning or goes away (adding one does not change it).
const SchemaVersion = "fleetgate.firmware-sim/v1"

// Report is everything one simulator run measured. Times are UTC,
// latencies in milliseconds, memory in bytes. Optional parts are nil when
// the scenario did not include them.
type Report struct {
	Schema   string    `json:"schema"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Seconds  float64   `json:"seconds"`
	Scenario Scenario  `json:"scenario"`
	Host     Host      `json:"host"`
	Server   Server    `json:"server"`
	Devices  Devices   `json:"devices"`

	Enrollment   Summary          `json:"enrollment"`    // Run start to certificate
	TLSHandshake Summary          `json:"tls_handshake"` // TCP connect + TLS handshake, every attempt that completed it
	Connect      Summary          `json:"connect"`       // CONNECT written to CONNACK read
	ConnectRate  Rate             `json:"connects_per_second"`
	Messages     Messages         `json:"messages"`
	EndToEnd     Summary          `json:"end_to_end"` // Publish call to delivery back to the device
	Errors       map[string]int64 `json:"errors"`
	Memory       Memory           `json:"memory"`

	Rotation   *Rotation   `json:"rotation,omitempty"`
	Storm      *Storm      `json:"storm,omitempty"`
	Revocation *Revocation `json:"revocation,omitempty"`

	Checks     []Check             `json:"checks"`
	Timeline   []Event             `json:"timeline"`
	Series     map[string][]int64  `json:"series"`     // per-second counts: connects, disconnects, sent, received
	Histograms map[string][]Bucket `json:"histograms"` // tls_handshake, connect, end_to_end
	Bench      *Bench              `json:"bench,omitempty"`
	Cluster    *Cluster            `json:"cluster,omitempty"`

	// Procs is one row per simulator process of a run split over several
	// (see Merge).
	Procs []Proc `json:"procs,omitempty"`
	// Samples are the kept latency values behind the summaries, by the
	// Sample* keys, written only when asked for (a simulator process of a
	// split run writes them so the summaries can be merged exactly).
	Samples map[string]SampleData `json:"samples,omitempty"`
}

// Keys of Report.Samples.
const (
	SampleEnrollment   = "enrollment"
	SampleTLSHandshake = "tls_handshake"
	SampleConnect      = "connect"
	SampleEndToEnd     = "end_to_end"
	SampleRotation     = "rotation"
	SampleRevokeDelay  = "revocation_delay"
)

// Proc is one simulator process of a split run: its devices and its
// memory, resident (VmRSS) before the ramp and with its devices
// connected, and the most it ever held (the kernel's maxrss).
type Proc struct {
	Index        int     `json:"index"`
	PID          int     `json:"pid"`
	Devices      int     `json:"devices"`
	Connected    int     `json:"connected"`
	RSSBaseline  uint64  `json:"rss_baseline"`
	RSSConnected uint64  `json:"rss_connected"`
	MaxRSS       uint64  `json:"max_rss"`
	PerDevice    float64 `json:"bytes_per_device"`
}

// Scenario echoes the knobs of the run.
type Scenario struct {
	Devices         int     `json:"devices"`
	TPMDevices      int     `json:"tpm_devices"`
	IDPrefix        string  `json:"id_prefix"`
	ConnectRate     float64 `json:"connect_rate"` // devices started per second at full ramp
	RampSeconds     float64 `json:"ramp_seconds"`
	MaxInflight     int     `json:"max_inflight"` // devices enrolling or connecting at once
	PublishInterval float64 `json:"publish_interval_seconds"`
	QoS             byte    `json:"qos"`
	PayloadBytes    int     `json:"payload_bytes"`
	DurationSeconds float64 `json:"duration_seconds"` // steady phase
	Storm           bool    `json:"storm"`
	Rotate          int     `json:"rotate"`
	RevokeShare     float64 `json:"revoke_share"`
	SourceAddrs     int     `json:"source_addrs"`
}

// Host describes the machine and the limits in force.
type Host struct {
	CPUs        int      `json:"cpus"`
	GoVersion   string   `json:"go_version"`
	NoFileSoft  uint64   `json:"nofile_soft"` // after raising it
	NoFileHard  uint64   `json:"nofile_hard"`
	SourceAddrs []string `json:"source_addrs"`
}

// Server says what was driven.
type Server struct {
	StartedBySim bool   `json:"started_by_sim"`
	Broker       string `json:"broker"`
	API          string `json:"api"`
	PID          int    `json:"pid,omitempty"`
}

// Devices counts devices by outcome.
type Devices struct {
	Requested     int `json:"requested"`
	Enrolled      int `json:"enrolled"`
	TPMEnrolled   int `json:"tpm_enrolled"`
	Connected     int `json:"connected"`      // reached a first session
	ConnectedPeak int `json:"connected_peak"` // sessions up at once, at most
	Failed        int `json:"failed"`         // Run ended with an error other than a revocation
}

// Rate is a connect rate.
type Rate struct {
	// Ramp is first sessions over the time from the first device's start
	// to the last device's first session.
	Ramp float64 `json:"ramp"`
	// PeakSecond is the most sessions established within one second.
	PeakSecond int64 `json:"peak_second"`
}

// Messages counts publishes.
type Messages struct {
	Published         int64   `json:"published"` // Publish calls accepted
	Acknowledged      int64   `json:"acknowledged"`
	Received          int64   `json:"received"`
	SentPerSecond     float64 `json:"sent_per_second"`
	ReceivedPerSecond float64 `json:"received_per_second"`
	QueueFull         int64   `json:"queue_full"` // Publish refused: the device's queue was full
}

// Memory is resident memory (VmRSS) before the devices and with all of
// them connected, and the difference per connected device.
type Memory struct {
	SimBaseline     uint64  `json:"sim_rss_baseline"`
	SimConnected    uint64  `json:"sim_rss_connected"`
	SimPerDevice    float64 `json:"sim_bytes_per_device"`
	BrokerSource    string  `json:"broker_source"` // "proc" (pid), "metrics" (ops endpoint) or "" (unknown)
	BrokerBaseline  uint64  `json:"broker_rss_baseline"`
	BrokerConnected uint64  `json:"broker_rss_connected"`
	BrokerPerDevice float64 `json:"broker_bytes_per_device"`
	// Sim is the simulator's Go runtime at the same two readings (after
	// a collection): where its resident memory per device goes.
	Sim *RuntimeMemory `json:"sim_runtime,omitempty"`
}

// RuntimeMemory is a Go process's live heap, goroutine stacks and
// goroutines before the devices and with all of them connected, from
// runtime/metrics after a collection, and the difference per device.
type RuntimeMemory struct {
	HeapBaseline        uint64  `json:"heap_baseline"`
	HeapConnected       uint64  `json:"heap_connected"`
	StackBaseline       uint64  `json:"stack_baseline"`
	StackConnected      uint64  `json:"stack_connected"`
	GoroutinesBaseline  uint64  `json:"goroutines_baseline"`
	GoroutinesConnected uint64  `json:"goroutines_connected"`
	HeapPerDevice       float64 `json:"heap_bytes_per_device"`
	StackPerDevice      float64 `json:"stack_bytes_per_device"`
	GoroutinesPerDevice float64 `json:"goroutines_per_device"`
	// CPUSeconds is the process's CPU time over the whole run (user and
	// system, from the kernel), GCCPUSeconds the collector's as the Go
	// runtime estimates it (its idle-time workers included), and GCCycles
	// the collections: what the collector setting (GOGC, GOMEMLIMIT)
	// costs.
	CPUSeconds   float64 `json:"cpu_seconds"`
	GCCPUSeconds float64 `json:"gc_cpu_seconds"`
	GCCycles     uint64  `json:"gc_cycles"`
	// MaxRSS is the process's peak resident memory over the run: the
	// live memory plus the garbage between collections at its worst.
	MaxRSS uint64 `json:"max_rss"`
}

// PerDevice fills the per-device figures over n devices.
func (m *RuntimeMemory) PerDevice(n int64) {
	if n <= 0 {
		return
	}
	per := func(after, before uint64) float64 {
		if after < before {
			return 0
		}
		return float64(after-before) / float64(n)
	}
	m.HeapPerDevice = per(m.HeapConnected, m.HeapBaseline)
	m.StackPerDevice = per(m.StackConnected, m.StackBaseline)
	m.GoroutinesPerDevice = per(m.GoroutinesConnected, m.GoroutinesBaseline)
}

// Rotation is the result of rotating some devices under load.
type Rotation struct {
	Requested   int     `json:"requested"`
	Rotated     int     `json:"rotated"`
	Failed      int     `json:"failed"`
	Reconnected int     `json:"reconnected"` // back in a session with the new serial
	Latency     Summary `json:"latency"`     // Rotate call
}

// Storm is the result of dropping every connection at once.
type Storm struct {
	Dropped       int     `json:"dropped"`        // connections closed
	Expected      int     `json:"expected"`       // devices in a session at the time
	Reconnected   int     `json:"reconnected"`    // of those, back in a session
	Seconds       float64 `json:"seconds_to_all"` // until every dropped device was back, or the wait ended
	Attempts      int64   `json:"attempts"`
	FailedAttempt int64   `json:"failed_attempts"`
}

// Revocation is the result of revoking a share of the devices mid-run.
type Revocation struct {
	Revoked int `json:"revoked"`
	// UpAtRevocation counts the revoked devices in a session as the
	// revocation began: each of those sessions must end.
	UpAtRevocation int `json:"up_at_revocation"`
	Dropped        int `json:"dropped"` // revoked devices whose session ended after the revocation
	// StillUp counts revoked devices still in a session at the end of the
	// run, before the devices stop: must be 0.
	StillUp int `json:"still_up"`
	// Delay is from the start of the revoke call to the device seeing its
	// session end.
	Delay Summary `json:"delay"`
	// ReconnectedAfter counts sessions of revoked devices after their
	// revocation: must be 0.
	ReconnectedAfter int `json:"reconnected_after"`
	// ReconnectedDuring counts, for a revocation made outside the
	// simulator, sessions of revoked devices that began while its command
	// ran, not counted in ReconnectedAfter: a bulk command writes its
	// devices part by part, and a device is admitted until its part is
	// written. BackUnixNano are the wall-clock times such sessions began,
	// for the caller that knows when the command returned.
	ReconnectedDuring int     `json:"reconnected_during,omitempty"`
	BackUnixNano      []int64 `json:"back_unix_ns,omitempty"`
	// AgentStopped counts agents whose Run ended with ErrRevoked.
	AgentStopped int `json:"agent_stopped"`
	// ProbesRefused counts direct connects with the revoked credentials,
	// at the end of the run, that the broker refused.
	// ProbesAdmitted counts those the broker let in: must be 0. A probe
	// neither refused nor admitted got no answer in time.
	ProbesRefused  int `json:"probes_refused"`
	ProbesAdmitted int `json:"probes_admitted"`
	Probes         int `json:"probes"`
	// DropsUnixNano are the wall-clock times of the drops, for a
	// revocation made outside the simulator (see Cluster): when the
	// device's kernel received the broker's goodbye (TCP_INFO), else when
	// the simulator noticed. NoticedUnixNano are when it noticed, in the
	// same order: later on a host whose CPU the simulators wait for.
	DropsUnixNano   []int64 `json:"drops_unix_ns,omitempty"`
	NoticedUnixNano []int64 `json:"noticed_unix_ns,omitempty"`
}

// Check is one expectation of the scenario and whether it held.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Event marks a moment of the run on the charts.
type Event struct {
	Seconds float64 `json:"t"`
	Name    string  `json:"name"`
}

// Failed returns the checks that did not hold.
func (r *Report) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}
