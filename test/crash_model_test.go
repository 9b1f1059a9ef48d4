package test

import (
	"crypto/tls"
	"math/big"
	"math/rand/v2"
	"sync"
)

// crashModel is what the crash test's clients were told by the server:
// only acknowledged outcomes (an answer with a success status) go in, and
// the registry must hold every one of them after any crash. What was sent
// but never answered may or may not have happened; the registry checks
// only that it happened completely or not at all.
type crashModel struct {
	mu sync.Mutex

	devices    map[string]*crashDevice // acknowledged enrollments, by device ID
	active     []string                // IDs of enrolled devices not known to be revoked
	serials    map[string]crashCert    // every acknowledged certificate, by serial
	revokedDev map[string]bool         // acknowledged device revocations
	revokedCrt map[string]bool         // acknowledged certificate revocations, by serial

	tokens []string // unused tokens of the current server run
	nextID int

	// counts for the report
	enrollOK, enrollLost, enrollRefused             int
	rotateOK, rotateLost, rotateRefused             int
	revokeOK, revokeLost, revokeRefused             int
	certRevokeOK, certRevokeLost, certRevokeRefused int
}

// crashDevice is an enrolled device and the certificate it uses now.
type crashDevice struct {
	id   string
	cert tls.Certificate
}

// crashCert is an acknowledged certificate.
type crashCert struct {
	deviceID, fingerprint string
	counter               *big.Int // the serial's high 64 bits: the registry's counter
}

func newCrashModel() *crashModel {
	return &crashModel{
		devices:    map[string]*crashDevice{},
		serials:    map[string]crashCert{},
		revokedDev: map[string]bool{},
		revokedCrt: map[string]bool{},
	}
}

// takeToken hands out an unused token and a fresh device ID, or ok false
// when the run's tokens are spent.
func (m *crashModel) takeToken() (token, id string, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.tokens) == 0 {
		return "", "", false
	}
	token, m.tokens = m.tokens[len(m.tokens)-1], m.tokens[:len(m.tokens)-1]
	m.nextID++
	return token, "crash-" + itoa(m.nextID), true
}

// pick returns a random enrolled device not known to be revoked.
func (m *crashModel) pick(r *rand.Rand) (crashDevice, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.active) == 0 {
		return crashDevice{}, false
	}
	return *m.devices[m.active[r.IntN(len(m.active))]], true
}

// issued records an acknowledged certificate, the device's current one.
func (m *crashModel) issued(id string, cert tls.Certificate, serial, fingerprint string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.devices[id]
	if !ok {
		d = &crashDevice{id: id}
		m.devices[id] = d
		m.active = append(m.active, id)
	}
	d.cert = cert
	m.serials[serial] = crashCert{deviceID: id, fingerprint: fingerprint, counter: serialCounter(serial)}
}

// revoked records an acknowledged device revocation.
func (m *crashModel) revoked(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.revokedDev[id] = true
	for i, a := range m.active {
		if a == id {
			m.active = append(m.active[:i], m.active[i+1:]...)
			break
		}
	}
}

// serialCounter is the counter part of a registry serial (its high 64
// bits); nil if the serial is not hex.
func serialCounter(serial string) *big.Int {
	n, ok := new(big.Int).SetString(serial, 16)
	if !ok {
		return nil
	}
	return n.Rsh(n, 64)
}
