package api

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// enrollToken serves POST /v1/enroll/token: a device of a group that allows
// software keys presents a one-time token and a CSR. The token is consumed
// in the registry transaction that creates the device and records its
// certificate, so a token used concurrently yields exactly one certificate.
func (a *API) enrollToken(w http.ResponseWriter, r *http.Request) {
	var req wire.TokenRequest
	if err := a.decode(w, r, &req, false); err != nil {
		a.refuse(w, r, "", err)
		return
	}
	id := req.DeviceID
	if err := identity.ValidateID(id); err != nil {
		a.refuse(w, r, "", err)
		return
	}
	// A string that cannot be a token is refused without reading the
	// registry or spending a serial.
	if !plausibleToken(req.Token) {
		a.refuse(w, r, id, withCode(wire.CodeTokenInvalid, errors.New("token is not of the form fgt_<43 base64url characters>")))
		return
	}
	csr, err := parseDeviceCSR(req.CSR)
	if err == nil {
		err = softwareCSR(csr)
	}
	if err != nil {
		a.refuse(w, r, id, err)
		return
	}
	// A device that exists may re-enroll with a token only when its
	// certificate expired (store.CompleteEnrollment decides, in the same
	// transaction that consumes the token).
	hash := store.HashToken(req.Token)
	// Judge the token with a read first, so a stale or guessed token costs
	// neither a registry write (serial) nor a signature.
	if _, err := a.db.CheckToken(r.Context(), hash); err != nil {
		a.refuse(w, r, id, tokenErr(err))
		return
	}
	issued, err := a.issueFor(r.Context(), id, csr, store.AttestToken, func(rec store.Certificate) error {
		return tokenErr(a.db.CompleteEnrollment(r.Context(), store.Enrollment{
			TokenHash:   hash,
			Device:      store.Device{ID: id, Status: store.DeviceActive},
			Certificate: rec,
		}, deviceActor(id, r.RemoteAddr)))
	})
	if err != nil {
		a.refuse(w, r, id, err)
		return
	}
	a.log.Info("device enrolled", "device", id, "serial", issued.Serial, "attestation", store.AttestToken, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusCreated, issued)
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
