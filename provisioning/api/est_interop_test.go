package api_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/internal/testkit/bins"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/api"
	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/store"
)

// sh runs script with bash in dir, with env added, and returns its
// standard output; it fails the test with everything the script printed.
func sh(t *testing.T, dir, script string, env ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s\n%v\nstdout: %s\nstderr: %s", script, err, out, stderr.String())
	}
	return string(out)
}

// checkRotated asserts that the certificate in newFile supersedes old for
// id, and that old stays active until the new one is first used, as after
// /v1/rotate/finish.
func checkRotated(t *testing.T, e *apitest.Env, id, oldFile, newFile string) {
	t.Helper()
	old, next := pki.ReadCert(t, oldFile), pki.ReadCert(t, newFile)
	rec, err := e.DB.Certificate(t.Context(), ca.SerialHex(next))
	if err != nil {
		t.Fatalf("re-enrolled certificate not recorded: %v", err)
	}
	if rec.DeviceID != id || rec.Supersedes != ca.SerialHex(old) || rec.Status != store.CertActive {
		t.Fatalf("re-enrolled record = %+v, want active, superseding %s", rec, ca.SerialHex(old))
	}
	prev, err := e.DB.Certificate(t.Context(), ca.SerialHex(old))
	if err != nil || prev.Status != store.CertActive {
		t.Fatalf("old certificate = %+v, %v; want still active until the new one is used", prev, err)
	}
}

// TestESTCurlOpenSSL follows RFC 7030's flow with curl and openssl alone:
// cacerts, simpleenroll with HTTP Basic (device ID, token), simplereenroll
// with the issued certificate over mTLS and a new key.
func TestESTCurlOpenSSL(t *testing.T) {
	e := apitest.Start(t, apitest.Options{Config: api.Config{}})
	token := tokenGroup(t, e, "est", 1, time.Hour)[0]
	dir := t.TempDir()
	env := []string{"URL=" + e.URL + "/.well-known/est", "ROOT=" + e.RootCert, "TOKEN=" + token}

	sh(t, dir, `curl -sS --fail-with-body --cacert "$ROOT" "$URL/cacerts" | base64 -d |
		openssl pkcs7 -inform DER -print_certs -out cacerts.pem`, env...)
	if got := pki.ParseCerts(t, mustRead(t, filepath.Join(dir, "cacerts.pem"))); len(got) != 2 ||
		!got[0].Equal(e.CA.Root()) || !got[1].Equal(e.CA.DeviceCA()) {
		t.Fatalf("cacerts = %d certificates, want the root and the device CA", len(got))
	}

	sh(t, dir, `openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout dev.key \
			-subj /CN=est-curl-1 -outform DER 2>/dev/null | base64 > dev.csr
		curl -sS --fail-with-body --cacert "$ROOT" --user "est-curl-1:$TOKEN" \
			-H 'Content-Type: application/pkcs10' --data-binary @dev.csr "$URL/simpleenroll" |
			base64 -d | openssl pkcs7 -inform DER -print_certs -out dev.crt`, env...)
	leaf := pki.ReadCert(t, filepath.Join(dir, "dev.crt"))
	if id, err := identity.FromCertificate(leaf); err != nil || id != "est-curl-1" {
		t.Fatalf("enrolled identity = %q, %v", id, err)
	}
	checkEnrolled(t, e, issuedOf(e, leaf), "est-curl-1", leaf.PublicKey, store.AttestToken)

	// The same request again, as after a lost answer, gets the same
	// certificate; the token is single use for any other key: 401 and a
	// readable reason.
	sh(t, dir, `curl -sS --fail-with-body --cacert "$ROOT" --user "est-curl-1:$TOKEN" \
			-H 'Content-Type: application/pkcs10' --data-binary @dev.csr "$URL/simpleenroll" |
			base64 -d | openssl pkcs7 -inform DER -print_certs -out again.crt`, env...)
	if again := pki.ReadCert(t, filepath.Join(dir, "again.crt")); !again.Equal(leaf) {
		t.Fatalf("retried request answered serial %x, want the certificate issued (%x)", again.SerialNumber, leaf.SerialNumber)
	}
	out := sh(t, dir, `openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key \
			-subj /CN=est-curl-1 -outform DER 2>/dev/null | base64 > other.csr
		curl -sS -o refusal.txt -w '%{http_code}' --cacert "$ROOT" --user "est-curl-1:$TOKEN" \
		-H 'Content-Type: application/pkcs10' --data-binary @other.csr "$URL/simpleenroll"; cat refusal.txt`, env...)
	if !strings.HasPrefix(out, "401token_replayed: the enrollment token was already used") {
		t.Fatalf("replayed token with another key answered %q", out)
	}

	sh(t, dir, `openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout new.key \
			-subj /CN=est-curl-1 -outform DER 2>/dev/null | base64 > new.csr
		curl -sS --fail-with-body --cacert "$ROOT" --cert dev.crt --key dev.key \
			-H 'Content-Type: application/pkcs10' --data-binary @new.csr "$URL/simplereenroll" |
			base64 -d | openssl pkcs7 -inform DER -print_certs -out new.crt
		openssl x509 -in new.crt -noout -pubkey > new.pub
		openssl pkey -in new.key -pubout | cmp - new.pub`, env...)
	checkRotated(t, e, "est-curl-1", filepath.Join(dir, "dev.crt"), filepath.Join(dir, "new.crt"))
}

