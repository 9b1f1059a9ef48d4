package store

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/store/kv"
)

func TestTokenEnrollment(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, db *DB, clock *testClock)
		edit    func(e *Enrollment)
		wantErr error
	}{
		{name: "ok/new device"},
		{name: "ok/device names the token's group", edit: func(e *Enrollment) { e.Device.Group = "sim" }},
		{name: "ok/device with grants and metadata", edit: func(e *Enrollment) {
			e.Device.Publish, e.Device.Metadata = []string{"fleet/+/up"}, map[string]string{"board": "rev-b"}
		}},
		{name: "error/replayed token", setup: func(t *testing.T, db *DB, _ *testClock) {
			if err := db.CompleteEnrollment(t.Context(), tokenEnrollment(theToken, "first-1", "f1"), system); err != nil {
				t.Fatal(err)
			}
		}, wantErr: ErrReplayed},
		{name: "error/expired token", setup: func(_ *testing.T, _ *DB, clock *testClock) { clock.Advance(2 * time.Hour) }, wantErr: ErrExpired},
		{name: "error/unknown token", edit: func(e *Enrollment) { e.TokenHash = HashToken("fgt_guess") }, wantErr: ErrNotFound},
		{name: "error/group requires tpm since", setup: func(t *testing.T, db *DB, _ *testClock) { mustGroup(t, db, "sim", true, false) }, wantErr: ErrPolicy},
		{name: "error/group stopped allowing tokens", setup: func(t *testing.T, db *DB, _ *testClock) { mustGroup(t, db, "sim", false, false) }, wantErr: ErrPolicy},
		{name: "error/device names another group", edit: func(e *Enrollment) { e.Device.Group = "other" }, wantErr: ErrPolicy},
		{name: "error/device exists with a valid certificate", setup: func(t *testing.T, db *DB, _ *testClock) {
			mustDeviceIn(t, db, "sim-1", "sim")
			mustCert(t, db, "sim-1", "b1")
		}, wantErr: ErrExists},
		{name: "error/device exists in another group", setup: func(t *testing.T, db *DB, _ *testClock) { mustDevice(t, db, "sim-1") }, wantErr: ErrPolicy},
		{name: "error/device exists suspended", setup: func(t *testing.T, db *DB, _ *testClock) {
			mustDeviceIn(t, db, "sim-1", "sim")
			if _, err := db.SetDeviceStatus(t.Context(), "sim-1", DeviceSuspended, "", operator); err != nil {
				t.Fatal(err)
			}
		}, wantErr: ErrState},
		{name: "error/device exists bound to a TPM", setup: func(t *testing.T, db *DB, _ *testClock) {
			if _, err := db.CreateDevice(t.Context(), Device{ID: "sim-1", Group: "sim", EKHash: hashOf("ek")}, operator); err != nil {
				t.Fatal(err)
			}
		}, wantErr: ErrPolicy},
		{name: "error/serial exists", setup: func(t *testing.T, db *DB, _ *testClock) {
			mustDevice(t, db, "other-1")
			mustCert(t, db, "other-1", "a1")
		}, wantErr: ErrExists},
		{name: "error/claims tpm attestation", edit: func(e *Enrollment) { e.Certificate.Attestation = AttestTPM }, wantErr: ErrInvalid},
		{name: "error/certificate of another device", edit: func(e *Enrollment) { e.Certificate.DeviceID = "sim-2" }, wantErr: ErrInvalid},
		{name: "error/bad fingerprint", edit: func(e *Enrollment) { e.Certificate.Fingerprint = "ab" }, wantErr: ErrInvalid},
		{name: "error/serial longer than 20 octets", edit: func(e *Enrollment) { e.Certificate.Serial = strings.Repeat("a", 41) }, wantErr: ErrInvalid},
		{name: "error/token with supersedes", edit: func(e *Enrollment) { e.Supersedes = "f0" }, wantErr: ErrInvalid},
		{name: "error/token and challenge", edit: func(e *Enrollment) { e.ChallengeID = challengeID(1) }, wantErr: ErrInvalid},
		{name: "error/neither token nor challenge", edit: func(e *Enrollment) { e.TokenHash = "" }, wantErr: ErrInvalid},
		{name: "error/device with EK", edit: func(e *Enrollment) { e.Device.EKHash = hashOf("ek") }, wantErr: ErrInvalid},
		{name: "error/suspended device", edit: func(e *Enrollment) { e.Device.Status = DeviceSuspended }, wantErr: ErrInvalid},
		{name: "error/invalid device id", edit: func(e *Enrollment) { e.Device.ID, e.Certificate.DeviceID = "sim#1", "sim#1" }, wantErr: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, clock := openClockedDB(t)
			mustGroup(t, db, "sim", false, true)
			mustGroup(t, db, "other", false, true)
			storeToken(t, db, theToken, "sim")
			if tt.setup != nil {
				tt.setup(t, db, clock)
			}
			e := tokenEnrollment(theToken, "sim-1", "a1")
			if tt.edit != nil {
				tt.edit(&e)
			}
			devicesBefore, certsBefore, auditBefore := deviceCount(t, db), certCount(t, db), auditLen(t, db)
			tokBefore := tokenNamed(t, db, theToken)
			w := db.Watch(t.Context())

			err := db.CompleteEnrollment(t.Context(), e, operator)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("CompleteEnrollment = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				if deviceCount(t, db) != devicesBefore || certCount(t, db) != certsBefore || auditLen(t, db) != auditBefore {
					t.Errorf("refused enrollment wrote something: devices %d->%d certs %d->%d audit %d->%d", devicesBefore,
						deviceCount(t, db), certsBefore, certCount(t, db), auditBefore, auditLen(t, db))
				}
				if tok := tokenNamed(t, db, theToken); tok != tokBefore {
					t.Errorf("token changed by a refused enrollment: %+v -> %+v", tokBefore, tok)
				}
				return
			}
			d, c, err := db.Lookup(t.Context(), "sim-1", "a1")
			if err != nil {
				t.Fatal(err)
			}
			if d.Status != DeviceActive || d.Group != "sim" || !d.CreatedAt.Equal(d.UpdatedAt) || d.CreatedAt.IsZero() ||
				len(d.Publish) != len(e.Device.Publish) || d.Metadata["board"] != e.Device.Metadata["board"] {
				t.Errorf("device %+v", d)
			}
			if c.Status != CertActive || c.Attestation != AttestToken || c.KeyHash != e.Certificate.KeyHash || !sameDER(c.DER, e.Certificate.DER) {
				t.Errorf("certificate %+v", c)
			}
			tok := tokenNamed(t, db, theToken)
			if tok.UsedBy != "sim-1" || !tok.UsedAt.Equal(d.CreatedAt) {
				t.Errorf("token %+v, want used by sim-1 at %s", tok, d.CreatedAt)
			}
			ev := lastAudit(t, db)
			if ev.Action != "device.enroll" || ev.Target != "sim-1" || !strings.Contains(ev.Detail, "attestation=token serial=a1") ||
				auditLen(t, db) != auditBefore+1 {
				t.Errorf("audit event %+v", ev)
			}
			assertNoChangeBeforeMarker(t, db, w)
		})
	}
}

