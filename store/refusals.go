package store

import (
	"context"
	"slices"
	"time"

	"github.com/fleetgate/fleetgate/store/kv"
)

// Bounds of the refusal log. A refusal is diagnosis, not a record anyone
// must keep, so the log stays small whatever a flood of bad connections
// throws at it, and counts what it let go.
const (
	// RefusalsPerSubject bounds the entries kept per device (or per
	// certificate fingerprint, when no device is named). Entries coalesce
	// by check, so this is the number of different reasons remembered;
	// the oldest gives way, its count going to the subject's Dropped.
	RefusalsPerSubject = 8
	// RefusalSubjects bounds the devices and fingerprints with entries,
	// fleet-wide. Past it the least recently refused tenth is deleted and
	// counted in RefusalStats.Dropped. With the field bounds below a full
	// log holds at most some 2000 x 8 x 1.5 KB, in practice far less.
	RefusalSubjects = 2000
	// refusalFieldMax bounds each text field of an entry (subjects and
	// issuers of foreign certificates are chosen by whoever made them).
	refusalFieldMax = 256
	// refusalBatch bounds the entries written in one transaction, well
	// under etcd's default of 128 operations per transaction.
	refusalBatch = 24
	// refusalPruneMax bounds the subjects one transaction deletes.
	refusalPruneMax = 48
)

// Refusal is what is known of refused connections of one subject that
// failed the same check, coalesced: Count of them, the first at First, the
// latest at Time, with the latest one's details.
type Refusal struct {
	Time  time.Time `json:"time"`
	First time.Time `json:"first"`
	Count int       `json:"count"`

	Broker string `json:"broker"` // which broker saw the latest one
	Remote string `json:"remote"` // the peer's address

	// DeviceID is the identity the certificate names (empty when it names
	// none); ClaimedClientID the MQTT client ID the CONNECT carried (empty
	// when the connection ended in the TLS handshake).
	DeviceID        string `json:"device_id,omitempty"`
	ClaimedClientID string `json:"claimed_client_id,omitempty"`

	Serial      string    `json:"serial,omitempty"`
	Fingerprint string    `json:"fingerprint,omitempty"`
	Issuer      string    `json:"issuer,omitempty"`
	Subject     string    `json:"subject,omitempty"`
	NotBefore   time.Time `json:"not_before,omitzero"`
	NotAfter    time.Time `json:"not_after,omitzero"`

	// Check is the broker's stable reason (expired, client_id_mismatch,
	// unknown_ca, ...); Detail says it in words.
	Check  string `json:"check"`
	Detail string `json:"detail,omitempty"`
}

// refusalSet is the stored record of one subject: its entries, newest
// last, and how many refusals gave way to newer ones.
type refusalSet struct {
	Entries []Refusal `json:"entries"`
	Dropped int       `json:"dropped,omitempty"`
}

// refusalMeta counts the subjects with entries and the refusals pruned
// with whole subjects.
type refusalMeta struct {
	Subjects int `json:"subjects"`
	Dropped  int `json:"dropped"`
}

var keyRefusalMeta = []byte("#meta")

// refusalKeys are the subjects a refusal is filed under: the device its
// certificate names, else the certificate's fingerprint; and also the
// client ID it claimed when that differs and names a registered device,
// so that asking about that device finds the attempt too. (An unregistered
// claimed ID gets no entry: client IDs cost nothing to invent, and a
// flood of them would push real entries out of the log.)
func refusalKeys(r Refusal, devices kv.Bucket) [][]byte {
	var keys [][]byte
	switch {
	case r.DeviceID != "":
		keys = append(keys, []byte("d/"+r.DeviceID))
	case r.Fingerprint != "":
		keys = append(keys, []byte("f/"+r.Fingerprint))
	}
	if r.ClaimedClientID != "" && r.ClaimedClientID != r.DeviceID && devices.Get([]byte(r.ClaimedClientID)) != nil {
		keys = append(keys, []byte("d/"+r.ClaimedClientID))
	}
	return keys
}

// RecordRefusals files refused connections in the shared refusal log,
// coalescing each into its subject's entry for the same check, within the
// bounds above. Brokers call it from a background batcher (broker
// refusals.go), never on the refusal path. dropped counts refusals the
// caller could not keep (a broker's full buffer); they go to
// RefusalStats.Dropped. A refusal naming no subject (neither device nor
// fingerprint) is ignored.
func (db *DB) RecordRefusals(ctx context.Context, rs []Refusal, dropped int) error {
	if len(rs) == 0 && dropped == 0 {
		return nil
	}
	for first := true; first || len(rs) > 0; first = false {
		n := min(len(rs), refusalBatch)
		d := 0
		if first {
			d = dropped
		}
		if err := db.update(ctx, func(tx kv.Tx) ([]Change, error) {
			return nil, recordRefusals(tx.Bucket(bucketRefusals), tx.Bucket(bucketDevices), rs[:n], d)
		}); err != nil {
			return err
		}
		rs = rs[n:]
	}
	return nil
}

func recordRefusals(b, devices kv.Bucket, rs []Refusal, dropped int) error {
	var meta refusalMeta
	if _, err := getJSON(b, keyRefusalMeta, &meta); err != nil {
		return err
	}
	meta.Dropped += dropped
	for _, r := range rs {
		r = clipRefusal(r)
		for _, key := range refusalKeys(r, devices) {
			var set refusalSet
			found, err := getJSON(b, key, &set)
			if err != nil {
				return err
			}
			if !found {
				meta.Subjects++
			}
			set.add(r)
			if err := putJSON(b, key, set); err != nil {
				return err
			}
		}
	}
	if meta.Subjects > RefusalSubjects {
		if err := pruneRefusals(b, &meta); err != nil {
			return err
		}
	}
	return putJSON(b, keyRefusalMeta, meta)
}

// add coalesces r into the entry of the same check, or appends it, and
// lets the oldest entry go past RefusalsPerSubject.
func (s *refusalSet) add(r Refusal) {
	r.Count = max(r.Count, 1)
	if r.First.IsZero() {
		r.First = r.Time
	}
	if i := slices.IndexFunc(s.Entries, func(e Refusal) bool { return e.Check == r.Check }); i >= 0 {
		old := s.Entries[i]
		r.Count += old.Count
		if !old.First.IsZero() && old.First.Before(r.First) {
			r.First = old.First
		}
		if old.Time.After(r.Time) {
			r.Time = old.Time // a late batch from a slow broker keeps the newest time
		}
		s.Entries = slices.Delete(s.Entries, i, i+1)
	}
	s.Entries = append(s.Entries, r)
	slices.SortStableFunc(s.Entries, func(a, b Refusal) int { return a.Time.Compare(b.Time) })
	for len(s.Entries) > RefusalsPerSubject {
		s.Dropped += s.Entries[0].Count
		s.Entries = s.Entries[1:]
	}
}

// clipRefusal bounds the text fields of r.
func clipRefusal(r Refusal) Refusal {
	for _, f := range []*string{&r.Broker, &r.Remote, &r.DeviceID, &r.ClaimedClientID, &r.Serial,
		&r.Fingerprint, &r.Issuer, &r.Subject, &r.Check, &r.Detail} {
		if len(*f) > refusalFieldMax {
			*f = (*f)[:refusalFieldMax]
		}
	}
	return r
}
