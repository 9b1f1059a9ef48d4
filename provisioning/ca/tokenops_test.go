package ca_test

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/internal/testkit/softhsm"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/hsm"
)

// keyRefLabel returns the Label header of the key reference in dir/name.
func keyRefLabel(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PKCS11 KEY REFERENCE" {
		t.Fatalf("%s is not a key reference:\n%s", name, b)
	}
	return block.Headers["Label"]
}

// tokenCA creates a CA with all three keys in a fresh token.
func tokenCA(t *testing.T) (*hsm.Token, string) {
	t.Helper()
	st := softhsm.New(t, "fg-ca")
	tok := st.Open(t)
	dir := filepath.Join(t.TempDir(), "ca")
	if _, err := ca.CreateInToken(dir, ca.TokenCAOptions{Token: tok, Labels: tokenLabels}); err != nil {
		t.Fatal(err)
	}
	return tok, dir
}

// TestRotateIntermediateInToken: the new intermediate's key is generated
// in the token, device-ca.key refers to it, the old key stays there
// unused, and the new intermediate issues devices that verify.
func TestRotateIntermediateInToken(t *testing.T) {
	tok, dir := tokenCA(t)

	before := pki.DirState(t, dir)
	if _, err := ca.RotateIntermediate(dir, time.Now(), nil); !errors.Is(err, ca.ErrNoKeyStore) {
		t.Fatalf("rotation without the token: %v, want ErrNoKeyStore", err)
	}
	if after := pki.DirState(t, dir); after != before {
		t.Fatalf("a refused rotation changed the directory:\nbefore %s\nafter  %s", before, after)
	}

	r, err := ca.RotateIntermediate(dir, time.Now(), tok)
	if err != nil {
		t.Fatal(err)
	}
	label := keyRefLabel(t, dir, ca.DeviceCAKeyFile)
	if want := "fg-device-ca-" + ca.SerialHex(r.New); label != want || r.NewKeyLabel != want {
		t.Fatalf("device-ca.key names %q (Rotation says %q), want %q", label, r.NewKeyLabel, want)
	}
	if r.OldKeyLabel != "fg-device-ca" {
		t.Fatalf("OldKeyLabel %q, want fg-device-ca", r.OldKeyLabel)
	}
	k, err := tok.Signer("fg-ca", label)
	if err != nil {
		t.Fatalf("the new key is not in the token: %v", err)
	}
	if !r.New.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Public()) {
		t.Fatal("the token key is not the new intermediate's")
	}

	authority, err := ca.LoadWithKeys(dir, tok)
	if err != nil {
		t.Fatal(err)
	}
	if !authority.DeviceCA().Equal(r.New) {
		t.Fatal("the loaded CA does not issue from the new intermediate")
	}
	leaf, err := authority.IssueDevice(pki.CSR(t, pki.Key(t), ""), "dev-rot-1", big.NewInt(7), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	inter := x509.NewCertPool()
	inter.AddCert(r.New)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: authority.RootPool(), Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("device certificate from the rotated intermediate: %v", err)
	}

	// The old key stays in the token for the old intermediate's CRL and
	// OCSP signer.
	if got := keyRefLabel(t, dir, ca.KeptKeyFile(r.Old)); got != "fg-device-ca" {
		t.Fatalf("%s names %q, want fg-device-ca", ca.KeptKeyFile(r.Old), got)
	}
	if is := authority.Issuers(); len(is) != 2 || !is[1].Certificate().Equal(r.Old) {
		t.Fatalf("%d issuers, want the new and the old intermediate", len(is))
	} else if _, err := is[1].CRL(nil, big.NewInt(1), time.Hour); err != nil {
		t.Fatalf("the old intermediate signs no CRL with its key in the token: %v", err)
	}

	// Retiring the old intermediate and listing need no token; the
	// retirement names the old key for deletion.
	ret, err := ca.RetireIntermediate(dir, ca.SerialHex(r.Old))
	if err != nil {
		t.Fatalf("retire without the token: %v", err)
	}
	if !slices.Equal(ret.TokenKeys, []string{"fg-device-ca"}) {
		t.Fatalf("retirement names token keys %q, want fg-device-ca", ret.TokenKeys)
	}
	if _, err := os.Stat(filepath.Join(dir, ca.KeptKeyFile(r.Old))); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s after retirement: %v, want it gone", ca.KeptKeyFile(r.Old), err)
	}
	listed, err := ca.LoadPublic(dir)
	if err != nil {
		t.Fatalf("LoadPublic without the token: %v", err)
	}
	if !listed.DeviceCA().Equal(r.New) || len(listed.TrustedDeviceCAs()) != 0 {
		t.Fatalf("LoadPublic: issuing %s, trusted %d", ca.SerialHex(listed.DeviceCA()), len(listed.TrustedDeviceCAs()))
	}
	if _, err := listed.IssueDevice(pki.CSR(t, pki.Key(t), ""), "dev-rot-2", big.NewInt(8), time.Hour); !errors.Is(err, ca.ErrNoKeyStore) {
		t.Fatalf("issuing through LoadPublic: %v, want ErrNoKeyStore", err)
	}
}