// TestESTGlobalSignClient drives the API with GlobalSign's estclient, run
// as its own process: cacerts, csrattrs, enroll with a token, and
// reenroll (a renewal with the same key, as that client does).
func TestESTGlobalSignClient(t *testing.T) {
	bin := bins.ESTClient(t)
	e := apitest.Start(t, apitest.Options{Config: api.Config{}})
	token := tokenGroup(t, e, "est", 1, time.Hour)[0]
	dir := t.TempDir()
	server := strings.TrimPrefix(e.URL, "https://")
	env := []string{"EST=" + bin, "SERVER=" + server, "ROOT=" + e.RootCert, "TOKEN=" + token}

	sh(t, dir, `"$EST" cacerts -server "$SERVER" -explicit "$ROOT" -out cacerts.pem`, env...)
	if got := pki.ParseCerts(t, mustRead(t, filepath.Join(dir, "cacerts.pem"))); len(got) != 2 {
		t.Fatalf("cacerts = %d certificates, want the root and the device CA", len(got))
	}
	attrs := sh(t, dir, `"$EST" csrattrs -server "$SERVER" -explicit "$ROOT"`, env...)
	if !strings.Contains(attrs, "1.2.840.10045.4.3.2") || !strings.Contains(attrs, "1.2.840.10045.3.1.7") {
		t.Fatalf("csrattrs = %q, want ecdsa-with-SHA256 and P-256", attrs)
	}

	sh(t, dir, `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out dev.key 2>/dev/null
		"$EST" enroll -server "$SERVER" -explicit "$ROOT" -key dev.key -cn est-gs-1 \
			-user est-gs-1 -pass "$TOKEN" -out dev.crt`, env...)
	leaf := pki.ReadCert(t, filepath.Join(dir, "dev.crt"))
	checkEnrolled(t, e, issuedOf(e, leaf), "est-gs-1", leaf.PublicKey, store.AttestToken)

	sh(t, dir, `cat dev.crt > chain.pem
		"$EST" reenroll -server "$SERVER" -explicit "$ROOT" -key dev.key -certs chain.pem -out new.crt`, env...)
	checkRotated(t, e, "est-gs-1", filepath.Join(dir, "dev.crt"), filepath.Join(dir, "new.crt"))

	// A second token enrolment with the spent token is refused, and the
	// client reports the server's reason.
	cmd := exec.CommandContext(t.Context(), bin, "enroll", "-server", server, "-explicit", e.RootCert,
		"-key", filepath.Join(dir, "dev.key"), "-cn", "est-gs-2", "-user", "est-gs-2", "-pass", token)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "token_replayed: the enrollment token was already used") {
		t.Fatalf("replayed token with estclient: %v\n%s", err, out)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
