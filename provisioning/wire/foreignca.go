package wire

import "time"

// How a foreign CA's devices get their IDs (ForeignCARequest.IDFrom).
const (
	IDFromCN          = "cn"          // the certificate's subject common name
	IDFromSANDNS      = "san-dns"     // its first DNS SAN
	IDFromSANURI      = "san-uri"     // its first URI SAN, without the scheme
	IDFromFingerprint = "fingerprint" // the hex SHA-256 of its DER
)

// ForeignCARequest is the body of PUT PathForeignCA: a device CA we do not
// run (a secure element vendor's, a contract manufacturer's) whose
// certificates the broker admits for one group. The answer is the
// ForeignCA as stored.
type ForeignCARequest struct {
	Group string `json:"group"`
	// Certs is PEM: the root first, then the only intermediates allowed
	// to issue device certificates.
	Certs  string `json:"certs"`
	IDFrom string `json:"id_from"`
	// FirstConnect admits any certificate of the CA on first connect;
	// otherwise only those on Allowed (lower-case hex fingerprints or
	// serials).
	FirstConnect bool     `json:"first_connect,omitempty"`
	Allowed      []string `json:"allowed,omitempty"`
}

// ForeignCA is a registered foreign device CA.
type ForeignCA struct {
	Name         string    `json:"name"`
	Group        string    `json:"group"`
	IDFrom       string    `json:"id_from"`
	FirstConnect bool      `json:"first_connect"`
	Allowed      int       `json:"allowed"`  // allow-list entries
	Subjects     []string  `json:"subjects"` // of Certs, root first
	CreatedAt    time.Time `json:"created_at"`
}

// ForeignCAList is the answer of GET PathForeignCAs, sorted by name.
type ForeignCAList struct {
	ForeignCAs []ForeignCA `json:"foreign_cas"`
}
