//go:build cgo

package hsm_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ThalesGroup/crypto11"

	"github.com/fleetgate/fleetgate/internal/testkit/softhsm"
	"github.com/fleetgate/fleetgate/provisioning/hsm"
)

func TestGenerateSignFindDelete(t *testing.T) {
	st := softhsm.New(t, "fg-test")
	tok := st.Open(t)

	key, err := tok.Generate("root")
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("hello"))
	sig, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := key.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve.Params().Name != "P-256" {
		t.Fatalf("public key %T, want ECDSA P-256", key.Public())
	}
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		t.Fatal("signature from the token does not verify")
	}

	// The private half is sensitive and not extractable.
	attrs, err := attributes(key)
	if err != nil {
		t.Fatal(err)
	}
	if !attrs[crypto11.CkaSensitive] || attrs[crypto11.CkaExtractable] {
		t.Fatalf("CKA_SENSITIVE=%v CKA_EXTRACTABLE=%v, want true/false", attrs[crypto11.CkaSensitive], attrs[crypto11.CkaExtractable])
	}

	if _, err := tok.Generate("root"); !errors.Is(err, hsm.ErrKeyExists) {
		t.Fatalf("second Generate under the same label: %v, want ErrKeyExists", err)
	}
	found, err := tok.Signer("fg-test", "root")
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(found.Public()) {
		t.Fatal("Signer found another key than the one generated")
	}
	if _, err := tok.Signer("other-token", "root"); !errors.Is(err, hsm.ErrOtherToken) {
		t.Fatalf("key of another token: %v, want ErrOtherToken", err)
	}
	if err := tok.Delete("root"); err != nil {
		t.Fatal(err)
	}
	_, err = tok.Signer("fg-test", "root")
	if !errors.Is(err, hsm.ErrNoKey) || !strings.Contains(err.Error(), `"root"`) {
		t.Fatalf("deleted key: %v, want ErrNoKey naming the label", err)
	}
}

// attributes reads the private key's CKA_SENSITIVE and CKA_EXTRACTABLE
// through a second crypto11 context on the same token.
func attributes(key crypto.Signer) (map[crypto11.AttributeType]bool, error) {
	ctx, err := crypto11.Configure(&crypto11.Config{Path: softhsm.Module, TokenLabel: "fg-test", Pin: "123456"})
	if err != nil {
		return nil, err
	}
	defer ctx.Close()
	k, err := ctx.FindKeyPair(nil, []byte("root"))
	if err != nil {
		return nil, err
	}
	set, err := ctx.GetAttributes(k, []crypto11.AttributeType{crypto11.CkaSensitive, crypto11.CkaExtractable})
	if err != nil {
		return nil, err
	}
	out := map[crypto11.AttributeType]bool{}
	for typ, a := range set {
		out[typ] = len(a.Value) == 1 && a.Value[0] != 0
	}
	return out, nil
}

func TestOpenErrorsNameWhatIsWrong(t *testing.T) {
	st := softhsm.New(t, "fg-test")
	wrongPIN := filepath.Join(t.TempDir(), "wrong")
	if err := os.WriteFile(wrongPIN, []byte("999999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	notModule := filepath.Join(t.TempDir(), "libnothing.so")
	if err := os.WriteFile(notModule, []byte("not a library"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(*hsm.Config)
		want   error
		names  string
	}{
		{"wrong PIN", func(c *hsm.Config) { c.PINFile = wrongPIN }, hsm.ErrWrongPIN, `"fg-test"`},
		{"missing token", func(c *hsm.Config) { c.Token = "no-such-token" }, hsm.ErrNoToken, `"no-such-token"`},
		{"module not a library", func(c *hsm.Config) { c.Module = notModule }, hsm.ErrModule, notModule},
		{"module missing", func(c *hsm.Config) { c.Module = "/nonexistent/libp11.so" }, hsm.ErrModule, "/nonexistent/libp11.so"},
		{"PIN file missing", func(c *hsm.Config) { c.PINFile = "/nonexistent/pin" }, hsm.ErrConfig, "/nonexistent/pin"},
		{"PIN variable unset", func(c *hsm.Config) { c.PINFile, c.PINEnv = "", "FG_TEST_UNSET_PIN" }, hsm.ErrConfig, "FG_TEST_UNSET_PIN"},
		{"no token label", func(c *hsm.Config) { c.Token = "" }, hsm.ErrConfig, "hsm_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := st.Config
			tc.change(&cfg)
			tok, err := hsm.Open(cfg)
			if err == nil {
				tok.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.names) {
				t.Fatalf("Open: %v\nwant %v naming %s", err, tc.want, tc.names)
			}
		})
	}

	// The right configuration still opens the token, from a PIN variable.
	t.Setenv("FG_TEST_PIN", st.PIN)
	cfg := st.Config
	cfg.PINFile, cfg.PINEnv = "", "FG_TEST_PIN"
	tok, err := hsm.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Close(); err != nil {
		t.Fatal(err)
	}
}
