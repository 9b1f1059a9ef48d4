package attest_test

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
)

// mTLSHandshake issues a client certificate for the device key from a
// software device CA and runs a TLS 1.3 handshake on loopback with the TPM
// signer as the client's private key. It returns the public key the server
// saw in the client's certificate.
func mTLSHandshake(t *testing.T, signer crypto.Signer) crypto.PublicKey {
	t.Helper()
	caKey := newP256(t)
	ca := pki.Issue(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "fleetgate test device CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign,
	}, nil, &caKey.PublicKey, caKey)
	client := pki.Issue(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "device"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, ca, signer.Public(), caKey)
	serverKey := newP256(t)
	server := pki.Issue(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "broker"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, &serverKey.PublicKey, caKey)
	pool := x509.NewCertPool()
	pool.AddCert(ca)

	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{{Certificate: [][]byte{server.Raw}, PrivateKey: serverKey}},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	type result struct {
		peer crypto.PublicKey
		err  error
	}
	done := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		_ = tc.SetDeadline(time.Now().Add(time.Minute))
		if err := tc.Handshake(); err != nil {
			done <- result{err: err}
			return
		}
		// Tell the client the server accepted its certificate: in TLS 1.3
		// the client finishes before the server has checked it.
		if _, err := tc.Write([]byte{1}); err != nil {
			done <- result{err: err}
			return
		}
		done <- result{peer: tc.ConnectionState().PeerCertificates[0].PublicKey}
	}()

	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{
		MinVersion:   tls.VersionTLS13,
		RootCAs:      pool,
		Certificates: []tls.Certificate{{Certificate: [][]byte{client.Raw}, PrivateKey: signer}},
	})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	if v := conn.ConnectionState().Version; v != tls.VersionTLS13 {
		t.Fatalf("TLS version %#x, want 1.3", v)
	}
	one := make([]byte, 1)
	if _, err := conn.Read(one); err != nil {
		t.Fatalf("read server's acknowledgement: %v", err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("server handshake: %v", r.err)
	}
	return r.peer
}
