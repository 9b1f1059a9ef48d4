package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

func TestErrorClassification(t *testing.T) {
	tests := []struct {
		name                                      string
		err                                       error
		notFound, conflict, badRequest, unauthent bool
	}{
		{"ok/not-found", &client.APIError{Status: 404, Code: wire.CodeNotFound}, true, false, false, false},
		{"ok/exists", &client.APIError{Status: 409, Code: wire.CodeExists}, false, true, false, false},
		{"ok/invalid-state-wrapped", errors.Join(errors.New("ctx"), &client.APIError{Status: 409, Code: wire.CodeInvalidState}), false, true, false, false},
		{"ok/bad-request", &client.APIError{Status: 400, Code: wire.CodeBadRequest}, false, false, true, false},
		{"ok/unauthenticated", &client.APIError{Status: 401, Code: wire.CodeUnauthenticated}, false, false, false, true},
		{"error/internal", &client.APIError{Status: 500, Code: wire.CodeInternal}, false, false, false, false},
		{"error/not-an-api-error", errors.New("boom"), false, false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := [4]bool{client.IsNotFound(tc.err), client.IsConflict(tc.err), client.IsBadRequest(tc.err), client.IsUnauthenticated(tc.err)}
			want := [4]bool{tc.notFound, tc.conflict, tc.badRequest, tc.unauthent}
			if got != want {
				t.Errorf("IsNotFound/IsConflict/IsBadRequest/IsUnauthenticated = %v, want %v", got, want)
			}
		})
	}
}

// TestForeignErrorPage checks that a refusal not written by the API (a
// proxy's page, say) still becomes an *APIError with its status.
func TestForeignErrorPage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream is having a bad day", http.StatusNotFound)
	}))
	defer srv.Close()
	c := client.New(srv.URL, nil)
	_, err := c.Device(context.Background(), "sensor-1")
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 404 || apiErr.Code != wire.CodeNotFound || apiErr.Message != "upstream is having a bad day" {
		t.Fatalf("err = %#v", err)
	}
}

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = client.New("https://"+addr, nil).CA(ctx)
	if !errors.Is(err, client.ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
}

func TestLoadTLS(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := apitest.Start(t, apitest.Options{})
	tests := []struct {
		name, cert, key, ca string
		ok                  bool
	}{
		{"ok/bootstrap-files", e.AdminCert, e.AdminKey, e.RootCert, true},
		{"error/ca-not-pem", e.AdminCert, e.AdminKey, notPEM, false},
		{"error/key-mismatch", e.AdminCert, filepath.Join(e.CADir, "server.key"), e.RootCert, false},
		{"error/missing-cert", filepath.Join(dir, "nope.crt"), filepath.Join(dir, "nope.key"), notPEM, false},
		{"error/not-pem", notPEM, notPEM, notPEM, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := client.LoadTLS(tc.cert, tc.key, tc.ca)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				// The loaded credentials must be good enough for an
				// operator route.
				if _, err := client.New(e.URL, cfg).Devices(context.Background(), client.DeviceFilter{}); err != nil {
					t.Fatalf("operator call with loaded credentials: %v", err)
				}
				return
			}
			if !errors.Is(err, client.ErrCredentials) {
				t.Fatalf("err = %v, want ErrCredentials", err)
			}
		})
	}
}
