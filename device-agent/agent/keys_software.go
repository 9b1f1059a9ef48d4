package agent

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/fleetgate/fleetgate/provisioning/enroll"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// softwareKeys keeps ECDSA keys in the state (PKCS#8 DER) and enrolls with
// a one-time token.
type softwareKeys struct {
	deviceID  string
	token     string // Config.Token
	tokenFile string
	generate  func() (crypto.Signer, error)

	// pendingHash and pendingKey are the token and key of an enrollment
	// whose answer has not arrived. The service answers a spent token
	// again with the certificate it issued when the retry's CSR is for the
	// same key (within its retry window), so a retry after a lost answer
	// must not make a new key: that would be refused as token_replayed and
	// the device left without a certificate. Only the runner's enrollment
	// loop calls enroll, one call at a time.
	pendingHash string
	pendingKey  []byte
}

func newSoftwareKeys(cfg Config) *softwareKeys {
	gen := cfg.GenerateKey
	if gen == nil {
		gen = func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }
	}
	return &softwareKeys{deviceID: cfg.DeviceID, token: cfg.Token, tokenFile: cfg.TokenFile, generate: gen}
}

// errNoToken explains what the operator has to do when a software device
// cannot enroll by itself.
var errNoToken = errors.New("no enrollment token: create one with `fleetgate token create --group G` and write it to token_file")

// readToken returns the configured token and its hash.
func (k *softwareKeys) readToken() (string, string, error) {
	tok := k.token
	if tok == "" && k.tokenFile != "" {
		b, err := os.ReadFile(k.tokenFile)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", "", fmt.Errorf("%w: token_file: %w", ErrNeedsEnrollment, err)
		}
		tok = strings.TrimSpace(string(b))
	}
	if tok == "" {
		return "", "", fmt.Errorf("%w: %w", ErrNeedsEnrollment, errNoToken)
	}
	sum := sha256.Sum256([]byte(tok))
	return tok, hex.EncodeToString(sum[:]), nil
}

func (k *softwareKeys) enroll(ctx context.Context, api *enroll.Client, prev *State) (*State, wire.Issued, error) {
	tok, hash, err := k.readToken()
	if err != nil {
		return nil, wire.Issued{}, err
	}
	if prev != nil && prev.TokenHash == hash {
		return nil, wire.Issued{}, fmt.Errorf("%w: the token in token_file was already used; %w", ErrNeedsEnrollment, errNoToken)
	}
	der, err := k.keyFor(hash)
	if err != nil {
		return nil, wire.Issued{}, err
	}
	key, err := k.signer(der, nil)
	if err != nil {
		return nil, wire.Issued{}, err
	}
	csr, err := csrPEM(k.deviceID, key)
	if err != nil {
		return nil, wire.Issued{}, err
	}
	issued, err := api.EnrollToken(ctx, wire.TokenRequest{Token: tok, DeviceID: k.deviceID, CSR: csr})
	if err != nil {
		return nil, wire.Issued{}, err
	}
	k.pendingHash, k.pendingKey = "", nil
	return &State{DeviceID: k.deviceID, KeySource: KeySoftware, Key: der, Chain: []byte(issued.Chain), TokenHash: hash}, issued, nil
}

// keyFor returns the key of the unanswered enrollment with the token of
// hash, or a new one that becomes it.
func (k *softwareKeys) keyFor(hash string) ([]byte, error) {
	if k.pendingHash == hash && k.pendingKey != nil {
		return k.pendingKey, nil
	}
	der, err := k.newKey()
	if err != nil {
		return nil, err
	}
	k.pendingHash, k.pendingKey = hash, der
	return der, nil
}

func (k *softwareKeys) newKey() ([]byte, error) {
	key, err := k.generate()
	if err != nil {
		return nil, fmt.Errorf("agent: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("agent: encode key: %w", err)
	}
	return der, nil
}

func (k *softwareKeys) rotate(ctx context.Context, mtls *enroll.Client, _ *State, der []byte) (wire.Issued, error) {
	key, err := k.signer(der, nil)
	if err != nil {
		return wire.Issued{}, err
	}
	csr, err := csrPEM(k.deviceID, key)
	if err != nil {
		return wire.Issued{}, err
	}
	return mtls.FinishRotation(ctx, wire.RotationRequest{CSR: csr})
}

// signer parses a PKCS#8 key; with pub set, it must be the key's public.
func (k *softwareKeys) signer(der []byte, pub crypto.PublicKey) (crypto.Signer, error) {
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: key: %w", ErrState, err)
	}
	s, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: key of type %T cannot sign", ErrState, parsed)
	}
	if eq, ok := s.Public().(interface{ Equal(crypto.PublicKey) bool }); pub != nil && (!ok || !eq.Equal(pub)) {
		return nil, fmt.Errorf("%w: the certificate is not for the stored key", ErrState)
	}
	return s, nil
}

func (k *softwareKeys) close() error { return nil }
