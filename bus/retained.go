package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// RetainedBucket is the JetStream key-value bucket that holds the
// cluster's retained messages, one key per topic (the topic's Subject).
const RetainedBucket = "fleetgate_retained"

// ErrDisconnected marks an operation refused at once because the
// connection to NATS is down; nothing waits for it to come back.
var ErrDisconnected = errors.New("bus unreachable")

// ErrRetained marks a retained message that cannot be stored (an invalid
// topic or QoS).
var ErrRetained = errors.New("invalid retained message")

// retainedReplicas bounds the bucket's replicas; a smaller cluster gets
// one per server.
const retainedReplicas = 3

// RetainedUpdate is one change of the cluster's retained messages: a new
// message for Topic, or, when Payload is empty, the topic's retained
// message cleared.
type RetainedUpdate struct {
	Topic    string
	QoS      byte
	Payload  []byte
	Revision uint64 // the bucket's revision: later changes have higher ones
}

// Retained is the cluster's retained messages, kept in a JetStream
// key-value bucket over a Conn. The bucket is created on first use.
type Retained struct {
	c  *Conn
	mu sync.Mutex
	kv jetstream.KeyValue
}

// NewRetained returns the retained messages reached over c.
func NewRetained(c *Conn) *Retained { return &Retained{c: c} }

// bucket opens the retained bucket, creating it on first use. It fails
// at once while the connection is down, so that a local PUBLISH never
// waits for NATS.
func (r *Retained) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	c := r.c
	if !c.nc.IsConnected() {
		return nil, ErrDisconnected
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.kv != nil {
		return r.kv, nil
	}
	js, err := jetstream.New(c.nc)
	if err != nil {
		return nil, err
	}
	if kv, err := js.KeyValue(ctx, RetainedBucket); err == nil {
		r.kv = kv
		return kv, nil
	}
	// As many replicas as the cluster can place, up to three: a single
	// server refuses more than one, a two-node cluster more than two.
	cfg := jetstream.KeyValueConfig{Bucket: RetainedBucket, History: 1, Storage: jetstream.FileStorage,
		Description: "fleetgate retained MQTT messages, key = topic subject, value = QoS byte + payload"}
	for cfg.Replicas = retainedReplicas; cfg.Replicas >= 1; cfg.Replicas-- {
		kv, err := js.CreateKeyValue(ctx, cfg)
		if err == nil {
			c.log.Info("retained bucket created", "bucket", RetainedBucket, "replicas", cfg.Replicas)
			r.kv = kv
			return kv, nil
		}
		if !tooFewPeers(err) {
			break
		}
		c.log.Debug("retained bucket not created", "replicas", cfg.Replicas, "error", err)
	}
	// Another broker may have created it in the meantime.
	kv, err := js.KeyValue(ctx, RetainedBucket)
	if err != nil {
		return nil, fmt.Errorf("retained bucket %s: %w", RetainedBucket, err)
	}
	r.kv = kv
	return kv, nil
}

// JetStream error codes that mean "fewer servers than replicas" (seen
// from nats-server 2.9 on); any other error, a transient one included,
// must not make a bucket with fewer replicas.
const (
	errCodeNoPlacement          jetstream.ErrorCode = 10005 // no suitable peers for placement
	errCodeReplicasNotClustered jetstream.ErrorCode = 10074 // replicas > 1 not supported in non-clustered mode
)

// tooFewPeers reports whether err refuses a bucket for its replicas.
func tooFewPeers(err error) bool {
	var ae *jetstream.APIError
	return errors.As(err, &ae) && (ae.ErrorCode == errCodeNoPlacement || ae.ErrorCode == errCodeReplicasNotClustered)
}

// Set stores topic's retained message for the whole cluster, or
// clears it when payload is empty. The last change per topic, by bucket
// revision, wins on every broker.
func (r *Retained) Set(ctx context.Context, topic string, qos byte, payload []byte) error {
	if !ValidTopic(topic) || qos > 2 {
		return fmt.Errorf("%w: topic %q, QoS %d", ErrRetained, topic, qos)
	}
	kv, err := r.bucket(ctx)
	if err != nil {
		return err
	}
	key := Subject(topic)
	if len(payload) == 0 {
		return kv.Delete(ctx, key)
	}
	_, err = kv.Put(ctx, key, append([]byte{qos}, payload...))
	return err
}
