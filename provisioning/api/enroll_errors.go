package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/provisioning/attest"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/enroll"
	"github.com/fleetgate/fleetgate/store"
)

// errDeviceUnauthenticated means a rotation request carried no valid,
// active device certificate.
var errDeviceUnauthenticated = errors.New("device client certificate required")

// coded is an error whose enrollment code was decided where its meaning is
// known: the registry's ErrExpired means challenge_expired on the TPM path
// and token_expired on the token path.
type coded struct {
	code string
	err  error
}

func (c *coded) Error() string { return c.err.Error() }
func (c *coded) Unwrap() error { return c.err }

// withCode tags err with an enrollment code.
func withCode(code string, err error) error { return &coded{code: code, err: err} }

// enrollCode is the one mapping from errors met on the device routes to the
// codes of package enroll. A code chosen with withCode wins; otherwise the
// sentinels of attest, the registry and the CA decide.
func enrollCode(err error) string {
	var c *coded
	if errors.As(err, &c) {
		return c.code
	}
	switch {
	case errors.Is(err, errDeviceUnauthenticated):
		return enroll.CodeUnauthenticated
	case errors.Is(err, attest.ErrSecretMismatch):
		return enroll.CodeSecretMismatch
	case errors.Is(err, attest.ErrNonceMismatch):
		return enroll.CodeNonceMismatch
	case errors.Is(err, attest.ErrNameMismatch):
		return enroll.CodeNameMismatch
	case errors.Is(err, attest.ErrAKSignature):
		return enroll.CodeAKSignature
	case errors.Is(err, attest.ErrAttestMagic), errors.Is(err, attest.ErrAttestType):
		return enroll.CodeAttestation
	case errors.Is(err, attest.ErrKeyAttributes):
		return enroll.CodeKeyAttributes
	case errors.Is(err, attest.ErrAKAttributes):
		return enroll.CodeAKAttributes
	case errors.Is(err, attest.ErrCSRSignature):
		return enroll.CodeCSRSignature
	case errors.Is(err, attest.ErrCSRKeyMismatch):
		return enroll.CodeCSRKeyMismatch
	case errors.Is(err, attest.ErrEKUntrusted):
		return enroll.CodeEKUntrusted
	case errors.Is(err, store.ErrState):
		return enroll.CodeDeviceNotActive
	case errors.Is(err, store.ErrPolicy):
		return enroll.CodePolicy
	case errors.Is(err, store.ErrNotFound):
		return enroll.CodeNotFound
	case errors.Is(err, store.ErrExists):
		return enroll.CodeExists
	case errors.Is(err, errBadRequest), errors.Is(err, store.ErrInvalid),
		errors.Is(err, identity.ErrInvalidID), errors.Is(err, ca.ErrBadCSR),
		errors.Is(err, attest.ErrMalformed), errors.Is(err, attest.ErrEKKey):
		return enroll.CodeBadRequest
	default:
		return enroll.CodeInternal
	}
}

// enrollStatus is the HTTP status of each code: 403 for a proof that failed,
// 409 for something already used, 410 for something too old.
func enrollStatus(code string) int {
	switch code {
	case enroll.CodeBadRequest, enroll.CodeAttestation:
		return http.StatusBadRequest
	case enroll.CodeUnauthenticated:
		return http.StatusUnauthorized
	case enroll.CodeNotFound:
		return http.StatusNotFound
	case enroll.CodeChallengeReplayed, enroll.CodeTokenReplayed, enroll.CodeExists:
		return http.StatusConflict
	case enroll.CodeChallengeExpired, enroll.CodeTokenExpired:
		return http.StatusGone
	case enroll.CodeInternal:
		return http.StatusInternalServerError
	default:
		return http.StatusForbidden
	}
}

// enrollMessages are what a refused device reads. They name the check, as
// the code does, but carry no detail of the comparison: that goes to the
// server log only.
var enrollMessages = map[string]string{
	enroll.CodeNonceMismatch:     "the attestation was not made with this challenge's nonce",
	enroll.CodeSecretMismatch:    "the activated credential secret is wrong",
	enroll.CodeNameMismatch:      "the attestation certifies another key than the one presented",
	enroll.CodeAKSignature:       "the AK signature over the attestation does not verify",
	enroll.CodeAttestation:       "the attestation is malformed or not a certify statement",
	enroll.CodeKeyAttributes:     "the key must be an ECC P-256 signing key bound to the TPM (fixedTPM, fixedParent, sensitiveDataOrigin, not restricted)",
	enroll.CodeAKAttributes:      "the AK must be a restricted signing key bound to the TPM (fixedTPM, fixedParent, sensitiveDataOrigin)",
	enroll.CodeCSRSignature:      "the CSR is not signed by its key",
	enroll.CodeCSRKeyMismatch:    "the CSR's key is not the attested key",
	enroll.CodeEKUntrusted:       "the EK certificate is not trusted",
	enroll.CodeEKNotAllowed:      "this TPM is not on the allow-list for the device",
	enroll.CodeChallengeExpired:  "the challenge expired; start again",
	enroll.CodeChallengeReplayed: "the challenge was already used; start again",
	enroll.CodeTokenInvalid:      "the enrollment token is not valid",
	enroll.CodeTokenExpired:      "the enrollment token expired",
	enroll.CodeTokenReplayed:     "the enrollment token was already used",
	enroll.CodePolicy:            "the device group's enrollment policy forbids this",
	enroll.CodeNotFound:          "unknown device or challenge",
	enroll.CodeExists:            "the device ID is already registered",
	enroll.CodeDeviceNotActive:   "the device is not active",
	enroll.CodeUnauthenticated:   "a valid, active device certificate is required",
	enroll.CodeInternal:          "internal error; the server log has the details",
}

// refuse answers a device request with err's enrollment code and logs the
// refusal with the device and the full cause, so an operator can see which
// check failed for which device.
func (a *API) refuse(w http.ResponseWriter, r *http.Request, deviceID string, err error) {
	code := enrollCode(err)
	status := enrollStatus(code)
	a.cfg.Metrics.refusals.WithLabelValues(code).Inc()
	level := slog.LevelWarn
	if status == http.StatusInternalServerError {
		level = slog.LevelError
	}
	a.log.Log(r.Context(), level, "device request refused", "path", r.URL.Path, "device", deviceID,
		"code", code, "remote", r.RemoteAddr, "err", err)
	msg := enrollMessages[code]
	if code == enroll.CodeBadRequest || msg == "" {
		msg = err.Error() // what was malformed is the caller's to fix
	}
	writeJSON(w, status, client.ErrorBody{Error: client.ErrorDetail{Code: code, Message: msg}})
}
