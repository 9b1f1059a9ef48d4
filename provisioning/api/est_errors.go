package api

import (
	"io"
	"net/http"

	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// estRealm is the HTTP authentication realm of the EST routes: the user
// name is the device ID, the password its one-time enrolment token.
const estRealm = `Basic realm="fleetgate EST", charset="UTF-8"`

// estStatus maps an enrolment code to the status RFC 7030 expects: 401
// (with a challenge) when the credential was refused, so a client knows to
// present another; 400 for a request that is malformed, the PKCS#10
// signature included; 403 when the credential was good but policy forbids
// the request.
func estStatus(code wire.Code) int {
	switch code {
	case wire.CodeUnauthenticated, wire.CodeTokenInvalid, wire.CodeTokenExpired, wire.CodeTokenReplayed:
		return http.StatusUnauthorized
	case wire.CodeBadRequest, wire.CodeCSRSignature, wire.CodeCSRKeyMismatch:
		return http.StatusBadRequest
	case wire.CodeInternal, wire.CodeNotFound, wire.CodeExists:
		return enrollStatus(code)
	default:
		return http.StatusForbidden
	}
}

// estRefuse answers an EST request with a human-readable text/plain body
// (RFC 7030 section 4.2.3), "<code>: <message>", logged and counted as
// every device refusal is.
func (a *API) estRefuse(w http.ResponseWriter, r *http.Request, deviceID string, err error) {
	code, msg := a.refusal(r, deviceID, err)
	status := estStatus(code)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", estRealm)
	}
	w.Header().Set("Content-Type", estTypeText)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, string(code)+": "+msg+"\n")
}
