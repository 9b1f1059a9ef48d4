package wire

import "time"

// GroupRequest is the body of PUT PathGroup: the group's enrollment policy.
// The answer is the Group as stored.
type GroupRequest struct {
	// RequireTPM admits only TPM-attested certificates of the group's
	// devices at the broker.
	RequireTPM bool `json:"require_tpm"`
	// AllowTokens lets one-time tokens with software keys enroll devices
	// into the group. It excludes RequireTPM.
	AllowTokens bool `json:"allow_tokens"`
}

// GroupList is the answer of GET PathGroups, sorted by name.
type GroupList struct {
	Groups []Group `json:"groups"`
}

// CreateTokensRequest is the body of POST PathTokens.
type CreateTokensRequest struct {
	Group string `json:"group"`
	// Count is how many tokens to make; 0 means one.
	Count int `json:"count,omitempty"`
	// TTL is a Go duration such as "24h"; empty means the server's
	// default.
	TTL string `json:"ttl,omitempty"`
}

// CreatedTokens is the answer of POST PathTokens. The plaintext tokens
// exist only in this answer: the registry keeps their hashes.
type CreatedTokens struct {
	Group     string    `json:"group"`
	Tokens    []string  `json:"tokens"`
	ExpiresAt time.Time `json:"expires_at"` // no later than the tokens' real expiry
}

// TokenList is the answer of GET PathTokens?group=: hashes and use, never
// plaintexts.
type TokenList struct {
	Tokens []Token `json:"tokens"`
}

// Content types of POST PathDevicesImport.
const (
	ImportCSV   = "text/csv"             // header id,group,ek_cert,ek_hash,metadata
	ImportJSONL = "application/x-ndjson" // one JSON object per line, ImportRow
)

// ImportRow is one device of a JSON-lines import, and the columns of a CSV
// import. EKCert is a DER certificate in base64 or PEM; EKHash the hex
// SHA-256 of the EK's SubjectPublicKeyInfo. With EKCert the server
// verifies the certificate against its manufacturer roots and records the
// hash of its key. In CSV, metadata is written k=v;k=v.
type ImportRow struct {
	ID       string            `json:"id"`
	Group    string            `json:"group,omitempty"`
	EKCert   string            `json:"ek_cert,omitempty"`
	EKHash   string            `json:"ek_hash,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// ImportResult is the answer of POST PathDevicesImport. Importing the same
// file again creates nothing and counts every row unchanged.
type ImportResult struct {
	Created   int `json:"created"`
	Unchanged int `json:"unchanged"`
}

// ACLRequest is the body of PUT PathGroupACL and PUT PathDeviceGrants: the
// whole new list of each kind (an absent list is empty). On a group the
// filters are templates that may use {id}, {group} and {meta.KEY}; on a
// device they are plain topic filters. The answer is the Group or Device
// as stored. Brokers apply the change to connected sessions at once.
type ACLRequest struct {
	Publish   []string `json:"publish"`
	Subscribe []string `json:"subscribe"`
}

// ProfileRequest is the body of PUT PathDeviceProfile: the device's whole
// new group ("" for none) and metadata (absent: none). The answer is the
// Device as stored. Brokers re-judge its sessions at once: its group's
// templates and limits, and {group} and {meta.KEY} in them.
type ProfileRequest struct {
	Group    string            `json:"group"`
	Metadata map[string]string `json:"metadata"`
}
