package bus

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

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
