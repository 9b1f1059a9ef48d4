package ca

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// RootRollover is the outcome of BeginRootRollover or FinishRootRollover.
type RootRollover struct {
	Root     *x509.Certificate // the current root
	Previous *x509.Certificate // the root replaced (retired, after finish)
	DeviceCA *x509.Certificate // the issuing intermediate, under Root
	Done     []string          // the steps taken, for people
	// UnusedKeyLabel is, after a finish, the label of the previous root's
	// key in the token when it was kept in one: nothing uses it any more,
	// and it is to be deleted with the token's tool. "" for a file key
	// (removed with its file).
	UnusedKeyLabel string
}

// BeginRootRollover introduces a new root next to the current one in the
// CA directory dir (which needs root.key). The current root becomes the
// previous root: still trusted, issuing nothing. Then:
//
//   - the root pair is copied to PreviousRootCertFile and PreviousRootKeyFile;
//   - a new root is made, staged as RootNextKeyFile and RootNextCertFile and
//     renamed over root.key and root.crt;
//   - the cross-certificates are written: RootCrossCertFile (the new root
//     signed by the previous one) and PreviousRootCrossCertFile (the reverse);
//   - the device intermediate is rotated (RotateIntermediate): the new one
//     is signed by the new root, the old one stays trusted;
//   - the server certificate is reissued under the new root; it is served
//     with RootCrossCertFile, so clients holding either root verify it;
//   - TrustBundleFile lists both roots, signed by the new root.
//
// Each step is atomic and checked before it is taken, so a crash at any
// point leaves a directory that Load accepts, and running the command
// again completes it. A rollover already complete up to its finish is
// ErrRolloverInProgress.
//
// When root.key refers to a key in a token, keys (a KeyGenerator) finds
// it and the new root's key is generated in the same token, labelled after
// the old one and the new serial; root-previous.key gets the old
// reference. The device intermediate's rotation does the same for its
// key (RotateIntermediate).
func BeginRootRollover(dir string, now time.Time, keys KeyStore) (RootRollover, error) {
	if _, err := RecoverRotation(dir); err != nil {
		return RootRollover{}, err
	}
	if _, err := recoverRootInstall(dir); err != nil {
		return RootRollover{}, err
	}
	var done []string
	step := func(what string, err error) error {
		if err != nil {
			return fmt.Errorf("begin root rollover: %s: %w (the directory is still loadable; run the command again to complete it)", what, err)
		}
		done = append(done, what)
		return nil
	}

	current, err := load(dir, func() time.Time { return now }, keys)
	if err != nil {
		return RootRollover{}, err
	}
	begun := current.previous != nil && !current.previous.Equal(current.root)
	if !begun {
		if err := step("keep the current root as "+PreviousRootCertFile, keepPreviousRoot(dir, current.root)); err != nil {
			return RootRollover{}, err
		}
		if err := step("install a new root", installNewRoot(dir, now, keys)); err != nil {
			return RootRollover{}, err
		}
	}
	rest, err := completeRollover(dir, now, keys)
	if err != nil {
		return RootRollover{}, fmt.Errorf("begin root rollover: %w (the directory is still loadable; run the command again to complete it)", err)
	}
	done = append(done, rest...)
	if begun && len(rest) == 0 {
		return RootRollover{}, fmt.Errorf("%w: %s replaces %s; once devices have moved, run `fleetgate ca root-rollover finish`",
			ErrRolloverInProgress, SerialHex(current.root), SerialHex(current.previous))
	}
	after, err := load(dir, func() time.Time { return now }, keys)
	if err != nil {
		return RootRollover{}, err
	}
	return RootRollover{Root: after.root, Previous: after.previous, DeviceCA: after.deviceCA, Done: done}, nil
}