// generated is a token that records the labels it generates and whose
// root key cannot sign.
type generated struct {
	*hsm.Token
	labels []string
}

func (g *generated) Generate(label string) (crypto.Signer, error) {
	g.labels = append(g.labels, label)
	return g.Token.Generate(label)
}

func (g *generated) Signer(token, label string) (crypto.Signer, error) {
	s, err := g.Token.Signer(token, label)
	if err != nil || label != "fg-root" {
		return s, err
	}
	return brokenSigner{s}, nil
}

type brokenSigner struct{ crypto.Signer }

func (brokenSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("token unplugged")
}

// TestRotateIntermediateInTokenFailureLeavesNothing: when the root cannot
// sign the new intermediate, the key generated for it is deleted again
// and the directory is unchanged.
func TestRotateIntermediateInTokenFailureLeavesNothing(t *testing.T) {
	tok, dir := tokenCA(t)
	g := &generated{Token: tok}
	before := pki.DirState(t, dir)
	if _, err := ca.RotateIntermediate(dir, time.Now(), g); err == nil || !strings.Contains(err.Error(), "token unplugged") {
		t.Fatalf("rotation with a root that cannot sign: %v", err)
	}
	if len(g.labels) != 1 {
		t.Fatalf("generated %v, want one key", g.labels)
	}
	if _, err := tok.Signer("fg-ca", g.labels[0]); !errors.Is(err, hsm.ErrNoKey) {
		t.Fatalf("key %q of the failed rotation: %v, want it deleted", g.labels[0], err)
	}
	if after := pki.DirState(t, dir); after != before {
		t.Fatalf("a failed rotation changed the directory:\nbefore %s\nafter  %s", before, after)
	}
}

// TestRootKeyInTokenOperations: renew-server, broker-bundle and a root
// rollover sign with the root key in the token; the new root's key is
// generated there too.
func TestRootKeyInTokenOperations(t *testing.T) {
	tok, dir := tokenCA(t)
	root, err := ca.LoadPublic(dir)
	if err != nil {
		t.Fatal(err)
	}

	server, err := ca.RenewServer(dir, []string{"broker.example.net"}, time.Now(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if server.CheckSignatureFrom(root.Root()) != nil || !strings.Contains(strings.Join(server.DNSNames, " "), "broker.example.net") {
		t.Fatalf("renewed server certificate %v not signed by the root", server.DNSNames)
	}

	b, err := ca.WriteBrokerBundle(dir, filepath.Join(t.TempDir(), "bundle"), []string{"b1.example"}, time.Now(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if b.Server.CheckSignatureFrom(root.Root()) != nil {
		t.Fatal("bundle server certificate not signed by the root")
	}
	if _, err := ca.WriteBrokerBundle(dir, filepath.Join(t.TempDir(), "bundle"), []string{"b1.example"}, time.Now(), nil); !errors.Is(err, ca.ErrNoKeyStore) {
		t.Fatalf("broker bundle without the token: %v, want ErrNoKeyStore", err)
	}

	r, err := ca.BeginRootRollover(dir, time.Now(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := keyRefLabel(t, dir, ca.RootKeyFile), "fg-root-"+ca.SerialHex(r.Root); got != want {
		t.Fatalf("root.key names %q, want %q", got, want)
	}
	if got := keyRefLabel(t, dir, ca.PreviousRootKeyFile); got != "fg-root" {
		t.Fatalf("root-previous.key names %q, want fg-root", got)
	}
	if _, err := ca.LoadWithKeys(dir, tok); err != nil {
		t.Fatalf("load during the rollover: %v", err)
	}
	f, err := ca.FinishRootRollover(dir, time.Now(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if f.UnusedKeyLabel != "fg-root" {
		t.Fatalf("UnusedKeyLabel %q, want fg-root", f.UnusedKeyLabel)
	}
	after, err := ca.LoadWithKeys(dir, tok)
	if err != nil {
		t.Fatal(err)
	}
	if !after.Root().Equal(r.Root) || after.DeviceCA().CheckSignatureFrom(r.Root) != nil {
		t.Fatal("after the rollover the CA is not under the new root")
	}
}
