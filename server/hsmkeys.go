package server

import (
	"fmt"
	"log/slog"

	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/hsm"
)

// hsm returns the token settings of the configuration.
func (c Config) hsm() hsm.Config {
	return hsm.Config{Module: c.HSMModule, Token: c.HSMToken, PINFile: c.HSMPINFile, PINEnv: c.HSMPINEnv}
}

// openKeys opens the PKCS#11 token that holds CA keys (nil, nil when none
// is configured). It runs before the CA is read and any listener opens, so
// a wrong module, token, PIN or key label stops the server at start.
func openKeys(cfg Config, log *slog.Logger) (*hsm.Token, error) {
	h := cfg.hsm()
	if !h.Enabled() {
		return nil, nil
	}
	tok, err := hsm.Open(h)
	if err != nil {
		return nil, fmt.Errorf("CA keys in a PKCS#11 token: %w", err)
	}
	log.Info("opened the PKCS#11 token for CA keys", "module", h.Module, "token", h.Token)
	return tok, nil
}

// keyStore is tok as a ca.KeyStore: nil, not a nil *hsm.Token, when there
// is no token.
func keyStore(tok *hsm.Token) ca.KeyStore {
	if tok == nil {
		return nil
	}
	return tok
}