// keepPreviousRoot copies the root pair to the previous-root files. The
// key file is copied as it is: a PEM key, or a reference to a key that
// stays in its token.
func keepPreviousRoot(dir string, root *x509.Certificate) error {
	pub, err := readPublicKey(dir, RootKeyFile)
	if err != nil {
		return fmt.Errorf("CA directory %s: %w", dir, err)
	}
	if !publicMatches(pub, root.PublicKey) {
		return fmt.Errorf("CA directory %s: %w: %s does not match %s", dir, ErrCorrupt, RootKeyFile, RootCertFile)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, RootKeyFile))
	if err != nil {
		return err
	}
	if err := replaceFile(dir, PreviousRootKeyFile, keyPEM, keyMode); err != nil {
		return err
	}
	return replaceFile(dir, PreviousRootCertFile, EncodeCertPEM(root), certMode)
}

// installNewRoot makes a new root and renames it into place, key first
// (Load takes the staged certificate while only the key is installed). Its
// key is made where the current root's is (newKeyLike); a key generated in
// a token is deleted again when it was not installed.
func installNewRoot(dir string, now time.Time, keys KeyStore) error {
	serial, err := randomSerial()
	if err != nil {
		return err
	}
	key, err := newKeyLike(dir, RootKeyFile, keys, serial)
	if err != nil {
		return err
	}
	if err := writeNewRoot(dir, now, serial, key); err != nil {
		return errors.Join(err, key.discardUnlessIn(dir, RootKeyFile))
	}
	return nil
}

// writeNewRoot signs the new root with its own key and installs the pair.
func writeNewRoot(dir string, now time.Time, serial *big.Int, key freshKey) error {
	name := "fleetgate root CA " + now.UTC().Format("2006-01-02 15:04:05Z")
	tmpl := caTemplate(name, now, rootLifetime, 1, nil)
	tmpl.SerialNumber = serial
	root, err := sign(tmpl, nil, key.signer.Public(), key.signer)
	if err != nil {
		return err
	}
	keyPEM := key.file
	for _, f := range []struct {
		name string
		data []byte
		mode fs.FileMode
	}{{RootNextKeyFile, keyPEM, keyMode}, {RootNextCertFile, EncodeCertPEM(root), certMode}} {
		if err := replaceFile(dir, f.name, f.data, f.mode); err != nil {
			return err
		}
	}
	if err := renameInDir(dir, RootNextKeyFile, RootKeyFile); err != nil {
		return err
	}
	return renameInDir(dir, RootNextCertFile, RootCertFile)
}

// completeRollover takes the steps of a begun rollover that are not taken
// yet, and returns them.
func completeRollover(dir string, now time.Time, keys KeyStore) ([]string, error) {
	current, err := load(dir, func() time.Time { return now }, keys)
	if err != nil {
		return nil, err
	}
	root, previous := current.root, current.previous
	rootKey, err := readRootKey(dir, root, keys)
	if err != nil {
		return nil, err
	}
	previousKey, err := readKey(dir, PreviousRootKeyFile, keys)
	if err != nil {
		return nil, fmt.Errorf("CA directory %s: the previous root's key is needed for the cross-certificates: %w", dir, err)
	}
	var done []string
	cross, err := readOptionalCert(dir, RootCrossCertFile)
	if err != nil {
		return nil, err
	}
	if cross == nil || !samePublicKey(cross, root) || cross.CheckSignatureFrom(previous) != nil {
		for _, c := range []struct {
			name            string
			subject, issuer *x509.Certificate
			key             crypto.Signer
		}{{RootCrossCertFile, root, previous, previousKey}, {PreviousRootCrossCertFile, previous, root, rootKey}} {
			tmpl := caTemplate(c.subject.Subject.CommonName, now, rootLifetime, 1, nil)
			tmpl.Subject = c.subject.Subject
			x, err := sign(tmpl, c.issuer, c.subject.PublicKey, c.key)
			if err != nil {
				return done, err
			}
			if err := replaceFile(dir, c.name, EncodeCertPEM(x), certMode); err != nil {
				return done, fmt.Errorf("write %s: %w", c.name, err)
			}
		}
		if cross, err = readCert(dir, RootCrossCertFile); err != nil {
			return done, err
		}
		done = append(done, "write the cross-certificates")
	}
	if current.deviceCA.CheckSignatureFrom(root) != nil {
		if _, err := RotateIntermediate(dir, now, keys); err != nil {
			return done, err
		}
		done = append(done, "rotate the device intermediate onto the new root")
	}
	if current.server.Leaf.CheckSignatureFrom(root) != nil {
		if _, err := RenewServer(dir, nil, now, keys); err != nil {
			return done, err
		}
		done = append(done, "reissue the server certificate under the new root")
	}
	wrote, err := ensureTrustBundle(dir, []*x509.Certificate{root, previous}, rootKey, []*x509.Certificate{root, cross}, now)
	if err != nil {
		return done, err
	}
	if wrote {
		done = append(done, "sign a trust bundle listing both roots")
	}
	return done, nil
}

