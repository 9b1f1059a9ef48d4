package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/provisioning/attest"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// nonceSize is the length of the Certify qualifying data: as long as a
// SHA-256 digest, which every TPM accepts.
const nonceSize = 32

// startTPM serves POST /v1/enroll/tpm/start (DESIGN.md steps 1 to 3): it
// checks the AK's attributes, trusts the EK through its certificate or the
// allow-list, and answers with a credential bound to the AK's name and
// the certified EK, plus a fresh nonce. Both are kept in the registry as a
// single-use challenge; nothing else is written.
func (a *API) startTPM(w http.ResponseWriter, r *http.Request) {
	var req wire.TPMStartRequest
	if err := a.decode(w, r, &req, false); err != nil {
		a.refuse(w, r, "", err)
		return
	}
	if req.DeviceID != "" {
		if err := identity.ValidateID(req.DeviceID); err != nil {
			a.refuse(w, r, "", err)
			return
		}
	}
	if len(req.AKPublic) == 0 {
		a.refuse(w, r, req.DeviceID, fmt.Errorf("%w: ak_public is required", errBadRequest))
		return
	}
	ak, err := attest.ParseAK(req.AKPublic)
	if err != nil {
		a.refuse(w, r, req.DeviceID, err)
		return
	}
	ek, err := a.resolveEK(req)
	if err != nil {
		a.refuse(w, r, req.DeviceID, err)
		return
	}
	d, err := a.allowedDevice(r.Context(), req.DeviceID, ek)
	if err != nil {
		a.refuse(w, r, req.DeviceID, err)
		return
	}
	cred, err := attest.MakeCredential(ek.key, ak.Name)
	if err != nil {
		a.refuse(w, r, d.ID, err)
		return
	}
	ch := store.Challenge{
		DeviceID:  d.ID,
		Purpose:   store.PurposeEnroll,
		EKHash:    ek.hash,
		AKPublic:  ak.Raw,
		Secret:    cred.Secret,
		ExpiresAt: a.now().Add(a.cfg.ChallengeTTL).UTC(),
	}
	if ch.ID, ch.Nonce, err = newChallengeID(); err != nil {
		a.refuse(w, r, d.ID, err)
		return
	}
	if err := a.db.PutChallenge(r.Context(), ch); err != nil {
		a.refuse(w, r, d.ID, err)
		return
	}
	a.log.Info("enrollment challenge issued", "device", d.ID, "challenge", ch.ID, "ek_from_cert", ek.fromCert, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, wire.TPMStartResponse{
		ChallengeID:     ch.ID,
		CredentialBlob:  cred.CredBlob,
		EncryptedSecret: cred.EncSecret,
		Nonce:           ch.Nonce,
		ExpiresAt:       ch.ExpiresAt,
	})
}

// allowedDevice returns the active device the EK may enroll: the named one
// if the factory registered exactly this EK for it, or, without a name, the
// one the EK's hash is registered to.
func (a *API) allowedDevice(ctx context.Context, id string, ek endorsement) (store.Device, error) {
	if id == "" {
		d, err := a.db.DeviceByEK(ctx, ek.hash)
		if errors.Is(err, store.ErrNotFound) {
			return store.Device{}, withCode(wire.CodeEKNotAllowed, fmt.Errorf("EK %s is on no device's allow-list: %w", ek.hash, err))
		}
		if err != nil {
			return store.Device{}, err
		}
		return d, checkActive(d)
	}
	d, err := a.db.Device(ctx, id)
	if err != nil {
		return store.Device{}, err
	}
	if d.EKHash == "" || d.EKHash != ek.hash {
		return store.Device{}, withCode(wire.CodeEKNotAllowed, fmt.Errorf("device %s: EK %s is not the registered one (%q)", id, ek.hash, d.EKHash))
	}
	return d, checkActive(d)
}

// checkActive refuses a suspended or revoked device.
func checkActive(d store.Device) error {
	if d.Status != store.DeviceActive {
		return fmt.Errorf("%w: device %s is %s", store.ErrState, d.ID, d.Status)
	}
	return nil
}

// newChallengeID returns a random challenge ID (32 hex digits, as the
// registry wants) and a fresh nonce.
func newChallengeID() (string, []byte, error) {
	buf := make([]byte, 16+nonceSize)
	if _, err := rand.Read(buf); err != nil {
		return "", nil, fmt.Errorf("challenge randomness: %w", err)
	}
	return hex.EncodeToString(buf[:16]), buf[16:], nil
}
