package store

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCreateTokens(t *testing.T) {
	tests := []struct {
		name    string
		group   string
		n       int
		ttl     time.Duration
		wantErr error
	}{
		{name: "ok/one", group: "sim", n: 1, ttl: time.Hour},
		{name: "ok/many", group: "sim", n: 500, ttl: 24 * time.Hour},
		{name: "error/zero", group: "sim", n: 0, ttl: time.Hour, wantErr: ErrInvalid},
		{name: "error/too many", group: "sim", n: MaxTokens + 1, ttl: time.Hour, wantErr: ErrInvalid},
		{name: "error/no lifetime", group: "sim", n: 1, ttl: 0, wantErr: ErrInvalid},
		{name: "error/unknown group", group: "nope", n: 1, ttl: time.Hour, wantErr: ErrNotFound},
		{name: "error/group requires tpm", group: "secure", n: 1, ttl: time.Hour, wantErr: ErrPolicy},
		{name: "error/group without tokens", group: "plain", n: 1, ttl: time.Hour, wantErr: ErrPolicy},
		{name: "error/no group", group: "", n: 1, ttl: time.Hour, wantErr: ErrPolicy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTestDB(t)
			mustGroup(t, db, "sim", false, true)
			mustGroup(t, db, "secure", true, false)
			mustGroup(t, db, "plain", false, false)
			auditBefore := auditLen(t, db)
			tokens, err := db.CreateTokens(t.Context(), tt.group, tt.n, tt.ttl, operator)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("CreateTokens = %v, want %v", err, tt.wantErr)
			}
			stored, err2 := db.Tokens(t.Context(), "")
			if err2 != nil {
				t.Fatal(err2)
			}
			if tt.wantErr != nil {
				if tokens != nil || len(stored) != 0 || auditLen(t, db) != auditBefore {
					t.Errorf("refused call returned %d tokens, stored %d, audit %d -> %d", len(tokens), len(stored), auditBefore, auditLen(t, db))
				}
				return
			}
			if len(tokens) != tt.n || len(stored) != tt.n {
				t.Fatalf("%d tokens returned, %d stored, want %d", len(tokens), len(stored), tt.n)
			}
			byHash := map[string]Token{}
			for _, s := range stored {
				byHash[s.Hash] = s
			}
			for _, tok := range tokens {
				raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, TokenPrefix))
				if !strings.HasPrefix(tok, TokenPrefix) || err != nil || len(raw) != 32 {
					t.Fatalf("token %q is not fgt_ and 32 bytes of base64url: %v", tok, err)
				}
				s, ok := byHash[HashToken(tok)]
				if !ok {
					t.Fatalf("token %q is not stored under its hash", tok)
				}
				if s.Group != tt.group || s.CreatedBy != operator.Name || !s.ExpiresAt.Equal(s.CreatedAt.Add(tt.ttl)) || !s.UsedAt.IsZero() {
					t.Errorf("stored %+v", s)
				}
				delete(byHash, s.Hash) // each token once
			}
			e := lastAudit(t, db)
			parts := 1 // one transaction, one event; on etcd one per part
			if limit := db.txnLimit(); limit > 0 {
				parts = (tt.n + limit - 5) / (limit - 4)
			}
			if e.Action != "token.create" || e.Target != tt.group || !strings.Contains(e.Detail, "count=") || auditLen(t, db) != auditBefore+parts {
				t.Errorf("audit event %+v (log %d -> %d)", e, auditBefore, auditLen(t, db))
			}
			// The file holds no plaintext: only hashes are keys or fields.
			for _, s := range stored {
				if strings.HasPrefix(s.Hash, TokenPrefix) || len(s.Hash) != 64 {
					t.Errorf("stored token key %q is not a hash", s.Hash)
				}
			}
		})
	}
}

func TestTokens(t *testing.T) {
	db := openTestDB(t)
	mustGroup(t, db, "sim", false, true)
	mustGroup(t, db, "dev-boards", false, true)
	sim := mustTokens(t, db, "sim", 3)
	boards := mustTokens(t, db, "dev-boards", 2)
	tests := []struct {
		name  string
		group string
		want  []string
	}{
		{name: "ok/one group", group: "sim", want: sim},
		{name: "ok/other group", group: "dev-boards", want: boards},
		{name: "ok/all groups", group: "", want: append(append([]string{}, sim...), boards...)},
		{name: "ok/unknown group is empty", group: "nope", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.Tokens(t.Context(), tt.group)
			if err != nil || got == nil {
				t.Fatalf("Tokens = %v, %v", got, err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("Tokens(%q) = %d tokens, want %d", tt.group, len(got), len(tt.want))
			}
			want := map[string]bool{}
			for _, tok := range tt.want {
				want[HashToken(tok)] = true
			}
			for i, tok := range got {
				if !want[tok.Hash] {
					t.Errorf("unexpected token %+v", tok)
				}
				if i > 0 && tok.CreatedAt.Before(got[i-1].CreatedAt) {
					t.Errorf("tokens not sorted by creation time")
				}
			}
		})
	}
}

func TestHashToken(t *testing.T) {
	// The FIPS 180-2 test vector for SHA-256("abc").
	if got, want := HashToken("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("HashToken = %q, want %q", got, want)
	}
	if HashToken("fgt_x") == HashToken("fgt_y") {
		t.Error("different tokens hash alike")
	}
}

func TestCheckToken(t *testing.T) {
	db, clock := openClockedDB(t)
	mustGroup(t, db, "sim", false, true)
	tokens := mustTokens(t, db, "sim", 3)
	if _, err := db.CheckToken(t.Context(), HashToken(tokens[0])); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	if _, err := db.CheckToken(t.Context(), HashToken("fgt_unknown")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
	if err := db.CompleteEnrollment(t.Context(), tokenEnrollment(tokens[1], "sim-1", "a1"), operator); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CheckToken(t.Context(), HashToken(tokens[1])); !errors.Is(err, ErrReplayed) {
		t.Fatalf("used token: %v", err)
	}
	mustGroup(t, db, "sim", true, false)
	if _, err := db.CheckToken(t.Context(), HashToken(tokens[2])); !errors.Is(err, ErrPolicy) {
		t.Fatalf("token of a group that now requires a TPM: %v", err)
	}
	clock.Advance(2 * time.Hour)
	if _, err := db.CheckToken(t.Context(), HashToken(tokens[0])); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired token: %v", err)
	}
}
