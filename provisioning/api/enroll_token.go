package api

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// enrollToken serves POST /v1/enroll/token: a device of a group that allows
// software keys presents a one-time token and a CSR. The JSON route and
// EST's simpleenroll share enrolByToken, so policy, single use and the
// audit log are decided once.
func (a *API) enrollToken(w http.ResponseWriter, r *http.Request) {
	var req wire.TokenRequest
	if err := a.decode(w, r, &req, false); err != nil {
		a.refuse(w, r, "", err)
		return
	}
	issued, err := a.enrolByToken(r.Context(), tokenEnrolment{
		DeviceID: req.DeviceID, Token: req.Token, CSR: req.CSR, Remote: r.RemoteAddr,
	})
	if err != nil {
		a.refuse(w, r, req.DeviceID, err)
		return
	}
	writeJSON(w, http.StatusCreated, issued)
}

// tokenEnrolment is one token enrolment as any route receives it.
type tokenEnrolment struct {
	DeviceID string
	Token    string
	// CSR is the PEM request; ParsedCSR, when set, is used instead (EST
	// sends DER).
	CSR       string
	ParsedCSR *x509.CertificateRequest
	// Group, when set, must be the token's group (an EST label names it).
	Group  string
	Remote string
}

// enrolByToken is the one decision for a token enrolment. The token is
// consumed in the registry transaction that creates the device and records
// its certificate, so a token used concurrently yields exactly one
// certificate.
func (a *API) enrolByToken(ctx context.Context, e tokenEnrolment) (wire.Issued, error) {
	id := e.DeviceID
	if err := identity.ValidateID(id); err != nil {
		return wire.Issued{}, err
	}
	// A string that cannot be a token is refused without reading the
	// registry or spending a serial.
	if !plausibleToken(e.Token) {
		return wire.Issued{}, withCode(wire.CodeTokenInvalid, errors.New("token is not of the form fgt_<43 base64url characters>"))
	}
	csr, err := e.ParsedCSR, error(nil)
	if csr == nil {
		csr, err = parseDeviceCSR(e.CSR)
	}
	if err == nil {
		err = softwareCSR(csr)
	}
	if err != nil {
		return wire.Issued{}, err
	}
	// A device that exists may re-enroll with a token only when its
	// certificate expired (store.CompleteEnrollment decides, in the same
	// transaction that consumes the token).
	hash := store.HashToken(e.Token)
	kh, err := keyHash(csr.PublicKey)
	if err != nil {
		return wire.Issued{}, err
	}
	// Judge the token with a read first, so a stale or guessed token costs
	// neither a registry write (serial) nor a signature.
	tok, err := a.db.CheckToken(ctx, hash)
	if err != nil {
		return a.tokenRetry(ctx, id, hash, kh, err)
	}
	group := e.Group
	if group == "" {
		group = tok.Group // named, so that the registry reads it with the rest
	}
	issued, err := a.issueFor(ctx, id, csr, store.AttestToken, func(rec store.Certificate) error {
		return tokenErr(a.db.CompleteEnrollment(ctx, store.Enrollment{
			TokenHash:   hash,
			Device:      store.Device{ID: id, Group: group, Status: store.DeviceActive},
			Certificate: rec,
		}, deviceActor(id, e.Remote)))
	})
	if err != nil {
		// The same device with the same key may have won the race for the
		// token with a request of its own a moment ago.
		return a.tokenRetry(ctx, id, hash, kh, err)
	}
	a.log.Info("device enrolled", "device", id, "serial", issued.Serial, "attestation", store.AttestToken, "remote", e.Remote)
	return issued, nil
}

// tokenRetry answers a token enrollment refused with err: when err says
// the token was spent, and it was spent on this device for this key a
// moment ago (store.FindTokenRetry), the answer is the certificate
// already issued, so that a device whose answer was lost can retry; else
// err, with its code.
func (a *API) tokenRetry(ctx context.Context, id, hash, kh string, err error) (wire.Issued, error) {
	if !errors.Is(err, store.ErrReplayed) {
		return wire.Issued{}, tokenErr(err) // a code chosen already stays
	}
	prev, rerr := a.db.FindTokenRetry(ctx, hash, id, kh)
	if rerr != nil {
		if errors.Is(rerr, store.ErrReplayed) {
			err = rerr // says why it is no retry
		}
		return wire.Issued{}, tokenErr(err)
	}
	a.log.Info("token enrollment retried: answered with the certificate already issued", "device", id, "serial", prev.Serial)
	return a.issued(a.authority(), prev), nil
}

// tokenErr gives the registry's refusals of a token their codes.
func tokenErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrReplayed):
		return withCode(wire.CodeTokenReplayed, err)
	case errors.Is(err, store.ErrExpired):
		return withCode(wire.CodeTokenExpired, err)
	case errors.Is(err, store.ErrNotFound):
		return withCode(wire.CodeTokenInvalid, err)
	case errors.Is(err, store.ErrState):
		return withCode(wire.CodeDeviceNotActive, err)
	default:
		return err
	}
}

// tokenLen is the length of store.CreateTokens' tokens: the prefix and 32
// bytes in unpadded base64url.
var tokenLen = len(store.TokenPrefix) + base64.RawURLEncoding.EncodedLen(32)

// plausibleToken reports whether s has the shape of a token.
func plausibleToken(s string) bool {
	if len(s) != tokenLen || !strings.HasPrefix(s, store.TokenPrefix) {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s[len(store.TokenPrefix):])
	return err == nil
}
