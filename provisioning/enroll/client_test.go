package enroll_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/deptest"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/enroll"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// serve starts a TLS server answering every request with h, and a client
// that trusts it.
func serve(t *testing.T, h http.HandlerFunc) (*httptest.Server, *enroll.Client) {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	c := enroll.New(srv.URL+"/", roots)
	t.Cleanup(c.CloseIdleConnections)
	return srv, c
}

// TestWire checks the JSON names and base64 byte fields on both sides of
// StartTPM, the routes each call posts to, and that a 2xx answer decodes.
func TestWire(t *testing.T) {
	var got map[string]any
	var paths []string
	_, c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.Method+" "+r.URL.Path)
		got = nil
		_ = json.NewDecoder(r.Body).Decode(&got)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case wire.PathTPMStart:
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"challenge_id":"abc","credential_blob":"AQI=","encrypted_secret":"AwQ=","nonce":"BQY=","expires_at":"2030-01-02T03:04:05Z"}`))
		case wire.PathRotationStart:
			_, _ = w.Write([]byte(`{"challenge_id":"r1","nonce":"BwgJ","expires_at":"2030-01-02T03:04:05Z"}`))
		default:
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"serial":"1f","fingerprint":"ab","certificate":"leaf","chain":"leaf+ca"}`))
		}
	})
	ctx := testCtx(t)
	resp, err := c.StartTPM(ctx, wire.TPMStartRequest{DeviceID: "sensor-1", EKCert: []byte{0xde, 0xad}, AKPublic: []byte{1}})
	if err != nil {
		t.Fatal(err)
	}
	if got["device_id"] != "sensor-1" || got["ek_cert"] != "3q0=" || got["ak_public"] != "AQ==" {
		t.Errorf("request body = %v", got)
	}
	if _, sent := got["ek_public"]; sent {
		t.Errorf("empty ek_public was sent: %v", got)
	}
	want := wire.TPMStartResponse{ChallengeID: "abc", CredentialBlob: []byte{1, 2}, EncryptedSecret: []byte{3, 4}, Nonce: []byte{5, 6},
		ExpiresAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	if resp.ChallengeID != want.ChallengeID || !bytes.Equal(resp.CredentialBlob, want.CredentialBlob) ||
		!bytes.Equal(resp.EncryptedSecret, want.EncryptedSecret) || !bytes.Equal(resp.Nonce, want.Nonce) || !resp.ExpiresAt.Equal(want.ExpiresAt) {
		t.Errorf("response = %+v, want %+v", resp, want)
	}
	if _, err := c.FinishTPM(ctx, wire.TPMFinishRequest{ChallengeID: "abc"}); err != nil {
		t.Fatal(err)
	}
	issued, err := c.EnrollToken(ctx, wire.TokenRequest{Token: "fgt_x", DeviceID: "sim-1", CSR: "csr"})
	if err != nil || issued.Serial != "1f" || issued.Chain != "leaf+ca" {
		t.Fatalf("EnrollToken = %+v, %v", issued, err)
	}
	if got["token"] != "fgt_x" || got["device_id"] != "sim-1" || got["csr"] != "csr" {
		t.Errorf("token body = %v", got)
	}
	ch, err := c.StartRotation(ctx)
	if err != nil || ch.ChallengeID != "r1" || !bytes.Equal(ch.Nonce, []byte{7, 8, 9}) {
		t.Fatalf("StartRotation = %+v, %v", ch, err)
	}
	if _, err := c.FinishRotation(ctx, wire.RotationRequest{CSR: "csr"}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["csr"] != "csr" {
		t.Errorf("software rotation sent %v, want the CSR alone", got)
	}
	wantPaths := []string{"POST " + wire.PathTPMStart, "POST " + wire.PathTPMFinish, "POST " + wire.PathToken,
		"POST " + wire.PathRotationStart, "POST " + wire.PathRotationFinish}
	if strings.Join(paths, ",") != strings.Join(wantPaths, ",") {
		t.Errorf("paths = %v, want %v", paths, wantPaths)
	}
}

// TestRefusals checks that refusals become *Error with the server's code,
// or a code guessed from the status when the body is not the server's.
func TestRefusals(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		code   wire.Code
		msg    string
	}{
		{"error/server-code", http.StatusForbidden, `{"error":{"code":"nonce_mismatch","message":"wrong nonce"}}`, wire.CodeNonceMismatch, "wrong nonce"},
		{"error/proxy-page", http.StatusBadGateway, `<html>bad gateway</html>`, wire.CodeInternal, "<html>bad gateway</html>"},
		{"error/plain-404", http.StatusNotFound, "no such page", wire.CodeNotFound, "no such page"},
		{"error/plain-401", http.StatusUnauthorized, "", wire.CodeUnauthenticated, ""},
		{"error/json-without-code", http.StatusBadRequest, `{"error":{}}`, wire.CodeBadRequest, `{"error":{}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, c := serve(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			})
			_, err := c.FinishTPM(testCtx(t), wire.TPMFinishRequest{})
			var e *enroll.Error
			if !errors.As(err, &e) || e.Status != tc.status || e.Code != tc.code || e.Message != tc.msg {
				t.Fatalf("err = %#v, want status %d code %s message %q", err, tc.status, tc.code, tc.msg)
			}
			if !enroll.IsCode(err, tc.code) || enroll.IsCode(err, "other") || errors.Is(err, enroll.ErrUnreachable) {
				t.Errorf("IsCode/ErrUnreachable disagree with %v", err)
			}
		})
	}
}

// TestUnreachable checks that no answer is ErrUnreachable, never an *Error:
// nothing listening, and a server the device does not trust.
func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + ln.Addr().String()
	ln.Close()
	untrusted := httptest.NewTLSServer(http.NotFoundHandler())
	defer untrusted.Close()
	for name, c := range map[string]*enroll.Client{
		"error/nothing-listening": enroll.New(closed, x509.NewCertPool()),
		"error/untrusted-server":  enroll.New(untrusted.URL, x509.NewCertPool()),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.EnrollToken(testCtx(t), wire.TokenRequest{})
			var e *enroll.Error
			if !errors.Is(err, enroll.ErrUnreachable) || errors.As(err, &e) {
				t.Fatalf("err = %v, want ErrUnreachable", err)
			}
		})
	}
}

// TestWithClientCertificate checks that the copy presents the certificate
// and the original still does not.
func TestWithClientCertificate(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cn := ""
		if len(r.TLS.PeerCertificates) > 0 {
			cn = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		_, _ = w.Write([]byte(`{"challenge_id":"` + cn + `"}`))
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	plain := enroll.New(srv.URL, roots)
	cert := selfSigned(t, "sensor-1")
	withCert := plain.WithClientCertificate(func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil })

	if ch, err := withCert.StartRotation(testCtx(t)); err != nil || ch.ChallengeID != "sensor-1" {
		t.Fatalf("with certificate: %+v, %v", ch, err)
	}
	if ch, err := plain.StartRotation(testCtx(t)); err != nil || ch.ChallengeID != "" {
		t.Fatalf("original client presented %q, %v", ch.ChallengeID, err)
	}
}

// TestStandardLibraryOnly keeps the package free of server code, the
// registry and TPM libraries: the agent built for small boards links it.
func TestStandardLibraryOnly(t *testing.T) {
	deptest.DepChecker{
		Pkg:        ".",
		BadDeps:    deptest.ServerDeps,
		StdlibOnly: true,
		AllowDeps:  []string{"github.com/fleetgate/fleetgate/provisioning/wire"},
		WantDeps:   []string{"net/http"},
	}.Check(t)
}

func selfSigned(t *testing.T, cn string) *tls.Certificate {
	t.Helper()
	key := pki.Key(t)
	leaf := pki.Issue(t, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, nil, &key.PublicKey, key)
	return &tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key}
}
