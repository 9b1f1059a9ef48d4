package api_test

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// TestRefusals checks that each bad request gets the right status and code
// and leaves the registry exactly as it was: no device, certificate or audit
// event added, no status changed, no serial allocated.
func TestRefusals(t *testing.T) {
	e := apitest.Start(t, apitest.Options{})
	ctx := testCtx(t)
	mustRegister(t, e, "active-1")
	mustRegister(t, e, "suspended-1")
	mustRegister(t, e, "revoked-1")
	issued := mustIssue(t, e, "active-1")
	if _, err := e.Admin.Suspend(ctx, "suspended-1", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Admin.Revoke(ctx, "revoked-1", "test"); err != nil {
		t.Fatal(err)
	}
	goodCSR, _ := newCSR(t, "active-1")

	viaClient := func(call func(context.Context, *client.Client) error) func(t *testing.T) (int, wire.Code) {
		return func(t *testing.T) (int, wire.Code) {
			err := call(ctx, e.Admin)
			var apiErr *client.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want an *APIError", err)
			}
			t.Logf("refused: %s", apiErr.Message)
			return apiErr.Status, apiErr.Code
		}
	}
	viaRaw := func(method, path, body string) func(t *testing.T) (int, wire.Code) {
		return func(t *testing.T) (int, wire.Code) {
			status, eb := raw(t, e, method, path, []byte(body))
			if eb.Error.Message == "" {
				t.Errorf("error body has no message")
			}
			t.Logf("refused: %s", eb.Error.Message)
			return status, eb.Error.Code
		}
	}
	issue := func(id string, csr []byte, lifetime time.Duration) func(t *testing.T) (int, wire.Code) {
		return viaClient(func(ctx context.Context, c *client.Client) error {
			_, err := c.IssueCertificate(ctx, id, csr, lifetime)
			return err
		})
	}
	register := func(id string) func(t *testing.T) (int, wire.Code) {
		return viaClient(func(ctx context.Context, c *client.Client) error {
			_, err := c.RegisterDevice(ctx, wire.RegisterRequest{ID: id})
			return err
		})
	}

	const (
		bad      = http.StatusBadRequest
		notFound = http.StatusNotFound
		conflict = http.StatusConflict
	)
	tests := []struct {
		name   string
		do     func(t *testing.T) (int, wire.Code)
		status int
		code   wire.Code
	}{
		{"error/csr-garbage", issue("active-1", []byte("not a certificate request"), 0), bad, wire.CodeBadRequest},
		{"error/csr-tampered-signature", issue("active-1", tamperSignature(t, goodCSR), 0), bad, wire.CodeBadRequest},
		{"error/csr-missing", issue("active-1", nil, 0), bad, wire.CodeBadRequest},
		{"error/lifetime-too-long", issue("active-1", goodCSR, 400*24*time.Hour), bad, wire.CodeBadRequest},
		{"error/lifetime-not-a-duration", viaRaw("POST", "/v1/devices/active-1/certificates",
			fmt.Sprintf(`{"csr":%q,"lifetime":"a month"}`, goodCSR)), bad, wire.CodeBadRequest},
		{"error/issue-unknown-device", issue("ghost", goodCSR, 0), notFound, wire.CodeNotFound},
		{"error/issue-suspended-device", issue("suspended-1", goodCSR, 0), conflict, wire.CodeInvalidState},
		{"error/issue-revoked-device", issue("revoked-1", goodCSR, 0), conflict, wire.CodeInvalidState},
		{"error/issue-invalid-id", issue("a+b", goodCSR, 0), bad, wire.CodeBadRequest},
		{"error/duplicate-id", register("active-1"), conflict, wire.CodeExists},
		{"error/reuse-revoked-id", register("revoked-1"), conflict, wire.CodeExists},
		{"error/invalid-id-slash", register("a/b"), bad, wire.CodeBadRequest},
		{"error/invalid-id-plus", register("a+b"), bad, wire.CodeBadRequest},
		{"error/invalid-id-empty", register(""), bad, wire.CodeBadRequest},
		{"error/bad-topic-filter", viaRaw("POST", "/v1/devices", `{"id":"new-1","publish":["a/#/b"]}`), bad, wire.CodeBadRequest},
		{"error/unknown-json-field", viaRaw("POST", "/v1/devices", `{"id":"new-1","colour":"red"}`), bad, wire.CodeBadRequest},
		{"error/malformed-json", viaRaw("POST", "/v1/devices", `{"id":`), bad, wire.CodeBadRequest},
		{"error/empty-body", viaRaw("POST", "/v1/devices", ``), bad, wire.CodeBadRequest},
		{"error/trailing-data", viaRaw("POST", "/v1/devices", `{"id":"new-1"}{"id":"new-2"}`), bad, wire.CodeBadRequest},
		{"error/body-over-limit", viaRaw("POST", "/v1/devices",
			`{"id":"new-1","metadata":{"blob":"`+strings.Repeat("x", 70<<10)+`"}}`), bad, wire.CodeBadRequest},
		{"error/show-unknown-device", viaClient(func(ctx context.Context, c *client.Client) error {
			_, err := c.Device(ctx, "ghost")
			return err
		}), notFound, wire.CodeNotFound},
		{"error/suspend-unknown-device", viaClient(func(ctx context.Context, c *client.Client) error {
			_, err := c.Suspend(ctx, "ghost", "")
			return err
		}), notFound, wire.CodeNotFound},
		{"error/revoke-without-reason", viaClient(func(ctx context.Context, c *client.Client) error {
			_, err := c.Revoke(ctx, "active-1", "  ")
			return err
		}), bad, wire.CodeBadRequest},
		{"error/resume-revoked-device", viaClient(func(ctx context.Context, c *client.Client) error {
			_, err := c.Resume(ctx, "revoked-1", "")
			return err
		}), conflict, wire.CodeInvalidState},
		{"error/suspend-revoked-device", viaClient(func(ctx context.Context, c *client.Client) error {
			_, err := c.Suspend(ctx, "revoked-1", "")
			return err
		}), conflict, wire.CodeInvalidState},
		{"error/cert-revoke-without-reason", viaClient(func(ctx context.Context, c *client.Client) error {
			_, err := c.RevokeCertificate(ctx, issued.Serial, "")
			return err
		}), bad, wire.CodeBadRequest},
		{"error/cert-unknown-serial", viaClient(func(ctx context.Context, c *client.Client) error {
			_, err := c.Certificate(ctx, "abc123")
			return err
		}), notFound, wire.CodeNotFound},
		{"error/cert-revoke-unknown-serial", viaClient(func(ctx context.Context, c *client.Client) error {
			_, err := c.RevokeCertificate(ctx, "abc123", "lost")
			return err
		}), notFound, wire.CodeNotFound},
		{"error/list-bad-status", viaRaw("GET", "/v1/devices?status=sleeping", ""), bad, wire.CodeBadRequest},
		{"error/audit-bad-since", viaRaw("GET", "/v1/audit?since=yesterday", ""), bad, wire.CodeBadRequest},
		{"error/audit-bad-limit", viaRaw("GET", "/v1/audit?limit=-1", ""), bad, wire.CodeBadRequest},
		{"error/unknown-route", viaRaw("GET", "/v1/gadgets", ""), notFound, wire.CodeNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := take(t, e)
			status, code := tc.do(t)
			if status != tc.status || code != tc.code {
				t.Errorf("got %d %q, want %d %q", status, code, tc.status, tc.code)
			}
			assertUnchanged(t, e, before)
		})
	}
}

// tamperSignature flips one bit in the last byte of the CSR, which is part
// of its signature, so that the CSR parses but does not verify.
func tamperSignature(t *testing.T, csrPEM []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(csrPEM)
	der := append([]byte(nil), block.Bytes...)
	der[len(der)-1] ^= 0x01
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}
