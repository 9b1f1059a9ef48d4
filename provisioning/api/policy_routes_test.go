package api_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// TestGroupsAndTokens drives the operator routes for group policies and
// enrollment tokens.
func TestGroupsAndTokens(t *testing.T) {
	e := apitest.Start(t, apitest.Options{})
	ctx := testCtx(t)

	t.Run("ok/put-and-list-groups", func(t *testing.T) {
		g, err := e.Admin.PutGroup(ctx, "sim", wire.GroupRequest{AllowTokens: true})
		if err != nil || g.Name != "sim" || !g.AllowTokens || g.RequireTPM {
			t.Fatalf("put = %+v, %v", g, err)
		}
		if _, err := e.Admin.PutGroup(ctx, "line-a", wire.GroupRequest{RequireTPM: true}); err != nil {
			t.Fatal(err)
		}
		groups, err := e.Admin.Groups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		names := []string{}
		for _, g := range groups {
			names = append(names, g.Name)
		}
		if !slices.Equal(names, []string{"line-a", "sim"}) {
			t.Errorf("groups = %v", names)
		}
	})
	t.Run("ok/put-same-policy-twice", func(t *testing.T) {
		before := take(t, e)
		if _, err := e.Admin.PutGroup(ctx, "sim", wire.GroupRequest{AllowTokens: true}); err != nil {
			t.Fatal(err)
		}
		assertUnchanged(t, e, before)
	})

	var created wire.CreatedTokens
	t.Run("ok/create-tokens", func(t *testing.T) {
		start := time.Now()
		var err error
		created, err = e.Admin.CreateTokens(ctx, wire.CreateTokensRequest{Group: "sim", Count: 5, TTL: "2h"})
		if err != nil {
			t.Fatal(err)
		}
		if len(created.Tokens) != 5 || created.Group != "sim" {
			t.Fatalf("created = %+v", created)
		}
		if created.ExpiresAt.Before(start.Add(2*time.Hour-time.Second)) || created.ExpiresAt.After(time.Now().Add(2*time.Hour)) {
			t.Errorf("expires_at %s is not 2h from now", created.ExpiresAt)
		}
		for _, tk := range created.Tokens {
			if !strings.HasPrefix(tk, store.TokenPrefix) {
				t.Errorf("token %q lacks the prefix", tk)
			}
		}
	})
	t.Run("ok/list-tokens-shows-hashes-only", func(t *testing.T) {
		list, err := e.Admin.Tokens(ctx, "sim")
		if err != nil || len(list) != 5 {
			t.Fatalf("list = %d, %v", len(list), err)
		}
		for _, tk := range list {
			if !slices.Contains(hashesOf(created.Tokens), tk.Hash) || tk.CreatedBy != "admin" {
				t.Errorf("token record %+v", tk)
			}
		}
		if other, err := e.Admin.Tokens(ctx, "line-a"); err != nil || len(other) != 0 {
			t.Errorf("line-a tokens = %d, %v", len(other), err)
		}
	})

	tests := []struct {
		name   string
		do     func() error
		status int
		code   wire.Code
	}{
		{"error/group-tpm-and-tokens", func() error {
			_, err := e.Admin.PutGroup(ctx, "both", wire.GroupRequest{RequireTPM: true, AllowTokens: true})
			return err
		}, http.StatusBadRequest, wire.CodeBadRequest},
		{"error/group-invalid-name", func() error {
			_, err := e.Admin.PutGroup(ctx, "a+b", wire.GroupRequest{})
			return err
		}, http.StatusBadRequest, wire.CodeBadRequest},
		{"error/tokens-for-tpm-group", func() error {
			_, err := e.Admin.CreateTokens(ctx, wire.CreateTokensRequest{Group: "line-a"})
			return err
		}, http.StatusConflict, wire.CodePolicy},
		{"error/tokens-for-unknown-group", func() error {
			_, err := e.Admin.CreateTokens(ctx, wire.CreateTokensRequest{Group: "ghost"})
			return err
		}, http.StatusNotFound, wire.CodeNotFound},
		{"error/tokens-without-group", func() error {
			_, err := e.Admin.CreateTokens(ctx, wire.CreateTokensRequest{})
			return err
		}, http.StatusBadRequest, wire.CodeBadRequest},
		{"error/tokens-count", func() error {
			_, err := e.Admin.CreateTokens(ctx, wire.CreateTokensRequest{Group: "sim", Count: store.MaxTokens + 1})
			return err
		}, http.StatusBadRequest, wire.CodeBadRequest},
		{"error/tokens-ttl", func() error {
			_, err := e.Admin.CreateTokens(ctx, wire.CreateTokensRequest{Group: "sim", TTL: "forever"})
			return err
		}, http.StatusBadRequest, wire.CodeBadRequest},
		{"error/tokens-anonymous", func() error {
			_, err := e.Anonymous.CreateTokens(ctx, wire.CreateTokensRequest{Group: "sim"})
			return err
		}, http.StatusUnauthorized, wire.CodeUnauthenticated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := take(t, e)
			err := tc.do()
			var apiErr *client.APIError
			if !errors.As(err, &apiErr) || apiErr.Status != tc.status || apiErr.Code != tc.code {
				t.Fatalf("err = %v, want %d %s", err, tc.status, tc.code)
			}
			assertUnchanged(t, e, before)
		})
	}
}

func hashesOf(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, tk := range tokens {
		out[i] = store.HashToken(tk)
	}
	return out
}
