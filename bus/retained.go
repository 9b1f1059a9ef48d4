package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

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
	cfg := jetstream.KeyValueConfig{Bucket: RetainedBucket, History: 1, Storage: jetstream.FileStorage,
		Description: "fleetgate retained MQTT messages, key = topic subject, value = QoS byte + payload",
		Replicas:    min(retainedReplicas, max(1, len(c.nc.Servers())))}
	kv, err := js.CreateKeyValue(ctx, cfg)
	if err != nil && cfg.Replicas > 1 {
		// A cluster with fewer JetStream servers than it has routes.
		cfg.Replicas = 1
		kv, err = js.CreateKeyValue(ctx, cfg)
	}
	if err != nil {
		// Another broker may have created it in the meantime.
		if kv, err2 := js.KeyValue(ctx, RetainedBucket); err2 == nil {
			r.kv = kv
			return kv, nil
		}
		return nil, fmt.Errorf("retained bucket %s: %w", RetainedBucket, err)
	}
	r.kv = kv
	return kv, nil
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

// retainedRetry is the pause before watching the bucket again after the
// watch could not start or ended.
const retainedRetry = time.Second

// Watch calls fn for every retained message in the bucket and
// then for every change, in revision order, until ctx ends. loaded is
// called once, after the messages present at the first successful watch
// have been passed to fn. While NATS is unreachable it retries; the
// watch's ordered consumer catches up after a reconnect.
func (r *Retained) Watch(ctx context.Context, fn func(RetainedUpdate), loaded func()) {
	var once sync.Once
	for ctx.Err() == nil {
		if err := r.watch(ctx, fn, func() { once.Do(loaded) }); err != nil && ctx.Err() == nil {
			r.c.log.Debug("retained watch", "error", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(retainedRetry):
		}
	}
}

// watchRetained runs one watch until it ends.
func (r *Retained) watch(ctx context.Context, fn func(RetainedUpdate), loaded func()) error {
	kv, err := r.bucket(ctx)
	if err != nil {
		return err
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("retained watch closed")
			}
			if e == nil { // the end of the initial values
				loaded()
				continue
			}
			topic, err := Topic(e.Key())
			if err != nil {
				r.c.log.Warn("retained bucket holds a key that is no topic; ignored", "key", e.Key())
				continue
			}
			u := RetainedUpdate{Topic: topic, Revision: e.Revision()}
			if v := e.Value(); e.Operation() == jetstream.KeyValuePut && len(v) > 1 {
				u.QoS, u.Payload = min(v[0], 2), v[1:]
			}
			fn(u)
		}
	}
}
