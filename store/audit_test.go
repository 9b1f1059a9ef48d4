package store

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestAudit(t *testing.T) {
	db := openTestDB(t)
	// Seven events at testEpoch + 0s..6s (the test clock ticks once per event).
	for i, target := range []string{"a", "b", "a", "c", "a", "b", "a"} {
		action := "probe.odd"
		if i%2 == 0 {
			action = "probe.even"
		}
		if err := db.Record(t.Context(), action, target, fmt.Sprint(i), operator); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		filter  AuditFilter
		want    []uint64 // sequence numbers, oldest first
		wantErr error
	}{
		{name: "ok/all", want: []uint64{1, 2, 3, 4, 5, 6, 7}},
		{name: "ok/target", filter: AuditFilter{Target: "a"}, want: []uint64{1, 3, 5, 7}},
		{name: "ok/action", filter: AuditFilter{Action: "probe.odd"}, want: []uint64{2, 4, 6}},
		{name: "ok/target and action", filter: AuditFilter{Target: "b", Action: "probe.odd"}, want: []uint64{2, 6}},
		{name: "ok/since is inclusive", filter: AuditFilter{Since: testEpoch.Add(4 * time.Second)}, want: []uint64{5, 6, 7}},
		{name: "ok/after seq", filter: AuditFilter{AfterSeq: 5}, want: []uint64{6, 7}},
		{name: "ok/after last seq", filter: AuditFilter{AfterSeq: 7}, want: []uint64{}},
		{name: "ok/limit keeps the newest", filter: AuditFilter{Limit: 3}, want: []uint64{5, 6, 7}},
		{name: "ok/limit with target", filter: AuditFilter{Target: "a", Limit: 2}, want: []uint64{5, 7}},
		{name: "ok/limit with after seq", filter: AuditFilter{AfterSeq: 5, Limit: 5}, want: []uint64{6, 7}},
		{name: "ok/limit above matches", filter: AuditFilter{Target: "c", Limit: 10}, want: []uint64{4}},
		{name: "ok/limit with since", filter: AuditFilter{Since: testEpoch.Add(5 * time.Second), Limit: 5}, want: []uint64{6, 7}},
		{name: "ok/no match", filter: AuditFilter{Target: "z"}, want: []uint64{}},
		{name: "error/negative limit", filter: AuditFilter{Limit: -1}, wantErr: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.Audit(t.Context(), tt.filter)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Audit = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			seqs := []uint64{}
			for _, e := range got {
				seqs = append(seqs, e.Seq)
			}
			if !slices.Equal(seqs, tt.want) {
				t.Errorf("Audit(%+v) = %v, want %v", tt.filter, seqs, tt.want)
			}
		})
	}
}

func TestRecord(t *testing.T) {
	tests := []struct {
		name      string
		action    string
		by        Actor
		wantActor string
		wantErr   error
	}{
		{name: "ok/operator", action: "operator.refused", by: operator, wantActor: "alice"},
		{name: "ok/anonymous actor is recorded as unknown", action: "operator.refused", by: Actor{Remote: "198.51.100.7:1"}, wantActor: "unknown"},
		{name: "error/no action", action: "", by: operator, wantErr: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTestDB(t)
			err := db.Record(t.Context(), tt.action, "dev-1", "no such device", tt.by)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Record = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				if n := auditLen(t, db); n != 0 {
					t.Errorf("refused record wrote %d events", n)
				}
				return
			}
			e := lastAudit(t, db)
			want := AuditEvent{Seq: 1, Time: testEpoch, Actor: tt.wantActor, Remote: tt.by.Remote,
				Action: tt.action, Target: "dev-1", Detail: "no such device"}
			if e != want {
				t.Errorf("event = %+v, want %+v", e, want)
			}
		})
	}
}
