package store

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/fleetgate/fleetgate/store/kv"
)

// Token is the stored form of a one-time enrollment token. The registry
// keeps only the token's hash: a copy of the file does not enroll devices.
type Token struct {
	Hash      string    `json:"hash"` // HashToken of the plaintext
	Group     string    `json:"group"`
	ExpiresAt time.Time `json:"expires_at"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	UsedAt    time.Time `json:"used_at,omitzero"`
	UsedBy    string    `json:"used_by,omitempty"` // ID of the device it enrolled
	// Serial is the certificate the enrollment issued, so that a device
	// whose answer was lost gets it again (FindTokenRetry).
	Serial string `json:"serial,omitempty"`
}

// TokenPrefix starts every plaintext token, so that one pasted into the
// wrong place (a log, a ticket) is easy to recognise and to search for.
const TokenPrefix = "fgt_"

// MaxTokens is the most tokens one CreateTokens call makes.
const MaxTokens = 100000

// HashToken returns the lower-case hex SHA-256 of a plaintext token, the
// key under which the registry stores it. The API hashes what a device
// presents with it.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateTokens makes n one-time enrollment tokens for a group, valid for
// ttl, and returns their plaintexts: "fgt_" and 32 random bytes in
// unpadded base64url. Only their hashes are stored, in one transaction
// with one "token.create" audit event (on etcd, in parts that fit its
// transaction limit, one event each). The group must exist (ErrNotFound)
// and allow tokens (ErrPolicy); n must be 1 to 100000 and ttl positive
// (ErrInvalid).
func (db *DB) CreateTokens(ctx context.Context, group string, n int, ttl time.Duration, by Actor) ([]string, error) {
	if n < 1 || n > MaxTokens {
		return nil, fmt.Errorf("%w: token count %d (want 1 to %d)", ErrInvalid, n, MaxTokens)
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("%w: token lifetime %s is not positive", ErrInvalid, ttl)
	}
	plain := make([]string, n)
	hashes := make([]string, n)
	for i := range plain {
		var raw [32]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return nil, fmt.Errorf("create tokens: %w", err)
		}
		plain[i] = TokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
		hashes[i] = HashToken(plain[i])
	}
	// bbolt fills pages best with keys in order.
	slices.Sort(hashes)
	// etcd bounds the operations of one transaction: larger batches are
	// stored in parts, each with its own audit event. Should a part fail,
	// the caller gets no plaintext, so the parts stored are unusable and
	// expire unused.
	per := len(hashes)
	if limit := db.txnLimit(); limit > 0 {
		per = max(1, limit-4)
	}
	var err error
	for start := 0; start < len(hashes) && err == nil; start += per {
		part := hashes[start:min(start+per, len(hashes))]
		err = db.update(ctx, func(tx kv.Tx) ([]Change, error) {
			g, err := getGroup(tx, group)
			if err != nil {
				return nil, err
			}
			if g.RequireTPM || !g.AllowTokens {
				return nil, fmt.Errorf("%w: group %q does not allow enrollment tokens", ErrPolicy, group)
			}
			now := db.clock()
			b := tx.Bucket(bucketTokens)
			for _, h := range part {
				if b.Get([]byte(h)) != nil { // 2^-256: a broken random source, not bad luck
					return nil, fmt.Errorf("%w: token hash %s", ErrExists, h)
				}
				t := Token{Hash: h, Group: group, ExpiresAt: now.Add(ttl), CreatedAt: now, CreatedBy: by.Name}
				if err := putJSON(b, []byte(h), t); err != nil {
					return nil, err
				}
			}
			detail := fmt.Sprintf("count=%d group=%s ttl=%s", len(part), group, ttl)
			return nil, db.appendAudit(tx, "token.create", group, detail, by)
		})
	}
	if err != nil {
		return nil, err
	}
	db.log.Info("enrollment tokens created", "group", group, "count", n, "ttl", ttl, "actor", by.Name)
	return plain, nil
}

// Tokens returns the tokens of one group, or of every group when group is
// empty, used and unused, sorted by creation time and then by hash.
func (db *DB) Tokens(ctx context.Context, group string) ([]Token, error) {
	out := []Token{}
	err := db.view(ctx, func(tx kv.Tx) error {
		return tx.Bucket(bucketTokens).ForEach(func(k, v []byte) error {
			var t Token
			if err := decode(v, &t); err != nil {
				return fmt.Errorf("token %s: %w", k, err)
			}
			if group == "" || t.Group == group {
				out = append(out, t)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Token) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.Hash, b.Hash))
	})
	return out, nil
}

// getToken reads one token inside tx, or ErrNotFound.
func getToken(tx kv.Tx, hash string) (Token, error) {
	var t Token
	found, err := getJSON(tx.Bucket(bucketTokens), []byte(hash), &t)
	if err != nil {
		return Token{}, err
	}
	if !found {
		return Token{}, fmt.Errorf("%w: enrollment token", ErrNotFound)
	}
	return t, nil
}

// CheckToken reads whether the token with this hash could enroll now, without
// consuming it: ErrNotFound (unknown), ErrReplayed (used), ErrExpired, or
// ErrPolicy (its group no longer admits tokens). The API calls it before it
// spends a serial and signs a certificate; CompleteEnrollment checks again
// in the transaction that consumes the token, which is what counts.
func (db *DB) CheckToken(ctx context.Context, hash string) (Token, error) {
	var tok Token
	err := db.view(ctx, func(tx kv.Tx) error {
		var err error
		if tok, err = getToken(tx, hash); err != nil {
			return err
		}
		switch {
		case !tok.UsedAt.IsZero():
			return fmt.Errorf("%w: token was used by device %s", ErrReplayed, tok.UsedBy)
		case !db.clock().Before(tok.ExpiresAt):
			return fmt.Errorf("%w: token expired", ErrExpired)
		}
		return nil
	})
	if err != nil {
		return tok, err
	}
	// The group comes from the local copy on etcd (a broker's CONNECT reads
	// groups there too): a read of the cluster fewer per enrollment, and
	// the transaction judges the group again.
	g, err := db.Group(ctx, tok.Group)
	if err != nil {
		return tok, fmt.Errorf("token's %w", err)
	}
	if g.RequireTPM || !g.AllowTokens {
		return tok, fmt.Errorf("%w: group %s does not admit token enrollment", ErrPolicy, g.Name)
	}
	return tok, nil
}
