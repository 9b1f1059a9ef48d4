package revocation

import (
	"testing"

	"golang.org/x/crypto/ocsp"
)

// FuzzRespond: whatever the bytes, the responder answers with an OCSP
// response that parses: an error status, or a response signed by the
// issuing intermediate.
func FuzzRespond(f *testing.F) {
	e := newEnv(f)
	leaf := e.device(f, "dev-1")
	f.Add(ocspRequest(f, leaf, e.ca.DeviceCA(), nil))
	f.Add(ocspRequest(f, leaf, e.ca.DeviceCA(), []byte("0123456789abcdef")))
	f.Add([]byte{0x30, 0x03, 0x30, 0x01, 0x30})
	f.Fuzz(func(t *testing.T, der []byte) {
		resp := e.rsp.respond(t.Context(), der)
		r, err := ocsp.ParseResponse(resp, e.ca.DeviceCA())
		if _, isStatus := err.(ocsp.ResponseError); err != nil && !isStatus {
			t.Fatalf("answer does not parse: %v (%x)", err, resp)
		}
		if err == nil && r.Status != ocsp.Good && r.Status != ocsp.Unknown && r.Status != ocsp.Revoked {
			t.Fatalf("status %d", r.Status)
		}
	})
}
