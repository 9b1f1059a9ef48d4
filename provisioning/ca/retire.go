package ca

import (
	"crypto/x509"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Retirement is the outcome of RetireIntermediate.
type Retirement struct {
	// Old is the intermediate no longer trusted.
	Old *x509.Certificate
	// TokenKeys are the labels of token keys that nothing refers to any
	// more: Old's kept key when it is in a token (and any left by a
	// retirement that stopped halfway). They are to be deleted with the
	// token's tool once the server has reloaded. Kept file keys are
	// removed.
	TokenKeys []string
}

// RetireIntermediate removes the trusted device intermediate with the given
// serial (hex, as SerialHex prints it; colons and a 0x prefix are accepted)
// from TrustedDeviceCAsFile, then its kept key (KeptKeyFile), and returns
// it. A crash between the two leaves a kept key that Load ignores and the
// next retirement removes, naming it in TokenKeys when it is in a token. Once a running server has
// reloaded, devices whose certificates chain to it can no longer start new
// sessions; sessions that are up stay up until their certificate is
// revoked or expires, because the broker checks the chain at the handshake
// only (revocation, not retirement, is the tool to drop a device at once).
//
// It signs nothing, so it needs no CA key: keys in a token are read by
// their references (LoadPublic), without the token.
//
// The issuing intermediate cannot be retired (ErrIssuingIntermediate):
// rotate first. An unknown serial is ErrNoSuchIntermediate.
func RetireIntermediate(dir, serial string) (Retirement, error) {
	want, err := parseSerialHex(serial)
	if err != nil {
		return Retirement{}, err
	}
	// A stopped rotation would put the old certificate back into the
	// bundle when it is finished, undoing this retirement: finish it first.
	if _, err := RecoverRotation(dir); err != nil {
		return Retirement{}, err
	}
	current, err := load(dir, time.Now, publicOnly{})
	if err != nil {
		return Retirement{}, err
	}
	if current.deviceCA.SerialNumber.Cmp(want) == 0 {
		return Retirement{}, fmt.Errorf("%w: %s issues device certificates now; run `fleetgate ca rotate-intermediate` first",
			ErrIssuingIntermediate, SerialHex(current.deviceCA))
	}
	trusted, err := readTrusted(dir)
	if err != nil {
		return Retirement{}, fmt.Errorf("CA directory %s: %w", dir, err)
	}
	var keep []*x509.Certificate
	var retired *x509.Certificate
	for _, c := range trusted {
		if c.SerialNumber.Cmp(want) == 0 {
			retired = c
			continue
		}
		keep = append(keep, c)
	}
	if retired == nil {
		return Retirement{}, fmt.Errorf("%w: serial %s is not in %s", ErrNoSuchIntermediate, want.Text(16), TrustedDeviceCAsFile)
	}
	if err := replaceFile(dir, TrustedDeviceCAsFile, encodeBundle(keep), certMode); err != nil {
		return Retirement{}, fmt.Errorf("write %s: %w", TrustedDeviceCAsFile, err)
	}
	labels, err := removeUntrustedKeptKeys(dir, keep)
	if err != nil {
		return Retirement{}, fmt.Errorf("retired %s, but its kept key is left: %w (it is no longer trusted; remove %s by hand)",
			SerialHex(retired), err, KeptKeyFile(retired))
	}
	return Retirement{Old: retired, TokenKeys: labels}, nil
}

// parseSerialHex reads a serial number as people copy it: hex, perhaps
// with colons between octets or a 0x prefix.
func parseSerialHex(s string) (*big.Int, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimPrefix(t, "0x")
	t = strings.ReplaceAll(t, ":", "")
	n, ok := new(big.Int).SetString(t, 16)
	if !ok || t == "" || n.Sign() <= 0 {
		return nil, fmt.Errorf("%w: %q is not a hexadecimal serial number", ErrNoSuchIntermediate, s)
	}
	return n, nil
}
