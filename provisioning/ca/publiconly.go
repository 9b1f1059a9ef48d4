package ca

import (
	"crypto"
	"fmt"
	"io"
	"time"
)

// LoadPublic is Load for reading a CA directory without its token: a CA
// key file holding a reference (EncodeKeyRefPEM) is read as the public
// key the reference records, and the token is not opened. The CA it
// returns shows the certificates (for `fleetgate ca list`), but a key in a
// token cannot sign through it (ErrNoKeyStore); file keys sign as usual.
func LoadPublic(dir string) (*CA, error) {
	return load(dir, time.Now, publicOnly{})
}

// publicOnly is the KeyStore of LoadPublic; openKeyRef answers it with
// the reference's public key instead of asking it.
type publicOnly struct{}

// Signer is never called: openKeyRef recognises publicOnly first.
func (publicOnly) Signer(token, label string) (crypto.Signer, error) {
	return nil, fmt.Errorf("%w: key %q of token %q was read without the token", ErrNoKeyStore, label, token)
}

// unopenedKey is a key in a token known by its reference only.
type unopenedKey struct{ ref KeyRef }

func (k unopenedKey) Public() crypto.PublicKey { return k.ref.Public }

func (k unopenedKey) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, fmt.Errorf("%w: key %q in token %q was read without the token: configure the token (the --hsm-* flags) to sign with it",
		ErrNoKeyStore, k.ref.Label, k.ref.Token)
}
