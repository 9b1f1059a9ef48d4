package ca

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// BundleDeviceCAsFile holds, in a broker bundle, every device intermediate
// the broker admits clients from: the issuing one first, then the older
// ones still trusted. Each is signed by a root of the bundle: the one in
// RootCertFile or, during a root rollover, the one in
// PreviousRootCertFile.
const BundleDeviceCAsFile = "device-cas.crt"

// bundleFiles are the files every broker bundle holds, in the order they
// are written: the trust material first, the server key before its
// certificate, so that a reader never sees a certificate without its key.
var bundleFiles = []string{RootCertFile, BundleDeviceCAsFile, ServerKeyFile, ServerCertFile}

// bundleRolloverFiles are the files a broker bundle holds only during a
// root rollover: the previous root and the cross-certificate of the
// current root signed by it. They are written before RootCertFile and
// removed after the bundle's other files no longer need them, so that
// every state of the directory loads.
var bundleRolloverFiles = []string{PreviousRootCertFile, RootCrossCertFile}

// BundleFiles returns the names of the files of a broker bundle: the roots
// (for devices to verify the broker; during a root rollover the previous
// root and the cross-certificate too), the device intermediates (for the
// broker to verify devices) and the broker's server certificate and key.
// There is no CA private key among them. The rollover files are present
// only during a rollover.
func BundleFiles() []string { return append(slices.Clone(bundleFiles), bundleRolloverFiles...) }

// BrokerBundle describes a bundle WriteBrokerBundle wrote.
type BrokerBundle struct {
	Dir       string
	Server    *x509.Certificate   // the broker host's server certificate
	DeviceCAs []*x509.Certificate // issuing intermediate first, then the trusted ones
	Root      *x509.Certificate
	Previous  *x509.Certificate // during a root rollover, the root being replaced; else nil
	KeptKey   bool              // the server key of a bundle already in Dir was kept
}

// WriteBrokerBundle writes to out what a broker host needs and nothing
// more: the root, the device intermediates of the CA directory caDir, and
// a server key with a certificate for names (DNS names or IP addresses, at
// least one; no default names are added) signed by the root. It needs the
// root key of caDir, a file or (found through keys) a key in a token, and
// copies no CA key.
//
// During a root rollover the bundle also holds the previous root and the
// cross-certificate of the current root (the broker serves it after its
// certificate, so devices holding either root verify the broker), and the
// device intermediates under either root. Outside a rollover those files
// are removed, last: a bundle refreshed after the rollover's finish no
// longer trusts the previous root.
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
	rollover, err := readRollover(caDir)
	if err != nil {
		return BrokerBundle{}, fmt.Errorf("CA directory %s: %w", caDir, err)
	}
	deviceCAs := append([]*x509.Certificate{authority.deviceCA}, authority.trusted...)
	data := map[string][]byte{
		RootCertFile:        EncodeCertPEM(authority.root),
		BundleDeviceCAsFile: encodeBundle(deviceCAs),
		ServerKeyFile:       keyPEM, // nil when kept
		ServerCertFile:      EncodeCertPEM(server),
	}
	var previous *x509.Certificate
	if rollover.inProgress(authority.root) {
		if rollover.cross == nil {
			return BrokerBundle{}, fmt.Errorf("%w: %s lacks %s; run `fleetgate ca root-rollover begin` again to complete it",
				ErrRolloverIncomplete, caDir, RootCrossCertFile)
		}
		previous = rollover.previous
		data[PreviousRootCertFile] = EncodeCertPEM(rollover.previous)
		data[RootCrossCertFile] = EncodeCertPEM(rollover.cross)
	}
	if err := writeBundleFiles(out, data, kept); err != nil {
		return BrokerBundle{}, err
	}
	return BrokerBundle{Dir: out, Server: server, DeviceCAs: deviceCAs, Root: authority.root, Previous: previous, KeptKey: kept}, nil
}

// writeBundleFiles writes the files of data to out in an order in which
// every intermediate state loads: the rollover files first when data
// holds them, then the files of every bundle (the server key only when
// not kept), then the removal of rollover files that data lacks.
func writeBundleFiles(out string, data map[string][]byte, kept bool) error {
	var stale []string
	for _, name := range bundleRolloverFiles {
		if data[name] == nil {
			stale = append(stale, name)
			continue
		}
		if err := replaceFile(out, name, data[name], certMode); err != nil {
			return fmt.Errorf("broker bundle %s: write %s: %w", out, name, err)
		}
	}
	for _, name := range bundleFiles {
		var err error
		switch {
		case name == ServerKeyFile && kept:
			continue
		case name == ServerKeyFile:
			err = createFile(out, name, data[name], keyMode)
		default:
			err = replaceFile(out, name, data[name], certMode)
		}
		if err != nil {
			return fmt.Errorf("broker bundle %s: write %s: %w", out, name, err)
		}
	}
	// The cross-certificate goes before the previous root: a bundle with
	// the previous root alone still loads.
	slices.Reverse(stale)
	for _, name := range stale {
		if err := os.Remove(filepath.Join(out, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("broker bundle %s: remove %s: %w", out, name, err)
		}
	}
	return syncDir(out)
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
			if !slices.Contains(bundleFiles, e.Name()) && !slices.Contains(bundleRolloverFiles, e.Name()) {
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
