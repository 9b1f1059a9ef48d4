package revocation

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"math/big"
	"net/http"
	"net/url"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/store"
)

// TestOCSPStatuses: good, then revoked with the registry's time and
// reason once the change feed has reached the responder, by POST and GET.
func TestOCSPStatuses(t *testing.T) {
	e := newEnv(t)
	issuer := e.ca.DeviceCA()
	leaf := e.device(t, "dev-1")

	get := func(t *testing.T, der []byte) []byte {
		resp, err := http.Get(e.url + "/ocsp/" + url.PathEscape(base64.StdEncoding.EncodeToString(der)))
		if err != nil {
			t.Fatal(err)
		}
		return body(t, resp)
	}
	senders := map[string]func(*testing.T, []byte) []byte{
		"POST": func(t *testing.T, der []byte) []byte { return e.post(t, der) },
		"GET":  get,
	}
	for name, send := range senders {
		t.Run("ok/good by "+name, func(t *testing.T) {
			r := parse(t, send(t, ocspRequest(t, leaf, issuer, nil)), leaf, issuer)
			if r.Status != ocsp.Good || r.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
				t.Fatalf("status %d serial %v, want good %v", r.Status, r.SerialNumber, leaf.SerialNumber)
			}
			if !r.NextUpdate.After(r.ThisUpdate) || r.ThisUpdate.After(time.Now()) {
				t.Errorf("thisUpdate %v nextUpdate %v", r.ThisUpdate, r.NextUpdate)
			}
		})
	}

	// The good answer is cached now; the revocation must empty the cache.
	rec, err := e.db.RevokeCertificate(t.Context(), ca.SerialHex(leaf), "key compromised", store.Actor{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	e.await(t, ca.SerialHex(leaf))
	for name, send := range senders {
		t.Run("ok/revoked by "+name, func(t *testing.T) {
			r := parse(t, send(t, ocspRequest(t, leaf, issuer, nil)), leaf, issuer)
			if r.Status != ocsp.Revoked {
				t.Fatalf("status %d, want revoked", r.Status)
			}
			if r.RevocationReason != ocsp.KeyCompromise {
				t.Errorf("reason %d, want keyCompromise", r.RevocationReason)
			}
			if !r.RevokedAt.Equal(rec.RevokedAt.Truncate(time.Second)) {
				t.Errorf("revoked at %v, registry says %v", r.RevokedAt, rec.RevokedAt)
			}
		})
	}
}

// TestOCSPDeviceRevocation: revoking a device revokes its certificates;
// the cached "good" answers go at once.
func TestOCSPDeviceRevocation(t *testing.T) {
	e := newEnv(t)
	issuer := e.ca.DeviceCA()
	a := e.device(t, "dev-a")
	b := e.issue(t, "dev-a")
	for _, leaf := range []*x509.Certificate{a, b} {
		if r := parse(t, e.post(t, ocspRequest(t, leaf, issuer, nil)), leaf, issuer); r.Status != ocsp.Good {
			t.Fatalf("before: status %d", r.Status)
		}
	}
	if _, err := e.db.SetDeviceStatus(t.Context(), "dev-a", store.DeviceRevoked, "decommissioned", store.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	e.await(t, ca.SerialHex(a))
	e.await(t, ca.SerialHex(b))
	for _, leaf := range []*x509.Certificate{a, b} {
		r := parse(t, e.post(t, ocspRequest(t, leaf, issuer, nil)), leaf, issuer)
		if r.Status != ocsp.Revoked || r.RevocationReason != ocsp.CessationOfOperation {
			t.Errorf("serial %v: status %d reason %d, want revoked, cessationOfOperation", leaf.SerialNumber, r.Status, r.RevocationReason)
		}
	}
}

// TestOCSPUnknownAndRefused: serials never issued, or issued by another
// intermediate, are unknown; a request naming another CA is unauthorized;
// bytes that are no OCSP request are malformed.
func TestOCSPUnknownAndRefused(t *testing.T) {
	e := newEnv(t)
	issuer := e.ca.DeviceCA()
	e.device(t, "dev-1")

	t.Run("ok/unknown serial", func(t *testing.T) {
		ghost, err := e.ca.IssueDevice(pki.CSR(t, pki.Key(t), "ghost"), "ghost", big.NewInt(999), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if r := parse(t, e.post(t, ocspRequest(t, ghost, issuer, nil)), ghost, issuer); r.Status != ocsp.Unknown {
			t.Fatalf("status %d, want unknown", r.Status)
		}
	})
	t.Run("ok/serial of another issuer is unknown", func(t *testing.T) {
		// A registry record whose certificate another CA signed under a
		// serial this intermediate never used.
		other := pki.NewCA(t, "other")
		if _, err := e.db.CreateDevice(t.Context(), store.Device{ID: "dev-x"}, store.Actor{Name: "test"}); err != nil {
			t.Fatal(err)
		}
		foreign := other.Device(t, "dev-x", nil).Leaf
		err := e.db.AddCertificate(t.Context(), store.Certificate{Serial: ca.SerialHex(foreign), Fingerprint: ca.Fingerprint(foreign),
			DeviceID: "dev-x", NotBefore: foreign.NotBefore, NotAfter: foreign.NotAfter, DER: foreign.Raw}, store.Actor{Name: "test"})
		if err != nil {
			t.Fatal(err)
		}
		// Asked about that serial under our intermediate.
		r := parse(t, e.post(t, ocspRequest(t, foreign, issuer, nil)), foreign, issuer)
		if r.Status != ocsp.Unknown {
			t.Fatalf("status %d, want unknown", r.Status)
		}
	})
	t.Run("error/wrong issuer is unauthorized", func(t *testing.T) {
		other := pki.NewCA(t, "other")
		foreign := other.Device(t, "dev-y", nil).Leaf
		_, err := ocsp.ParseResponse(e.post(t, ocspRequest(t, foreign, other.Cert, nil)), nil)
		var re ocsp.ResponseError
		if !errors.As(err, &re) || re.Status != ocsp.Unauthorized {
			t.Fatalf("error %v, want unauthorized", err)
		}
	})
	for name, der := range map[string][]byte{
		"error/malformed garbage":       []byte("not an OCSP request"),
		"error/malformed empty":         {},
		"error/malformed trailing data": append(ocspRequest(t, e.issue(t, "dev-1"), issuer, nil), 0),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ocsp.ParseResponse(e.post(t, der), nil)
			var re ocsp.ResponseError
			if !errors.As(err, &re) || re.Status != ocsp.Malformed {
				t.Fatalf("error %v, want malformed", err)
			}
		})
	}
	t.Run("error/malformed GET", func(t *testing.T) {
		resp, err := http.Get(e.url + "/ocsp/%25%25not-base64")
		if err != nil {
			t.Fatal(err)
		}
		_, err = ocsp.ParseResponse(body(t, resp), nil)
		var re ocsp.ResponseError
		if !errors.As(err, &re) || re.Status != ocsp.Malformed {
			t.Fatalf("error %v, want malformed", err)
		}
	})
	t.Run("error/method", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPut, e.url+"/ocsp", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("PUT /ocsp: %s", resp.Status)
		}
	})
}

