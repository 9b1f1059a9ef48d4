package revocation

import (
	"crypto"
	"sync"
	"time"
)

// maxCached bounds the OCSP cache: requests for serials that were never
// issued must not grow it without end. When full it starts again empty.
const maxCached = 1 << 18

// cacheKey names one answer: the serial, the issuing intermediate and the
// hash of the request's CertID (the answer echoes it).
type cacheKey struct {
	serial string // lower-case hex, as the registry keeps it
	of     issuerHash
}

// issuerHash tells apart the answers about one serial.
type issuerHash struct {
	issuer string // ca.IssuerID
	hash   crypto.Hash
}

// cached is a status read from the registry and, once a request without a
// nonce asked for it, its signed response.
type cached struct {
	st        status
	der       []byte    // nil until signed without a nonce
	refreshAt time.Time // after this the entry is read and signed again
}

// ocspCache holds answers until the change feed says they went stale. Its
// generation grows at every drop: an answer read from the registry before
// a drop is not stored after it, so a revocation racing with a lookup
// never leaves a "good" behind.
type ocspCache struct {
	mu      sync.Mutex
	gen     uint64
	entries map[string]map[issuerHash]cached // by serial
	n       int
}

func newOCSPCache() *ocspCache { return &ocspCache{entries: make(map[string]map[issuerHash]cached)} }

// get returns a fresh entry and the generation to store a new one under.
func (c *ocspCache) get(k cacheKey, now time.Time) (cached, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k.serial][k.of]
	if ok && !now.Before(e.refreshAt) {
		ok = false
	}
	return e, ok, c.gen
}

// put stores e unless something was dropped since generation gen.
func (c *ocspCache) put(k cacheKey, e cached, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.n >= maxCached {
		clear(c.entries)
		c.n = 0
	}
	m := c.entries[k.serial]
	if m == nil {
		m = make(map[issuerHash]cached, 1)
		c.entries[k.serial] = m
	}
	if _, ok := m[k.of]; !ok {
		c.n++
	}
	m[k.of] = e
}

// dropSerial forgets every answer about serial.
func (c *ocspCache) dropSerial(serial string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.n -= len(c.entries[serial])
	delete(c.entries, serial)
}

// dropAll forgets every answer.
func (c *ocspCache) dropAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.entries)
	c.n = 0
}