// FinishRootRollover retires the previous root of the CA directory dir:
// device intermediates it signed are no longer trusted, the trust bundle
// lists the current root alone, and the cross-certificates and the
// previous root's files are removed (its certificate last: until then the
// rollover counts as in progress, and the command may be run again).
//
// Without a rollover in progress it is ErrNoRollover; before the new root
// issues the device intermediate and the server certificate it is
// ErrRolloverIncomplete. keys finds the root key when it is in a token; the
// previous root's key, when in a token, is left there
// (RootRollover.UnusedKeyLabel).
func FinishRootRollover(dir string, now time.Time, keys KeyStore) (RootRollover, error) {
	if _, err := RecoverRotation(dir); err != nil {
		return RootRollover{}, err
	}
	if _, err := recoverRootInstall(dir); err != nil {
		return RootRollover{}, err
	}
	current, err := load(dir, func() time.Time { return now }, keys)
	if err != nil {
		return RootRollover{}, err
	}
	root, previous := current.root, current.previous
	if previous == nil || previous.Equal(root) {
		return RootRollover{}, fmt.Errorf("%w in %s: begin one with `fleetgate ca root-rollover begin`", ErrNoRollover, dir)
	}
	if current.deviceCA.CheckSignatureFrom(root) != nil || current.server.Leaf.CheckSignatureFrom(root) != nil {
		return RootRollover{}, fmt.Errorf("%w: the device intermediate or the server certificate is not under the new root yet; run `fleetgate ca root-rollover begin` again to complete it",
			ErrRolloverIncomplete)
	}
	rootKey, err := readRootKey(dir, root, keys)
	if err != nil {
		return RootRollover{}, err
	}
	unused := tokenKeyLabel(dir, PreviousRootKeyFile)
	var done []string
	var keep []*x509.Certificate
	for _, c := range current.trusted {
		if c.CheckSignatureFrom(root) == nil {
			keep = append(keep, c)
		} else {
			done = append(done, "retire intermediate "+SerialHex(c))
		}
	}
	if err := replaceFile(dir, TrustedDeviceCAsFile, encodeBundle(keep), certMode); err != nil {
		return RootRollover{}, fmt.Errorf("finish root rollover: write %s: %w", TrustedDeviceCAsFile, err)
	}
	if _, err := ensureTrustBundle(dir, []*x509.Certificate{root}, rootKey, []*x509.Certificate{root}, now); err != nil {
		return RootRollover{}, fmt.Errorf("finish root rollover: %w", err)
	}
	done = append(done, "sign a trust bundle listing the new root alone")
	for _, name := range []string{RootCrossCertFile, PreviousRootCrossCertFile, PreviousRootKeyFile, PreviousRootCertFile} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return RootRollover{}, fmt.Errorf("finish root rollover: remove %s: %w (run the command again)", name, err)
		}
	}
	if err := syncDir(dir); err != nil {
		return RootRollover{}, err
	}
	done = append(done, "remove the previous root and the cross-certificates")
	return RootRollover{Root: root, Previous: previous, DeviceCA: current.deviceCA, Done: done, UnusedKeyLabel: unused}, nil
}

// recoverRootInstall finishes a new root's installation that stopped
// between renaming its key and its certificate (finished = true), or
// removes staged files a rollover left before renaming either.
func recoverRootInstall(dir string) (finished bool, err error) {
	return recoverStaged(dir, RootCertFile, RootKeyFile, RootNextCertFile, RootNextKeyFile, nil)
}
