package store

import "github.com/fleetgate/fleetgate/store/kv"

// enrollmentFetch names the records checkEnrollment reads for e, so that a
// group commit on etcd reads those of all its enrollments in one request
// (batchItem.fetch) rather than three or four requests per enrollment, one
// enrollment after the other. Records read but not named here are read as
// before, one request each; naming one that is not read costs nothing
// but its bytes.
func enrollmentFetch(e Enrollment) []kv.Fetch {
	key := func(s string) [][]byte {
		if s == "" {
			return nil
		}
		return [][]byte{[]byte(s)}
	}
	f := []kv.Fetch{
		{Bucket: bucketDevices, Keys: key(e.Device.ID)},
		{Bucket: bucketCerts, Keys: append(key(e.Certificate.Serial), key(e.Supersedes)...)},
		{Bucket: bucketAudit, Sequence: true},
	}
	if e.Device.Group != "" {
		f = append(f, kv.Fetch{Bucket: bucketGroups, Keys: key(e.Device.Group)})
	}
	if e.TokenHash != "" {
		f = append(f, kv.Fetch{Bucket: bucketTokens, Keys: key(e.TokenHash)})
	}
	if e.ChallengeID != "" {
		f = append(f, kv.Fetch{Bucket: bucketChallenges, Keys: key(e.ChallengeID)},
			kv.Fetch{Bucket: bucketEKHash, Keys: key(e.Device.EKHash)})
	}
	return f
}
