package wire

import "time"

// Routes of the refusal diagnostics (operator, read-only).
const (
	// PathDeviceWhy answers "why can't this device connect?" (Diagnosis).
	PathDeviceWhy = "/v1/devices/{id}/why"
	// PathRefusals lists recorded refusals; ?unregistered=true keeps
	// those of certificates naming no registered device, &limit=N the
	// newest N (RefusalList).
	PathRefusals = "/v1/refusals"
)

// Diagnosis is the answer of GET /v1/devices/{id}/why: the device's state
// and the refusals the brokers recorded for it, in plain words.
type Diagnosis struct {
	DeviceID string `json:"device_id"`
	// Status is the device's registry status (active, suspended,
	// revoked), or "unregistered" when the registry does not know it.
	Status string `json:"status"`
	// Summary says in one sentence why the device cannot connect (or that
	// nothing is known against it); NextStep what to do about it.
	Summary  string `json:"summary"`
	NextStep string `json:"next_step"`
	// Refusals are the recorded refusals, newest first; Dropped counts
	// older ones the log let go (it keeps a few per device).
	Refusals []Refusal `json:"refusals"`
	Dropped  int       `json:"dropped"`
}

// Refusal is one kind of refused connection as a broker saw it: Count
// refusals for the same check, the first at First, the latest at Time
// with the latest one's details. The device itself only ever heard "not
// authorized".
type Refusal struct {
	Time   time.Time `json:"time"`
	First  time.Time `json:"first"`
	Count  int       `json:"count"`
	Broker string    `json:"broker"`
	Remote string    `json:"remote"`

	// DeviceID is the identity the certificate names (unverified when the
	// TLS handshake refused it); ClaimedClientID the MQTT client ID sent.
	DeviceID        string `json:"device_id,omitempty"`
	ClaimedClientID string `json:"claimed_client_id,omitempty"`

	Serial      string    `json:"serial,omitempty"`
	Fingerprint string    `json:"fingerprint,omitempty"`
	Issuer      string    `json:"issuer,omitempty"`
	Subject     string    `json:"subject,omitempty"`
	NotBefore   time.Time `json:"not_before,omitzero"`
	NotAfter    time.Time `json:"not_after,omitzero"`

	// Check is the stable name of the check that failed (expired,
	// client_id_mismatch, unknown_ca, device_suspended, ...); Detail says
	// it in plain words.
	Check  string `json:"check"`
	Detail string `json:"detail"`
}

// RefusalList is the answer of GET /v1/refusals.
type RefusalList struct {
	Refusals []Refusal `json:"refusals"`
	// Subjects is the number of devices and certificates with entries in
	// the whole log; Dropped counts refusals it let go (fleet-wide bound,
	// or a broker's full buffer).
	Subjects int `json:"subjects"`
	Dropped  int `json:"dropped"`
}
