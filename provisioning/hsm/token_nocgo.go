//go:build !cgo

package hsm

import (
	"crypto"
	"errors"
	"fmt"

	"github.com/fleetgate/fleetgate/provisioning/ca"
)

// errNoCgo is why a build without cgo cannot open a token: PKCS#11
// modules are C libraries.
var errNoCgo = errors.New("this fleetgate was built without cgo, which PKCS#11 needs: build it with CGO_ENABLED=1")

// Token stands in for an open token in a build without cgo; Open never
// returns one.
type Token struct{}

// Open fails with ErrModule: no module can be loaded without cgo.
func Open(cfg Config) (*Token, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w: %s: %w", ErrModule, cfg.Module, errNoCgo)
}

// Label, Signer, Generate, Delete and Close are never reached: Open
// returns no Token.
func (t *Token) Label() string                                { return "" }
func (t *Token) Signer(string, string) (crypto.Signer, error) { return nil, errNoCgo }
func (t *Token) Generate(string) (crypto.Signer, error)       { return nil, errNoCgo }
func (t *Token) Delete(string) error                          { return errNoCgo }
func (t *Token) Close() error                                 { return nil }

var _ ca.KeyGenerator = (*Token)(nil)
