package ca

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// runtimeFiles are the files the server needs to run; the admin pair is not
// among them, so an operator may move admin.key off the server.
var runtimeFiles = []string{
	RootCertFile, RootKeyFile,
	DeviceCACertFile, DeviceCAKeyFile,
	OperatorCACertFile, OperatorCAKeyFile,
	ServerCertFile, ServerKeyFile,
}

// Load reads an existing CA directory. Every runtime file must exist
// (missing files yield ErrIncomplete naming them) and the material must be
// consistent: each key matches its certificate, the device CA and the server
// certificate are signed by the root, and the operator CA is a separate
// self-signed CA (ErrCorrupt otherwise). Load creates nothing; use
// Bootstrap for that.
func Load(dir string) (*CA, error) {
	return load(dir, time.Now)
}

func load(dir string, now func() time.Time) (*CA, error) {
	var missing []string
	for _, name := range runtimeFiles {
		ok, err := exists(dir, name)
		if err != nil {
			return nil, fmt.Errorf("CA directory %s: %w", dir, err)
		}
		if !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %s lacks %v: %w", ErrIncomplete, dir, missing, fs.ErrNotExist)
	}

	var errs []error
	pair := func(certName, keyName string) (*x509.Certificate, crypto.Signer) {
		c, err := readCert(dir, certName)
		if err != nil {
			errs = append(errs, err)
			return nil, nil
		}
		k, err := readKey(dir, keyName)
		if err != nil {
			errs = append(errs, err)
			return nil, nil
		}
		if !keyMatches(k, c.PublicKey) {
			errs = append(errs, fmt.Errorf("%w: %s does not match %s", ErrCorrupt, keyName, certName))
			return nil, nil
		}
		return c, k
	}
	root, _ := pair(RootCertFile, RootKeyFile)
	deviceCA, deviceKey := pair(DeviceCACertFile, DeviceCAKeyFile)
	operatorCA, operatorKey := pair(OperatorCACertFile, OperatorCAKeyFile)
	server, serverKey := pair(ServerCertFile, ServerKeyFile)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("CA directory %s: %w", dir, err)
	}
	if err := checkHierarchy(root, deviceCA, operatorCA, server); err != nil {
		return nil, fmt.Errorf("CA directory %s: %w", dir, err)
	}
	return &CA{
		dir:         dir,
		now:         now,
		root:        root,
		deviceCA:    deviceCA,
		deviceKey:   deviceKey,
		operatorCA:  operatorCA,
		operatorKey: operatorKey,
		server: tls.Certificate{
			Certificate: [][]byte{server.Raw},
			PrivateKey:  serverKey,
			Leaf:        server,
		},
	}, nil
}

// checkHierarchy verifies who signed whom. The operator CA must not share a
// key with the root or the device CA: if it did, device certificates would
// chain to the operator pool and devices could act as operators.
func checkHierarchy(root, deviceCA, operatorCA, server *x509.Certificate) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...))
	}
	for _, nc := range []struct {
		name string
		cert *x509.Certificate
	}{{RootCertFile, root}, {DeviceCACertFile, deviceCA}, {OperatorCACertFile, operatorCA}} {
		if !nc.cert.BasicConstraintsValid || !nc.cert.IsCA {
			bad("%s is not a CA certificate", nc.name)
		}
	}
	if server.IsCA {
		bad("%s is a CA certificate", ServerCertFile)
	}
	if err := root.CheckSignatureFrom(root); err != nil {
		bad("%s is not self-signed: %v", RootCertFile, err)
	}
	if err := deviceCA.CheckSignatureFrom(root); err != nil {
		bad("%s is not signed by %s: %v", DeviceCACertFile, RootCertFile, err)
	}
	if err := server.CheckSignatureFrom(root); err != nil {
		bad("%s is not signed by %s: %v", ServerCertFile, RootCertFile, err)
	}
	if err := operatorCA.CheckSignatureFrom(operatorCA); err != nil {
		bad("%s is not self-signed: %v", OperatorCACertFile, err)
	}
	if samePublicKey(operatorCA, root) || samePublicKey(operatorCA, deviceCA) {
		bad("%s shares its key with the device hierarchy", OperatorCACertFile)
	}
	return errors.Join(errs...)
}

func samePublicKey(a, b *x509.Certificate) bool {
	eq, ok := a.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b.PublicKey)
}
