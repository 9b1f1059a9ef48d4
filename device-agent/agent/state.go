package agent

import (
	"bytes"
	"slices"
	"sync"
	"time"
)

// State is what the agent keeps across restarts. Key material is stored
// as the key source produces it: a PKCS#8 DER for software keys, a TPM
// blob (public area and private part wrapped by this TPM's storage key)
// for TPM keys, which is no secret.
type State struct {
	DeviceID  string // the device the state belongs to
	KeySource string // KeyTPM or KeySoftware
	Key       []byte // the current certificate's private key
	Chain     []byte // PEM: leaf, then the device CA
	AK        []byte // TPM: the attestation key the server remembers
	// TokenHash is the hex SHA-256 of the last token enrolled with, so a
	// used token is never offered twice.
	TokenHash string
	// Pending is a rotation key made and saved but not yet certified. A
	// rotation whose reply was lost is retried with it, so the server
	// answers with the certificate it already issued instead of a second.
	Pending *Pending
	// TrustBundle is the last verified trust bundle (wire.TrustBundle
	// JSON): its roots replace the configured CA for verifying the broker
	// and the API. Nil until the first one is accepted.
	TrustBundle []byte
}

// Pending is a rotation in progress.
type Pending struct {
	Key     []byte    // the new key, encoded like State.Key
	For     string    // serial of the certificate being rotated
	Created time.Time // when the key was made
}

// Clone returns a deep copy, so a store never shares slices with the agent.
func (s *State) Clone() *State {
	if s == nil {
		return nil
	}
	c := *s
	c.Key, c.Chain, c.AK = bytes.Clone(s.Key), bytes.Clone(s.Chain), bytes.Clone(s.AK)
	c.TrustBundle = bytes.Clone(s.TrustBundle)
	if s.Pending != nil {
		p := *s.Pending
		p.Key = bytes.Clone(s.Pending.Key)
		c.Pending = &p
	}
	return &c
}

// equal reports whether two states hold the same data.
func (s *State) equal(o *State) bool {
	if s == nil || o == nil {
		return s == o
	}
	if (s.Pending == nil) != (o.Pending == nil) {
		return false
	}
	if s.Pending != nil && (!bytes.Equal(s.Pending.Key, o.Pending.Key) || s.Pending.For != o.Pending.For ||
		!s.Pending.Created.Equal(o.Pending.Created)) {
		return false
	}
	return s.DeviceID == o.DeviceID && s.KeySource == o.KeySource && s.TokenHash == o.TokenHash &&
		slices.Equal(s.Key, o.Key) && slices.Equal(s.Chain, o.Chain) && slices.Equal(s.AK, o.AK) &&
		slices.Equal(s.TrustBundle, o.TrustBundle)
}

// StateStore keeps the agent's State. Save must be atomic: after a crash
// or power cut at any moment, Load returns either the state before the
// Save or the one after it, never a mix.
type StateStore interface {
	// Load returns the saved state, or nil and no error if there is none.
	Load() (*State, error)
	// Save replaces the saved state.
	Save(*State) error
}

// MemoryState is a StateStore in memory, for simulated devices and tests:
// it survives the agent, not the process. It keeps a copy of what it is
// given and hands out copies, unless NoCopy is set.
type MemoryState struct {
	// NoCopy keeps the State given to Save itself and returns it from
	// Load, instead of copies: for many agents in one process (the fleet
	// simulator), where the copy doubles the memory of every device's
	// state. The agent never modifies a State it saved or loaded (it
	// changes a copy and saves that); whoever sets NoCopy must not either.
	NoCopy bool

	mu sync.Mutex
	s  *State
}

// Load implements StateStore.
func (m *MemoryState) Load() (*State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.NoCopy {
		return m.s, nil
	}
	return m.s.Clone(), nil
}

// Save implements StateStore.
func (m *MemoryState) Save(s *State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.NoCopy {
		m.s = s
		return nil
	}
	m.s = s.Clone()
	return nil
}
