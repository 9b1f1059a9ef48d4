package store

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/fleetgate/fleetgate/store/kv"
)

// Follower is a broker counted by AwaitEnforced (Follow).
type Follower = kv.Follower

// Enforcement says whether the brokers had applied the registry's changes
// when AwaitEnforced returned.
type Enforcement struct {
	// Brokers are those following the change feed during the wait.
	Brokers []string `json:"brokers"`
	// Missing are those of Brokers that had not confirmed when the wait
	// ended: they may still hold sessions the changes end.
	Missing []string `json:"missing,omitempty"`
	// Waited is how long the wait took.
	Waited time.Duration `json:"waited"`
}

// InForce reports whether every broker confirmed.
func (e Enforcement) InForce() bool { return len(e.Missing) == 0 }

// Follow counts member (a broker's unique name) among the brokers that
// AwaitEnforced waits for, as having applied every change committed so
// far: call it after Watch and before admitting anyone. The broker calls
// Confirm with the Revision of each ChangeBarrier once it has applied the
// changes before it, and Leave when it stops. On etcd the membership is a
// lease: a broker that crashed or lost etcd stops counting after
// etcdkv.FollowerTTL.
func (db *DB) Follow(member string) Follower {
	return db.confirmer().Follow(member)
}

// AwaitEnforced waits until every broker following the registry has
// applied every change committed before the call (on every host: it
// writes a barrier that each broker's feed reports after them), or until
// ctx is done; give ctx a deadline. It returns who confirmed and who did
// not; an error only when the barrier or the wait failed on the backend.
func (db *DB) AwaitEnforced(ctx context.Context) (Enforcement, error) {
	start := time.Now()
	c := db.confirmer()
	rev, err := c.Barrier(ctx)
	if err != nil {
		return Enforcement{}, fmt.Errorf("await enforcement: %w", err)
	}
	brokers, missing, err := c.AwaitFollowers(ctx, rev)
	if err != nil {
		return Enforcement{}, fmt.Errorf("await enforcement: %w", err)
	}
	return Enforcement{Brokers: brokers, Missing: missing, Waited: time.Since(start)}, nil
}

// confirmer is the backend's own Confirmer (etcd) or, for a backend whose
// only brokers share this process (bbolt), one kept in memory.
func (db *DB) confirmer() kv.Confirmer {
	if c, ok := db.kv.(kv.Confirmer); ok {
		return c
	}
	db.localOnce.Do(func() { db.local = newLocalConfirmer(db) })
	return db.local
}

// localConfirmer counts the followers of this process. Its barrier is a
// feed event published under the write lock, so after every change
// already published.
type localConfirmer struct {
	db *DB

	mu      sync.Mutex
	rev     int64            // of the latest barrier
	members map[string]int64 // member -> confirmed revision
	changed chan struct{}    // closed and replaced when members change
}

var _ kv.Confirmer = (*localConfirmer)(nil)

func newLocalConfirmer(db *DB) *localConfirmer {
	return &localConfirmer{db: db, members: make(map[string]int64), changed: make(chan struct{})}
}

func (l *localConfirmer) Barrier(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	l.db.writeMu.Lock()
	defer l.db.writeMu.Unlock()
	l.mu.Lock()
	l.rev++
	rev := l.rev
	l.mu.Unlock()
	l.db.feed.publish([]Change{{Kind: ChangeBarrier, Revision: rev, Time: l.db.clock()}})
	return rev, nil
}

// notify wakes the waiters; l.mu is held.
func (l *localConfirmer) notify() {
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *localConfirmer) Follow(member string) kv.Follower {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.members[member] = l.rev
	l.notify()
	return &localFollower{l: l, member: member}
}

func (l *localConfirmer) AwaitFollowers(ctx context.Context, rev int64) (followers, missing []string, err error) {
	for {
		l.mu.Lock()
		followers, missing = nil, nil
		for m, n := range l.members {
			followers = append(followers, m)
			if n < rev {
				missing = append(missing, m)
			}
		}
		changed := l.changed
		l.mu.Unlock()
		slices.Sort(followers)
		slices.Sort(missing)
		if len(missing) == 0 {
			return followers, nil, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return followers, missing, nil
		}
	}
}

type localFollower struct {
	l      *localConfirmer
	member string
}

func (f *localFollower) Confirm(rev int64) {
	f.l.mu.Lock()
	defer f.l.mu.Unlock()
	if n, ok := f.l.members[f.member]; ok && rev > n {
		f.l.members[f.member] = rev
		f.l.notify()
	}
}

func (f *localFollower) Leave() {
	f.l.mu.Lock()
	defer f.l.mu.Unlock()
	delete(f.l.members, f.member)
	f.l.notify()
}
