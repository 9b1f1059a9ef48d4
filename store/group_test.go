package store

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestPutGroup(t *testing.T) {
	tests := []struct {
		name       string
		existing   *Group // stored first
		in         Group
		wantAudit  bool // a "group.put" event is recorded
		wantCreate bool // CreatedAt is the time of this call
		wantErr    error
	}{
		{name: "ok/create tpm group", in: Group{Name: "line-3", RequireTPM: true}, wantAudit: true, wantCreate: true},
		{name: "ok/create token group", in: Group{Name: "sim", AllowTokens: true}, wantAudit: true, wantCreate: true},
		{name: "ok/create default policy", in: Group{Name: "plain"}, wantAudit: true, wantCreate: true},
		{name: "ok/update keeps creation time", existing: &Group{Name: "g", AllowTokens: true}, in: Group{Name: "g", RequireTPM: true}, wantAudit: true},
		{name: "ok/repeat records nothing", existing: &Group{Name: "g", RequireTPM: true}, in: Group{Name: "g", RequireTPM: true}},
		{name: "error/tpm and tokens", in: Group{Name: "g", RequireTPM: true, AllowTokens: true}, wantErr: ErrInvalid},
		{name: "error/empty name", in: Group{}, wantErr: ErrInvalid},
		{name: "error/name with slash", in: Group{Name: "a/b"}, wantErr: ErrInvalid},
		{name: "error/name with wildcard", in: Group{Name: "a+"}, wantErr: ErrInvalid},
		{name: "error/update to both", existing: &Group{Name: "g", AllowTokens: true}, in: Group{Name: "g", RequireTPM: true, AllowTokens: true}, wantErr: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTestDB(t)
			var before Group
			if tt.existing != nil {
				before = mustGroup(t, db, tt.existing.Name, tt.existing.RequireTPM, tt.existing.AllowTokens)
			}
			auditBefore := auditLen(t, db)
			got, err := db.PutGroup(t.Context(), tt.in, operator)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("PutGroup = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				if n := auditLen(t, db); n != auditBefore {
					t.Errorf("audit grew from %d to %d on a refused put", auditBefore, n)
				}
				if tt.in.Name == "" {
					return // "" reads as the default policy, stored or not
				}
				if stored, err := db.Group(t.Context(), tt.in.Name); tt.existing == nil && !errors.Is(err, ErrNotFound) || tt.existing != nil && !reflect.DeepEqual(stored, before) {
					t.Errorf("refused put left %+v, %v", stored, err)
				}
				return
			}
			stored, err := db.Group(t.Context(), tt.in.Name)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(stored, got) || got.Name != tt.in.Name || got.RequireTPM != tt.in.RequireTPM || got.AllowTokens != tt.in.AllowTokens {
				t.Errorf("returned %+v, stored %+v, want %+v", got, stored, tt.in)
			}
			if tt.wantCreate == (tt.existing != nil) || !tt.wantCreate && !got.CreatedAt.Equal(before.CreatedAt) || got.CreatedAt.IsZero() {
				t.Errorf("CreatedAt = %s (existing %s)", got.CreatedAt, before.CreatedAt)
			}
			if grew := auditLen(t, db) > auditBefore; grew != tt.wantAudit {
				t.Fatalf("audit grew = %t, want %t", grew, tt.wantAudit)
			}
			if tt.wantAudit {
				if e := lastAudit(t, db); e.Action != "group.put" || e.Target != tt.in.Name || e.Actor != operator.Name {
					t.Errorf("audit event %+v", e)
				}
			}
		})
	}
}

func TestGroup(t *testing.T) {
	db := openTestDB(t)
	mustGroup(t, db, "sim", false, true)
	tests := []struct {
		name    string
		group   string
		want    Group
		wantErr error
	}{
		{name: "ok/stored", group: "sim", want: Group{Name: "sim", AllowTokens: true, CreatedAt: testEpoch}},
		{name: "ok/empty name is the default policy", group: "", want: Group{}},
		{name: "error/unknown", group: "nope", wantErr: ErrNotFound},
		{name: "error/prefix of a stored name", group: "si", wantErr: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.Group(t.Context(), tt.group)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Group(%q) = %v, want %v", tt.group, err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Group(%q) = %+v, want %+v", tt.group, got, tt.want)
			}
		})
	}
}

func TestGroups(t *testing.T) {
	db := openTestDB(t)
	if got, err := db.Groups(t.Context()); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("Groups of an empty registry = %v, %v; want an empty non-nil slice", got, err)
	}
	for _, name := range []string{"west", "east", "sim"} {
		mustGroup(t, db, name, name == "east", name == "sim")
	}
	got, err := db.Groups(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range got {
		names = append(names, g.Name)
		if g.RequireTPM != (g.Name == "east") || g.AllowTokens != (g.Name == "sim") {
			t.Errorf("group %+v has the wrong policy", g)
		}
		if g.CreatedAt.Before(testEpoch) || g.CreatedAt.After(testEpoch.Add(time.Hour)) {
			t.Errorf("group %+v has a strange creation time", g)
		}
	}
	if want := []string{"east", "sim", "west"}; !slices.Equal(names, want) {
		t.Errorf("Groups = %v, want %v", names, want)
	}
}
