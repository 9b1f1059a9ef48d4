package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// ErrCredentials means the operator certificate, key or CA file could not be
// loaded.
var ErrCredentials = errors.New("cannot load operator credentials")

// LoadTLS builds the client TLS configuration of an operator: the operator
// certificate and key to authenticate with, and the root certificate that
// must anchor the server's certificate (no system roots: the server is ours).
func LoadTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: certificate %s / key %s: %w", ErrCredentials, certFile, keyFile, err)
	}
	rootPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("%w: CA file: %w", ErrCredentials, err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		return nil, fmt.Errorf("%w: CA file %s holds no PEM certificate", ErrCredentials, caFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{pair},
		RootCAs:      roots,
		MinVersion:   tls.VersionTLS12,
	}, nil
}
