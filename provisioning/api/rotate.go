package api

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"

	"github.com/fleetgate/fleetgate/provisioning/attest"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// startRotation serves POST /v1/rotate/start for a TPM device: a nonce to
// certify the new key with, kept as a single-use challenge. No credential
// is needed: the AK was bound to the EK at enrollment and is remembered.
func (a *API) startRotation(w http.ResponseWriter, r *http.Request, d store.Device, _ store.Certificate) {
	if err := a.decode(w, r, &struct{}{}, true); err != nil {
		a.refuse(w, r, d.ID, err)
		return
	}
	if len(d.AKPublic) == 0 {
		a.refuse(w, r, d.ID, fmt.Errorf("%w: device %s has no TPM attestation key; send the CSR alone to %s", errBadRequest, d.ID, wire.PathRotationFinish))
		return
	}
	ch := store.Challenge{
		DeviceID:  d.ID,
		Purpose:   store.PurposeRotate,
		EKHash:    d.EKHash,
		AKPublic:  d.AKPublic,
		ExpiresAt: a.now().Add(a.cfg.ChallengeTTL).UTC(),
	}
	var err error
	if ch.ID, ch.Nonce, err = newChallengeID(); err != nil {
		a.refuse(w, r, d.ID, err)
		return
	}
	// The registry wants a secret on every challenge; a rotation has no
	// credential to activate, so this one is never sent or compared.
	ch.Secret = make([]byte, attest.SecretSize)
	if _, err := rand.Read(ch.Secret); err != nil {
		a.refuse(w, r, d.ID, err)
		return
	}
	if err := a.db.PutChallenge(r.Context(), ch); err != nil {
		a.refuse(w, r, d.ID, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.RotationChallenge{ChallengeID: ch.ID, Nonce: ch.Nonce, ExpiresAt: ch.ExpiresAt})
}

// finishRotation serves POST /v1/rotate/finish. The new certificate
// supersedes the one the request was authenticated with, which stays
// active until the device connects with the new one. A retry for the same
// key, after a lost reply, gets the certificate already issued (200)
// rather than a second one (201).
func (a *API) finishRotation(w http.ResponseWriter, r *http.Request, d store.Device, old store.Certificate) {
	var req wire.RotationRequest
	if err := a.decode(w, r, &req, false); err != nil {
		a.refuse(w, r, d.ID, err)
		return
	}
	csr, err := parseDeviceCSR(req.CSR)
	if err != nil {
		a.refuse(w, r, d.ID, err)
		return
	}
	issued, retried, err := a.rotate(r, d, old, req, csr)
	if err != nil {
		a.refuse(w, r, d.ID, err)
		return
	}
	status := http.StatusCreated
	if retried {
		status = http.StatusOK
	}
	writeJSON(w, status, issued)
}

// rotate is the one decision for a rotation, over JSON or EST's
// simplereenroll: csr's key gets a certificate superseding old. retried
// reports that the certificate had already been issued for this key.
func (a *API) rotate(r *http.Request, d store.Device, old store.Certificate, req wire.RotationRequest, csr *x509.CertificateRequest) (issued wire.Issued, retried bool, err error) {
	// The CSR's signature is checked before its key is trusted to look up
	// an earlier rotation: the certificate is no secret, but a retry must
	// still come from the key's holder.
	if err := csr.CheckSignature(); err != nil {
		return wire.Issued{}, false, fmt.Errorf("%w: %w", attest.ErrCSRSignature, err)
	}
	kh, err := keyHash(csr.PublicKey)
	if err != nil {
		return wire.Issued{}, false, err
	}
	if prev, ok := a.findRetry(r.Context(), d.ID, old.Serial, kh); ok {
		return prev, true, nil
	}
	if len(d.AKPublic) > 0 {
		issued, err = a.rotateTPM(r, d, old, req, csr)
	} else {
		issued, err = a.rotateSoftware(r, d, old, req, csr)
	}
	if errors.Is(err, store.ErrExists) {
		if prev, ok := a.findRetry(r.Context(), d.ID, old.Serial, kh); ok {
			return prev, true, nil // a concurrent retry recorded it first
		}
	}
	if err != nil {
		return wire.Issued{}, false, err
	}
	a.log.Info("certificate rotated", "device", d.ID, "serial", issued.Serial, "supersedes", old.Serial, "remote", r.RemoteAddr)
	return issued, false, nil
}

// findRetry returns the certificate already issued to replace old for the
// key, if there is one.
func (a *API) findRetry(ctx context.Context, id, old, kh string) (wire.Issued, bool) {
	prev, err := a.db.FindRotation(ctx, old, kh)
	if err != nil {
		return wire.Issued{}, false // ErrNotFound, or a read failure the write path will meet again
	}
	a.log.Info("rotation retried", "device", id, "serial", prev.Serial, "supersedes", old)
	return a.issued(a.authority(), prev), true
}

// rotateTPM checks the AK remembered from enrollment certified the new key
// with the rotation challenge's nonce.
func (a *API) rotateTPM(r *http.Request, d store.Device, old store.Certificate, req wire.RotationRequest, csr *x509.CertificateRequest) (wire.Issued, error) {
	if req.ChallengeID == "" || len(req.KeyPublic) == 0 || len(req.Attestation) == 0 || len(req.Signature) == 0 {
		return wire.Issued{}, fmt.Errorf("%w: a TPM device rotates with challenge_id, key_public, attestation and signature", errBadRequest)
	}
	ch, err := a.challenge(r.Context(), req.ChallengeID, store.PurposeRotate, d.ID)
	if err != nil {
		return wire.Issued{}, err
	}
	if _, err := a.verifyTPMKey(ch, d.AKPublic, req.KeyPublic, req.Attestation, req.Signature, req.CSR); err != nil {
		return wire.Issued{}, err
	}
	return a.issueFor(r.Context(), d.ID, csr, store.AttestTPM, func(rec store.Certificate) error {
		return challengeErr(a.db.CompleteEnrollment(r.Context(), store.Enrollment{
			ChallengeID: ch.ID,
			Device:      store.Device{ID: d.ID, EKHash: ch.EKHash, AKPublic: ch.AKPublic},
			Certificate: rec,
			Supersedes:  old.Serial,
		}, deviceActor(d.ID, r.RemoteAddr)))
	})
}

// rotateSoftware renews a software key, allowed only in a group whose
// policy admits software keys (the token groups).
func (a *API) rotateSoftware(r *http.Request, d store.Device, old store.Certificate, req wire.RotationRequest, csr *x509.CertificateRequest) (wire.Issued, error) {
	if req.ChallengeID != "" || len(req.KeyPublic) > 0 || len(req.Attestation) > 0 || len(req.Signature) > 0 {
		return wire.Issued{}, fmt.Errorf("%w: device %s has no TPM attestation key; send the CSR alone", errBadRequest, d.ID)
	}
	g, err := a.db.Group(r.Context(), d.Group)
	if errors.Is(err, store.ErrNotFound) {
		g, err = store.Group{Name: d.Group}, nil // a group without a record has the default policy
	}
	if err != nil {
		return wire.Issued{}, err
	}
	if g.RequireTPM || !g.AllowTokens {
		return wire.Issued{}, fmt.Errorf("%w: group %q does not admit software keys", store.ErrPolicy, d.Group)
	}
	if err := softwareCSR(csr); err != nil {
		return wire.Issued{}, err
	}
	return a.issueFor(r.Context(), d.ID, csr, store.AttestToken, func(rec store.Certificate) error {
		return a.db.CompleteEnrollment(r.Context(), store.Enrollment{
			Device:      store.Device{ID: d.ID},
			Certificate: rec,
			Supersedes:  old.Serial,
		}, deviceActor(d.ID, r.RemoteAddr))
	})
}
