package revocation_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"

	"golang.org/x/crypto/ocsp"
)

// checkOCSP asks the responder named in leaf whether it is still good.
// The response must be signed by the issuer (x/crypto/ocsp checks it).
func checkOCSP(leaf, issuer *x509.Certificate) error {
	if len(leaf.OCSPServer) == 0 {
		return fmt.Errorf("certificate %s names no OCSP responder", leaf.SerialNumber)
	}
	req, err := ocsp.CreateRequest(leaf, issuer, nil)
	if err != nil {
		return err
	}
	resp, err := http.Post(leaf.OCSPServer[0], "application/ocsp-request", bytes.NewReader(req))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	der, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return err
	}
	r, err := ocsp.ParseResponseForCert(der, leaf, issuer)
	if err != nil {
		return err
	}
	if r.Status != ocsp.Good {
		return fmt.Errorf("certificate %s is not good (OCSP status %d, reason %d)", leaf.SerialNumber, r.Status, r.RevocationReason)
	}
	return nil
}

// A relying party: an HTTPS service that admits a device only with a
// certificate of the fleet that the fleet's OCSP responder calls good.
// Devices send their intermediate after the leaf, so the fleet root is
// all it trusts.
func Example_relyingParty() {
	rootPEM, err := os.ReadFile("data/ca/root.crt")
	if err != nil {
		fmt.Println(err)
		return
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(rootPEM)
	srv := &http.Server{
		Addr: ":9443",
		TLSConfig: &tls.Config{
			ClientAuth: tls.RequireAndVerifyClientCert,
			ClientCAs:  roots,
			VerifyConnection: func(cs tls.ConnectionState) error {
				chain := cs.VerifiedChains[0] // leaf, device intermediate, root
				return checkOCSP(chain[0], chain[1])
			},
		},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello %s\n", r.TLS.PeerCertificates[0].URIs[0])
		}),
	}
	fmt.Println(srv.ListenAndServeTLS("service.crt", "service.key"))
}
