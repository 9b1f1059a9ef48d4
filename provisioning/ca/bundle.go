package ca

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"time"
)

// BundleDeviceCAsFile holds, in a broker bundle, every device intermediate
// the broker admits clients from: the issuing one first, then the older
// ones still trusted. Each is signed by the root in RootCertFile, which
// chains them.
const BundleDeviceCAsFile = "device-cas.crt"

// bundleFiles are the files of a broker bundle, in the order they are
// written: the trust material first, the server key before its
// certificate, so that a reader never sees a certificate without its key.
var bundleFiles = []string{RootCertFile, BundleDeviceCAsFile, ServerKeyFile, ServerCertFile}

// BundleFiles returns the names of the files of a broker bundle: the root
// (for devices to verify the broker), the device intermediates (for the
// broker to verify devices) and the broker's server certificate and key.
// There is no CA private key among them.
func BundleFiles() []string { return slices.Clone(bundleFiles) }

// BrokerBundle describes a bundle WriteBrokerBundle wrote.
type BrokerBundle struct {
	Dir       string
	Server    *x509.Certificate   // the broker host's server certificate
	DeviceCAs []*x509.Certificate // issuing intermediate first, then the trusted ones
	Root      *x509.Certificate
	KeptKey   bool // the server key of a bundle already in Dir was kept
}

// WriteBrokerBundle writes to out what a broker host needs and nothing
// more: the root, the device intermediates of the CA directory caDir, and
// a server key with a certificate for names (DNS names or IP addresses, at
// least one; no default names are added) signed by the root. It needs the
// root key of caDir, a file or (found through keys) a key in a token, and
// copies no CA key.
//
// out is created with mode 0700 when missing. An out that already holds a
// bundle is refreshed: the trust files and the certificate are replaced,
// and the server key is kept, so a broker reading the directory never
// sees a key that does not match its certificate. An out holding any other
// file is refused with ErrNotBundleDir. Every file is written atomically;
// the key with mode 0600.
func WriteBrokerBundle(caDir, out string, names []string, now time.Time, keys KeyStore) (BrokerBundle, error) {
	sn, err := bundleServerNames(names)
	if err != nil {
		return BrokerBundle{}, err
	}
	authority, err := load(caDir, func() time.Time { return now }, keys)
	if err != nil {
		return BrokerBundle{}, err
	}
	rootKey, err := readRootKey(caDir, authority.root, keys)
	if err != nil {
		return BrokerBundle{}, err
	}
	if err := prepareBundleDir(out); err != nil {
		return BrokerBundle{}, err
	}
	key, keyPEM, kept, err := bundleServerKey(out)
	if err != nil {
		return BrokerBundle{}, err
	}
	server, err := sign(serverTemplate(sn, now), authority.root, key.Public(), rootKey)
	if err != nil {
		return BrokerBundle{}, err
	}
	deviceCAs := append([]*x509.Certificate{authority.deviceCA}, authority.trusted...)
	data := map[string][]byte{
		RootCertFile:        EncodeCertPEM(authority.root),
		BundleDeviceCAsFile: encodeBundle(deviceCAs),
		ServerKeyFile:       keyPEM, // nil when kept
		ServerCertFile:      EncodeCertPEM(server),
	}
	for _, name := range bundleFiles {
		switch {
		case name == ServerKeyFile && kept:
			continue
		case name == ServerKeyFile:
			err = createFile(out, name, data[name], keyMode)
		default:
			err = replaceFile(out, name, data[name], certMode)
		}
		if err != nil {
			return BrokerBundle{}, fmt.Errorf("broker bundle %s: write %s: %w", out, name, err)
		}
	}
	return BrokerBundle{Dir: out, Server: server, DeviceCAs: deviceCAs, Root: authority.root, KeptKey: kept}, nil
}

// bundleServerNames checks the names for a broker host's certificate.
// Unlike the combined server's, it gets no default names: it is for one
// host, under the names its devices dial.
func bundleServerNames(names []string) (serverNames, error) {
	var sn serverNames
	if len(names) == 0 {
		return sn, fmt.Errorf("%w: none given; name the DNS names or IP addresses devices use to reach the broker host", ErrBadServerName)
	}
	for _, s := range names {
		if err := sn.add(s); err != nil {
			return sn, err
		}
	}
	return sn, nil
}

// prepareBundleDir creates out (mode 0700) or checks that everything in it
// belongs to a bundle.
func prepareBundleDir(out string) error {
	entries, err := os.ReadDir(out)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("broker bundle %s: %w", out, err)
	default:
		var foreign []string
		for _, e := range entries {
			if !slices.Contains(bundleFiles, e.Name()) {
				foreign = append(foreign, e.Name())
			}
		}
		if len(foreign) > 0 {
			return fmt.Errorf("%w: %s holds %v, which no broker bundle holds; give an empty or new directory, or one an earlier bundle was written to",
				ErrNotBundleDir, out, foreign)
		}
	}
	if err := os.MkdirAll(out, dirMode); err != nil {
		return fmt.Errorf("broker bundle: create %s: %w", out, err)
	}
	if err := os.Chmod(out, dirMode); err != nil {
		return fmt.Errorf("broker bundle: restrict %s: %w", out, err)
	}
	return nil
}

// bundleServerKey returns the server key of the bundle in out, or a new
// one with its PEM when there is none.
func bundleServerKey(out string) (key crypto.Signer, keyPEM []byte, kept bool, err error) {
	key, err = readKey(out, ServerKeyFile, nil)
	switch {
	case err == nil:
		return key, nil, true, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, nil, false, fmt.Errorf("broker bundle %s: %w (remove the directory to start a new bundle with a new key)", out, err)
	}
	nk, err := newKey()
	if err != nil {
		return nil, nil, false, err
	}
	keyPEM, err = EncodeKeyPEM(nk)
	if err != nil {
		return nil, nil, false, err
	}
	return nk, keyPEM, false, nil
}
