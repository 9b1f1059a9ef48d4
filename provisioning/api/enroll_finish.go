package api

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"

	"github.com/fleetgate/fleetgate/provisioning/attest"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// finishTPM serves POST /v1/enroll/tpm/finish (DESIGN.md step 5). Every
// check runs before the first write; the certificate is recorded and the
// challenge consumed in one registry transaction, so of two concurrent
// finishes with one challenge exactly one gets a certificate.
func (a *API) finishTPM(w http.ResponseWriter, r *http.Request) {
	var req wire.TPMFinishRequest
	if err := a.decode(w, r, &req, false); err != nil {
		a.refuse(w, r, "", err)
		return
	}
	if req.ChallengeID == "" || len(req.Secret) == 0 || len(req.KeyPublic) == 0 || len(req.Attestation) == 0 || len(req.Signature) == 0 {
		a.refuse(w, r, "", fmt.Errorf("%w: challenge_id, secret, key_public, attestation and signature are required", errBadRequest))
		return
	}
	ch, err := a.challenge(r.Context(), req.ChallengeID, store.PurposeEnroll, "")
	if err != nil {
		a.refuse(w, r, ch.DeviceID, err)
		return
	}
	id := ch.DeviceID
	if err := attest.VerifyActivation(ch.Secret, req.Secret); err != nil {
		a.refuse(w, r, id, err)
		return
	}
	csr, err := a.verifyTPMKey(ch, ch.AKPublic, req.KeyPublic, req.Attestation, req.Signature, req.CSR)
	if err != nil {
		a.refuse(w, r, id, err)
		return
	}
	// The device may have been suspended, or its allow-list entry changed,
	// since start: refuse before a serial is spent. The registry checks
	// both again when it records the enrollment.
	d, err := a.db.Device(r.Context(), id)
	if err == nil && d.EKHash != ch.EKHash {
		err = withCode(wire.CodeEKNotAllowed, fmt.Errorf("device %s: allow-list entry changed since the challenge", id))
	}
	if err == nil {
		err = checkActive(d)
	}
	if err != nil {
		a.refuse(w, r, id, err)
		return
	}
	issued, err := a.issueFor(r.Context(), id, csr, store.AttestTPM, func(rec store.Certificate) error {
		return challengeErr(a.db.CompleteEnrollment(r.Context(), store.Enrollment{
			ChallengeID: ch.ID,
			Device:      store.Device{ID: id, EKHash: ch.EKHash, AKPublic: ch.AKPublic},
			Certificate: rec,
		}, deviceActor(id, r.RemoteAddr)))
	})
	if err != nil {
		a.refuse(w, r, id, err)
		return
	}
	a.log.Info("device enrolled", "device", id, "serial", issued.Serial, "attestation", store.AttestTPM, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusCreated, issued)
}

// challenge reads a live challenge of the given purpose, issued to
// deviceID when that is not empty.
func (a *API) challenge(ctx context.Context, id, purpose, deviceID string) (store.Challenge, error) {
	ch, err := a.db.Challenge(ctx, id)
	if err != nil {
		return store.Challenge{}, challengeErr(err)
	}
	if ch.Purpose != purpose || (deviceID != "" && ch.DeviceID != deviceID) {
		// Someone else's challenge, or one for the other route: to this
		// caller it does not exist.
		return store.Challenge{}, fmt.Errorf("%w: challenge %s is not a %s challenge of this device", store.ErrNotFound, id, purpose)
	}
	return ch, nil
}

// challengeErr gives the registry's refusals of a challenge their codes.
func challengeErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrReplayed): // before ErrNotFound, which Challenge adds
		return withCode(wire.CodeChallengeReplayed, err)
	case errors.Is(err, store.ErrExpired):
		return withCode(wire.CodeChallengeExpired, err)
	case errors.Is(err, store.ErrPolicy):
		// The TPM differs from the one registered for the device.
		return withCode(wire.CodeEKNotAllowed, err)
	default:
		return err
	}
}

// verifyTPMKey runs the certification checks of step 5 with the AK akPublic
// and the challenge's nonce, and returns the CSR once its key is proven to
// be the certified one.
func (a *API) verifyTPMKey(ch store.Challenge, akPublic, keyPublic, attestation, sig []byte, csrPEM string) (csr *x509.CertificateRequest, err error) {
	if !bytes.Equal(akPublic, ch.AKPublic) {
		return nil, withCode(wire.CodePolicy, fmt.Errorf("challenge %s was made for another AK", ch.ID))
	}
	ak, err := attest.ParseAK(akPublic)
	if err != nil {
		return nil, fmt.Errorf("stored AK of device %s: %v", ch.DeviceID, err) // internal: it passed at start
	}
	key, err := attest.VerifyCertify(ak, keyPublic, attestation, sig, ch.Nonce)
	if errors.Is(err, attest.ErrMalformed) {
		err = withCode(wire.CodeAttestation, err)
	}
	if err != nil {
		return nil, err
	}
	csr, err = parseDeviceCSR(csrPEM)
	if err != nil {
		return nil, err
	}
	if err := attest.VerifyCSR(csr, key); err != nil {
		return nil, err
	}
	return csr, nil
}
