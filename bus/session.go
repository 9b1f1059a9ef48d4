package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// SessionBucket is the JetStream key-value bucket holding one record per
// persistent MQTT session, keyed by the escaped client ID.
const SessionBucket = "FLEETGATE_SESSIONS"

// Errors of the session records.
var (
	// ErrNoSession: no record for that client.
	ErrNoSession = errors.New("no session record")
	// ErrSessionMoved: the record changed since it was read, so another
	// broker holds the session now; this one must stop writing it.
	ErrSessionMoved = errors.New("session record changed elsewhere")
)

// SessionSub is one subscription of a persistent session.
type SessionSub struct {
	Filter            string `json:"f"`
	QoS               byte   `json:"q"`
	NoLocal           bool   `json:"nl,omitempty"`
	RetainAsPublished bool   `json:"rap,omitempty"`
	RetainHandling    byte   `json:"rh,omitempty"`
	Identifier        int    `json:"id,omitempty"`
}

// SessionRecord is what moves with a device between brokers: its
// subscriptions and the stream sequence up to which it has acknowledged
// every durable message meant for it (its cursor), and the broker that
// holds it.
type SessionRecord struct {
	Subs   []SessionSub `json:"subs"`
	Cursor uint64       `json:"cursor"`
	Owner  string       `json:"owner"`
}

// ensureBucket creates the session bucket (records expire after the
// retention, as the messages do), or opens the one that exists.
func (c *Conn) ensureBucket(ctx context.Context) (jetstream.KeyValue, error) {
	var kv jetstream.KeyValue
	err := withReplicas(c.replicas, func(r int) error {
		var err error
		kv, err = c.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: SessionBucket, TTL: c.retention,
			Replicas: r, Storage: jetstream.FileStorage, History: 1})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = c.js.KeyValue(ctx, SessionBucket)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bus bucket %s: %w", SessionBucket, err)
	}
	return kv, nil
}

// LoadSession returns a client's record and its revision, or ErrNoSession.
func (c *Conn) LoadSession(ctx context.Context, clientID string) (SessionRecord, uint64, error) {
	var rec SessionRecord
	if err := c.ready(ctx); err != nil {
		return rec, 0, err
	}
	e, err := c.sessions.Get(ctx, EscapeLevel(clientID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return rec, 0, ErrNoSession
	}
	if err != nil {
		return rec, 0, fmt.Errorf("load session %s: %w", clientID, err)
	}
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return rec, 0, fmt.Errorf("load session %s: %w", clientID, err)
	}
	return rec, e.Revision(), nil
}

// SaveSession writes a client's record if its revision is still rev (0:
// if there is none), and returns the new revision; ErrSessionMoved when
// another writer came first.
func (c *Conn) SaveSession(ctx context.Context, clientID string, rec SessionRecord, rev uint64) (uint64, error) {
	if err := c.ready(ctx); err != nil {
		return 0, err
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return 0, err
	}
	key := EscapeLevel(clientID)
	var n uint64
	if rev == 0 {
		n, err = c.sessions.Create(ctx, key, b)
	} else {
		n, err = c.sessions.Update(ctx, key, b, rev)
	}
	var api *jetstream.APIError
	if errors.Is(err, jetstream.ErrKeyExists) || (errors.As(err, &api) && (api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)) {
		return 0, fmt.Errorf("%w: %s", ErrSessionMoved, clientID)
	}
	if err != nil {
		return 0, fmt.Errorf("save session %s: %w", clientID, err)
	}
	return n, nil
}

// DeleteSession removes a client's record, so nothing is replayed to it.
// It reads before it writes: a purge is a message stored in the bucket's
// stream even when there is no record, and every broker deletes the record
// of each revoked device (the one that held it may be gone), so a bulk
// revocation of 10,000 devices with clean sessions over six brokers would
// store 60,000 purges in the stream that QoS 1 messages wait on.
func (c *Conn) DeleteSession(ctx context.Context, clientID string) error {
	if err := c.ready(ctx); err != nil {
		return err
	}
	key := EscapeLevel(clientID)
	if _, err := c.sessions.Get(ctx, key); errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil // no record, or already deleted
	} else if err != nil {
		return fmt.Errorf("delete session %s: %w", clientID, err)
	}
	if err := c.sessions.Purge(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("delete session %s: %w", clientID, err)
	}
	return nil
}