// theToken is the plaintext token most token tests enroll with.
const theToken = "fgt_the-one-token-of-these-tests"

// storeToken stores a token with a known plaintext, as CreateTokens would,
// valid for an hour from the clock's reading.
func storeToken(t testing.TB, db *DB, token, group string) {
	t.Helper()
	err := db.update(t.Context(), func(tx kv.Tx) ([]Change, error) {
		now := db.clock()
		tok := Token{Hash: HashToken(token), Group: group, CreatedAt: now, ExpiresAt: now.Add(time.Hour), CreatedBy: "test"}
		return nil, putJSON(tx.Bucket(bucketTokens), []byte(tok.Hash), tok)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// tokenNamed returns the stored record of a plaintext token.
func tokenNamed(t testing.TB, db *DB, token string) Token {
	t.Helper()
	all, err := db.Tokens(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range all {
		if tok.Hash == HashToken(token) {
			return tok
		}
	}
	t.Fatalf("token %s not stored", token)
	return Token{}
}

func TestTokenEnrollmentRace(t *testing.T) {
	db := openTestDB(t)
	mustGroup(t, db, "sim", false, true)
	token := mustTokens(t, db, "sim", 1)[0]
	const racers = 50
	errs := make([]error, racers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		wg.Go(func() {
			<-start
			id := fmt.Sprintf("racer-%02d", i)
			errs[i] = db.CompleteEnrollment(t.Context(), tokenEnrollment(token, id, serialOf(i)), system)
		})
	}
	close(start)
	wg.Wait()
	winners := 0
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
		case !errors.Is(err, ErrReplayed):
			t.Errorf("racer %d: %v, want nil or ErrReplayed", i, err)
		}
	}
	if winners != 1 {
		t.Fatalf("%d racers enrolled with one token, want exactly 1", winners)
	}
	if n, m := certCount(t, db), deviceCount(t, db); n != 1 || m != 1 {
		t.Errorf("%d certificates and %d devices recorded, want 1 and 1", n, m)
	}
	tok := tokenNamed(t, db, token)
	certs, err := db.Certificates(t.Context(), tok.UsedBy)
	if err != nil || len(certs) != 1 {
		t.Errorf("the token's device %q has certificates %v, %v", tok.UsedBy, certs, err)
	}
}

// serialOf returns a distinct canonical serial for i >= 0.
func serialOf(i int) string { return fmt.Sprintf("%x", i+1) }

// TestTokenReenrollmentAfterExpiry: a software-key device whose certificate
// expired while it was offline enrolls again with a fresh token of its
// group, keeping its record; the token is consumed once.
func TestTokenReenrollmentAfterExpiry(t *testing.T) {
	db, clock := openClockedDB(t)
	mustGroup(t, db, "sim", false, true)
	created := mustDeviceIn(t, db, "sim-1", "sim")
	mustCert(t, db, "sim-1", "b1") // valid 90 days from the test epoch
	clock.Advance(91 * 24 * time.Hour)
	tokens := mustTokens(t, db, "sim", 1)

	if err := db.CompleteEnrollment(t.Context(), tokenEnrollment(tokens[0], "sim-1", "a1"), operator); err != nil {
		t.Fatalf("re-enrollment after expiry: %v", err)
	}
	d, c, err := db.Lookup(t.Context(), "sim-1", "a1")
	if err != nil {
		t.Fatal(err)
	}
	if !d.CreatedAt.Equal(created.CreatedAt) || !d.UpdatedAt.After(created.CreatedAt) || d.Group != "sim" || c.Status != CertActive {
		t.Fatalf("device %+v certificate %+v", d, c)
	}
	if ev := lastAudit(t, db); !strings.Contains(ev.Detail, "reenroll=true") {
		t.Errorf("audit %+v does not say re-enrollment", ev)
	}
	if err := db.CompleteEnrollment(t.Context(), tokenEnrollment(tokens[0], "sim-1", "a2"), operator); !errors.Is(err, ErrReplayed) {
		t.Fatalf("token reused: %v", err)
	}
}

// mustDeviceIn creates a device in a group.
func mustDeviceIn(t testing.TB, db *DB, id, group string) Device {
	t.Helper()
	d, err := db.CreateDevice(t.Context(), Device{ID: id, Group: group}, operator)
	if err != nil {
		t.Fatalf("CreateDevice(%s): %v", id, err)
	}
	return d
}
