package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestRefusalsCoalesce: repeats of one check become one entry with a
// count; a claimed client ID that differs files the refusal under both
// devices; unregistered certificates are listed by fingerprint.
func TestRefusalsCoalesce(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	mustDevice(t, db, "pump-17")
	mustDevice(t, db, "pump-18")
	t0 := time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC)
	rs := []Refusal{
		{Time: t0, Broker: "b1", DeviceID: "pump-17", ClaimedClientID: "pump-18", Check: "client_id_mismatch"},
		{Time: t0.Add(time.Minute), Broker: "b2", DeviceID: "pump-17", ClaimedClientID: "pump-18", Check: "client_id_mismatch", Count: 4},
		{Time: t0.Add(2 * time.Minute), Fingerprint: "ab12", Subject: "CN=stranger", Issuer: "CN=Other CA", Check: "unknown_ca"},
		{Time: t0.Add(3 * time.Minute), DeviceID: "ghost-1", Fingerprint: "cd34", Check: "unknown_device"},
		// An invented client ID gets no entry of its own.
		{Time: t0.Add(4 * time.Minute), DeviceID: "pump-17", ClaimedClientID: "invented-9", Check: "client_id_mismatch"},
	}
	if err := db.RecordRefusals(ctx, rs, 0); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"pump-17", "pump-18"} {
		log, err := db.DeviceRefusals(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"pump-17": 6, "pump-18": 5}[id]
		if len(log.Entries) != 1 || log.Entries[0].Count != want || !log.Entries[0].First.Equal(t0) {
			t.Fatalf("%s: entries %+v, want one client_id_mismatch x%d, first at %v", id, log.Entries, want, t0)
		}
	}
	if log, _ := db.DeviceRefusals(ctx, "invented-9"); len(log.Entries) != 0 {
		t.Fatalf("an unregistered claimed client ID got entries: %+v", log.Entries)
	}
	un, stats, err := db.Refusals(ctx, RefusalQuery{Unregistered: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(un) != 2 || un[0].DeviceID != "ghost-1" || un[1].Fingerprint != "ab12" {
		t.Fatalf("unregistered = %+v, want ghost-1 then fingerprint ab12", un)
	}
	if stats.Subjects != 4 {
		t.Fatalf("subjects = %d, want 4 (pump-17, pump-18, f/ab12, ghost-1)", stats.Subjects)
	}
}

// TestRefusalsBounded floods the log with more checks per device and more
// subjects than it keeps: it stays within its bounds and counts every
// refusal it let go.
func TestRefusalsBounded(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC)
	var rs []Refusal
	for i := range RefusalsPerSubject + 3 {
		rs = append(rs, Refusal{Time: t0.Add(time.Duration(i) * time.Second), DeviceID: "pump-1", Check: fmt.Sprintf("check_%d", i), Count: 2})
	}
	if err := db.RecordRefusals(ctx, rs, 0); err != nil {
		t.Fatal(err)
	}
	log, err := db.DeviceRefusals(ctx, "pump-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(log.Entries) != RefusalsPerSubject || log.Dropped != 6 || log.Entries[0].Check != fmt.Sprintf("check_%d", RefusalsPerSubject+2) {
		t.Fatalf("pump-1: %d entries (newest %q), dropped %d; want %d, newest check_%d, dropped 6",
			len(log.Entries), log.Entries[0].Check, log.Dropped, RefusalsPerSubject, RefusalsPerSubject+2)
	}

	// A flood of distinct foreign certificates: far more subjects than kept.
	const flood = RefusalSubjects + 400
	rs = rs[:0]
	for i := range flood {
		rs = append(rs, Refusal{Time: t0.Add(time.Hour + time.Duration(i)*time.Millisecond), Fingerprint: fmt.Sprintf("%064x", i), Check: "unknown_ca"})
	}
	if err := db.RecordRefusals(ctx, rs, 0); err != nil {
		t.Fatal(err)
	}
	un, stats, err := db.Refusals(ctx, RefusalQuery{Unregistered: true})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Subjects > RefusalSubjects || stats.Subjects != len(un) {
		t.Fatalf("subjects = %d (%d listed), want at most %d", stats.Subjects, len(un), RefusalSubjects)
	}
	kept := 0
	for _, r := range un {
		kept += r.Count
	}
	// pump-1 is the oldest subject and goes first; its refusals count too.
	if want := flood + 2*(RefusalsPerSubject+3); kept+stats.Dropped != want {
		t.Fatalf("kept %d + dropped %d = %d, want every refusal counted (%d)", kept, stats.Dropped, kept+stats.Dropped, want)
	}
	if un[0].Fingerprint != fmt.Sprintf("%064x", flood-1) {
		t.Fatalf("newest entry %q, want the last of the flood", un[0].Fingerprint)
	}
	if log, _ := db.DeviceRefusals(ctx, "pump-1"); len(log.Entries) != 0 {
		t.Fatalf("pump-1 still has %d entries; the least recently refused subject should have been pruned", len(log.Entries))
	}
}
