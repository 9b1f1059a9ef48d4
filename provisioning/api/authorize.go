package api

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"

	"github.com/fleetgate/fleetgate/provisioning/ca"
)

// CSRFHeader carries the console's CSRF token on state-changing requests.
const CSRFHeader = "X-Fleetgate-CSRF"

// csrfKey signs CSRF tokens. One per process: a restart makes open
// consoles fetch a new token, which they do on reload.
type csrfKey [32]byte

func newCSRFKey() *csrfKey {
	var k csrfKey
	_, _ = rand.Read(k[:]) // crypto/rand never fails on Linux
	return &k
}

// token is the CSRF token bound to one client certificate: an HMAC of its
// DER. It needs no server state, and a token seen by another operator's
// browser is worthless with this operator's certificate.
func (k *csrfKey) token(der []byte) string {
	m := hmac.New(sha256.New, k[:])
	m.Write(der)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// safeMethod reports whether a request changes nothing.
func safeMethod(m string) bool { return m == http.MethodGet || m == http.MethodHead }

// authorize decides whether an authenticated operator may make the
// request. Every request that would change something must come from an
// admin; one from a browser must also carry the CSRF token and come from
// this origin.
//
// The CLI is not a browser: it sends no Origin, Sec-Fetch-* or Cookie
// header and needs no token. That exemption is safe because a forged
// cross-site request is always made by a browser, and browsers add Origin
// to every cross-origin POST and Sec-Fetch-Site to every request; a
// program that could leave them out would need the operator's private key
// anyway, and then it is the operator.
func (a *API) authorize(r *http.Request, leafDER []byte, role ca.OperatorRole) error {
	if safeMethod(r.Method) {
		return nil
	}
	if role != ca.RoleAdmin {
		return fmt.Errorf("%w: this operator certificate carries the %s role and may not change anything", errForbidden, role)
	}
	if !fromBrowser(r) {
		return nil
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return fmt.Errorf("%w: Sec-Fetch-Site is %q", errCSRF, site)
	}
	if o := r.Header.Get("Origin"); o != "" && o != "https://"+r.Host {
		return fmt.Errorf("%w: Origin %q is not https://%s", errCSRF, o, r.Host)
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" || !hmac.Equal([]byte(got), []byte(a.csrf.token(leafDER))) {
		return fmt.Errorf("%w: missing or wrong %s header (reload the console)", errCSRF, CSRFHeader)
	}
	return nil
}

// fromBrowser reports whether a request shows any sign of a browser.
func fromBrowser(r *http.Request) bool {
	for _, h := range []string{"Origin", "Sec-Fetch-Site", "Sec-Fetch-Mode", "Cookie", "Referer"} {
		if r.Header.Get(h) != "" {
			return true
		}
	}
	return false
}