// TestOCSPNonce: a nonce in the request comes back in the response's
// extensions, fresh every time even when the status is cached.
func TestOCSPNonce(t *testing.T) {
	e := newEnv(t)
	issuer := e.ca.DeviceCA()
	leaf := e.device(t, "dev-1")
	parse(t, e.post(t, ocspRequest(t, leaf, issuer, nil)), leaf, issuer) // cache the status
	for _, nonce := range [][]byte{bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 32)} {
		der := e.post(t, ocspRequest(t, leaf, issuer, nonce))
		r := parse(t, der, leaf, issuer)
		got := responseNonce(t, der)
		if !bytes.Equal(got, nonce) || r.Status != ocsp.Good {
			t.Errorf("nonce %x came back as %x (status %d)", nonce, got, r.Status)
		}
	}
	if got := responseNonce(t, e.post(t, ocspRequest(t, leaf, issuer, nil))); got != nil {
		t.Errorf("no nonce asked, nonce %x answered", got)
	}
	if _, err := ocsp.ParseResponse(e.post(t, ocspRequest(t, leaf, issuer, bytes.Repeat([]byte{3}, 200))), nil); err == nil {
		t.Error("a 200-byte nonce was answered")
	}
}

// responseNonce reads the nonce from a response's responseExtensions,
// which x/crypto/ocsp does not expose.
func responseNonce(t *testing.T, der []byte) []byte {
	t.Helper()
	var outer struct {
		Status   asn1.Enumerated
		Response struct {
			Type  asn1.ObjectIdentifier
			Basic []byte
		} `asn1:"explicit,tag:0"`
	}
	var basic struct {
		TBS struct {
			ResponderID asn1.RawValue
			ProducedAt  time.Time `asn1:"generalized"`
			Responses   []asn1.RawValue
			Extensions  []pkix.Extension `asn1:"explicit,tag:1,optional"`
		}
		Alg asn1.RawValue
		Sig asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &outer); err != nil {
		t.Fatal(err)
	}
	if _, err := asn1.Unmarshal(outer.Response.Basic, &basic); err != nil {
		t.Fatal(err)
	}
	for _, x := range basic.TBS.Extensions {
		if x.Id.Equal(oidNonce) {
			var n []byte
			if _, err := asn1.Unmarshal(x.Value, &n); err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	return nil
}
