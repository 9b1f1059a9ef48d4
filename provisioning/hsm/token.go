//go:build cgo

package hsm

import (
	"crypto"
	"crypto/elliptic"
	"errors"
	"fmt"
	"os"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"

	"github.com/fleetgate/fleetgate/provisioning/ca"
)

// Token is an open, logged-in PKCS#11 token. Its signers stay usable until
// Close. A Token is safe for concurrent use.
type Token struct {
	cfg Config
	ctx *crypto11.Context
}

// Open loads the module, finds the token by label and logs in. Each
// failure names what is wrong: ErrModule, ErrNoToken, ErrWrongPIN or
// ErrConfig.
func Open(cfg Config) (*Token, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pin, err := cfg.pin()
	if err != nil {
		return nil, err
	}
	if err := checkModule(cfg.Module); err != nil {
		return nil, err
	}
	ctx, err := crypto11.Configure(&crypto11.Config{Path: cfg.Module, TokenLabel: cfg.Token, Pin: pin})
	if err != nil {
		return nil, classify(cfg, err)
	}
	return &Token{cfg: cfg, ctx: ctx}, nil
}

// checkModule loads the module once on its own, so that a path that is
// missing or not a PKCS#11 library is told apart from a token problem.
func checkModule(path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%w: %s (hsm_module): %w", ErrModule, path, err)
	}
	m := pkcs11.New(path)
	if m == nil {
		return fmt.Errorf("%w: %s (hsm_module) is not a loadable PKCS#11 library", ErrModule, path)
	}
	m.Destroy()
	return nil
}

// tokenNotFound is the text crypto11 gives its (unexported) error for a
// label no slot holds.
const tokenNotFound = "could not find PKCS#11 token"

// classify turns a crypto11.Configure error into one of the sentinels.
func classify(cfg Config, err error) error {
	var p11 pkcs11.Error
	switch {
	case errors.As(err, &p11) && (p11 == pkcs11.CKR_PIN_INCORRECT || p11 == pkcs11.CKR_PIN_LEN_RANGE || p11 == pkcs11.CKR_PIN_LOCKED):
		return fmt.Errorf("%w: token %q of %s: %v: check hsm_pin_file or hsm_pin_env", ErrWrongPIN, cfg.Token, cfg.Module, p11)
	case err.Error() == tokenNotFound:
		return fmt.Errorf("%w: no token labelled %q in %s (hsm_token): list tokens with `softhsm2-util --show-slots` or your HSM's tool", ErrNoToken, cfg.Token, cfg.Module)
	default:
		return fmt.Errorf("%w: %s with token %q: %w", ErrModule, cfg.Module, cfg.Token, err)
	}
}

// Label returns the label of the token.
func (t *Token) Label() string { return t.cfg.Token }

// Signer returns the key pair labelled label. token must be the label of
// this token (ErrOtherToken otherwise): it comes from a reference that
// names both.
func (t *Token) Signer(token, label string) (crypto.Signer, error) {
	if token != t.cfg.Token {
		return nil, fmt.Errorf("%w: key %q is in token %q, the token configured (hsm_token) is %q", ErrOtherToken, label, token, t.cfg.Token)
	}
	s, err := t.find(label)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, fmt.Errorf("%w: no key pair labelled %q in token %q of %s", ErrNoKey, label, t.cfg.Token, t.cfg.Module)
	}
	return s, nil
}

func (t *Token) find(label string) (crypto11.Signer, error) {
	found, err := t.ctx.FindKeyPairs(nil, []byte(label))
	if err != nil {
		return nil, fmt.Errorf("find key %q in token %q: %w", label, t.cfg.Token, err)
	}
	if len(found) == 0 {
		return nil, nil
	}
	return found[0], nil
}

// Generate creates an ECDSA P-256 key pair labelled label inside the
// token: the private key is sensitive and not extractable. A label in use
// is refused with ErrKeyExists, so that labels stay unambiguous.
func (t *Token) Generate(label string) (crypto.Signer, error) {
	existing, err := t.find(label)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		return nil, fmt.Errorf("%w: token %q already holds a key pair labelled %q: choose other labels or delete it", ErrKeyExists, t.cfg.Token, label)
	}
	// The label doubles as CKA_ID, which crypto11 needs to pair the halves.
	s, err := t.ctx.GenerateECDSAKeyPairWithLabel([]byte(label), []byte(label), elliptic.P256())
	if err != nil {
		return nil, fmt.Errorf("generate key %q in token %q: %w", label, t.cfg.Token, err)
	}
	return s, nil
}

// Delete removes the key pair labelled label from the token.
func (t *Token) Delete(label string) error {
	s, err := t.find(label)
	if err != nil {
		return err
	}
	if s == nil {
		return fmt.Errorf("%w: no key pair labelled %q in token %q", ErrNoKey, label, t.cfg.Token)
	}
	return s.Delete()
}

// Close logs out and releases the module once no other Token uses it.
// Signers from the token stop working.
func (t *Token) Close() error { return t.ctx.Close() }

var _ ca.KeyGenerator = (*Token)(nil)
