package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/provisioning/attest"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// errDeviceUnauthenticated means a rotation request carried no valid,
// active device certificate.
var errDeviceUnauthenticated = errors.New("device client certificate required")

// coded is an error whose enrollment code was decided where its meaning is
// known: the registry's ErrExpired means challenge_expired on the TPM path
// and token_expired on the token path.
type coded struct {
	code wire.Code
	err  error
}

func (c *coded) Error() string { return c.err.Error() }
func (c *coded) Unwrap() error { return c.err }

// withCode tags err with an enrollment code.
func withCode(code wire.Code, err error) error { return &coded{code: code, err: err} }

// enrollCode is the one mapping from errors met on the device routes to
// their codes. A code chosen with withCode wins; otherwise the
// sentinels of attest, the registry and the CA decide.
func enrollCode(err error) wire.Code {
	var c *coded
	if errors.As(err, &c) {
		return c.code
	}
	switch {
	case errors.Is(err, errDeviceUnauthenticated):
		return wire.CodeUnauthenticated
	case errors.Is(err, attest.ErrSecretMismatch):
		return wire.CodeSecretMismatch
	case errors.Is(err, attest.ErrNonceMismatch):
		return wire.CodeNonceMismatch
	case errors.Is(err, attest.ErrNameMismatch):
		return wire.CodeNameMismatch
	case errors.Is(err, attest.ErrAKSignature):
		return wire.CodeAKSignature
	case errors.Is(err, attest.ErrAttestMagic), errors.Is(err, attest.ErrAttestType):
		return wire.CodeAttestation
	case errors.Is(err, attest.ErrKeyAttributes):
		return wire.CodeKeyAttributes
	case errors.Is(err, attest.ErrAKAttributes):
		return wire.CodeAKAttributes
	case errors.Is(err, attest.ErrCSRSignature):
		return wire.CodeCSRSignature
	case errors.Is(err, attest.ErrCSRKeyMismatch):
		return wire.CodeCSRKeyMismatch
	case errors.Is(err, attest.ErrEKUntrusted):
		return wire.CodeEKUntrusted
	case errors.Is(err, store.ErrState):
		return wire.CodeDeviceNotActive
	case errors.Is(err, store.ErrPolicy):
		return wire.CodePolicy
	case errors.Is(err, store.ErrNotFound):
		return wire.CodeNotFound
	case errors.Is(err, store.ErrExists):
		return wire.CodeExists
	case errors.Is(err, errBadRequest), errors.Is(err, store.ErrInvalid),
		errors.Is(err, identity.ErrInvalidID), errors.Is(err, ca.ErrBadCSR),
		errors.Is(err, attest.ErrMalformed), errors.Is(err, attest.ErrEKKey):
		return wire.CodeBadRequest
	default:
		return wire.CodeInternal
	}
}

// enrollStatus is the HTTP status of each code: 403 for a proof that failed,
// 409 for something already used, 410 for something too old.
func enrollStatus(code wire.Code) int {
	switch code {
	case wire.CodeBadRequest, wire.CodeAttestation:
		return http.StatusBadRequest
	case wire.CodeUnauthenticated:
		return http.StatusUnauthorized
	case wire.CodeNotFound:
		return http.StatusNotFound
	case wire.CodeChallengeReplayed, wire.CodeTokenReplayed, wire.CodeExists:
		return http.StatusConflict
	case wire.CodeChallengeExpired, wire.CodeTokenExpired:
		return http.StatusGone
	case wire.CodeInternal:
		return http.StatusInternalServerError
	default:
		return http.StatusForbidden
	}
}

// enrollMessages are what a refused device reads. They name the check, as
// the code does, but carry no detail of the comparison: that goes to the
// server log only.
var enrollMessages = map[wire.Code]string{
	wire.CodeNonceMismatch:     "the attestation was not made with this challenge's nonce",
	wire.CodeSecretMismatch:    "the activated credential secret is wrong",
	wire.CodeNameMismatch:      "the attestation certifies another key than the one presented",
	wire.CodeAKSignature:       "the AK signature over the attestation does not verify",
	wire.CodeAttestation:       "the attestation is malformed or not a certify statement",
	wire.CodeKeyAttributes:     "the key must be an ECC P-256 signing key bound to the TPM (fixedTPM, fixedParent, sensitiveDataOrigin, not restricted)",
	wire.CodeAKAttributes:      "the AK must be a restricted signing key bound to the TPM (fixedTPM, fixedParent, sensitiveDataOrigin)",
	wire.CodeCSRSignature:      "the CSR is not signed by its key",
	wire.CodeCSRKeyMismatch:    "the CSR's key is not the attested key",
	wire.CodeEKUntrusted:       "the EK certificate is not trusted",
	wire.CodeEKNotAllowed:      "this TPM is not on the allow-list for the device",
	wire.CodeChallengeExpired:  "the challenge expired; start again",
	wire.CodeChallengeReplayed: "the challenge was already used; start again",
	wire.CodeTokenInvalid:      "the enrollment token is not valid",
	wire.CodeTokenExpired:      "the enrollment token expired",
	wire.CodeTokenReplayed:     "the enrollment token was already used",
	wire.CodePolicy:            "the device group's enrollment policy forbids this",
	wire.CodeNotFound:          "unknown device or challenge",
	wire.CodeExists:            "the device ID is already registered",
	wire.CodeDeviceNotActive:   "the device is not active",
	wire.CodeUnauthenticated:   "a valid, active device certificate is required",
	wire.CodeInternal:          "internal error; the server log has the details",
}

// refuse answers a device request with err's enrollment code as JSON.
func (a *API) refuse(w http.ResponseWriter, r *http.Request, deviceID string, err error) {
	code, msg := a.refusal(r, deviceID, err)
	writeError(w, enrollStatus(code), code, msg)
}

// refusal logs and counts a refused device request, with the device and
// the full cause so an operator can see which check failed for which
// device, and returns its code and the message the device may read. Every
// device route (JSON and EST) goes through it.
func (a *API) refusal(r *http.Request, deviceID string, err error) (wire.Code, string) {
	code := enrollCode(err)
	a.cfg.Metrics.refusals.WithLabelValues(string(code)).Inc()
	level := slog.LevelWarn
	if code == wire.CodeInternal {
		level = slog.LevelError
	}
	a.log.Log(r.Context(), level, "device request refused", "path", r.URL.Path, "device", deviceID,
		"code", code, "remote", r.RemoteAddr, "err", err)
	msg := enrollMessages[code]
	if code == wire.CodeBadRequest || msg == "" {
		msg = err.Error() // what was malformed is the caller's to fix
	}
	return code, msg
}
