package hsm

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Config names a PKCS#11 token and how to log in to it.
type Config struct {
	// Module is the path of the PKCS#11 module, for SoftHSM
	// /usr/lib/softhsm/libsofthsm2.so.
	Module string
	// Token is the label of the token.
	Token string
	// PINFile is a file holding the user PIN (one line). Exactly one of
	// PINFile and PINEnv is set.
	PINFile string
	// PINEnv is the name of an environment variable holding the user PIN.
	PINEnv string
}

// Enabled reports whether any setting is given: a configuration that sets
// none means keys are files, not token objects.
func (c Config) Enabled() bool {
	return c.Module != "" || c.Token != "" || c.PINFile != "" || c.PINEnv != ""
}

// Validate checks that the module, the token and one PIN source are
// named.
func (c Config) Validate() error {
	var errs []error
	if c.Module == "" {
		errs = append(errs, fmt.Errorf("%w: the module path (hsm_module) is empty", ErrConfig))
	}
	if c.Token == "" {
		errs = append(errs, fmt.Errorf("%w: the token label (hsm_token) is empty", ErrConfig))
	}
	switch {
	case c.PINFile == "" && c.PINEnv == "":
		errs = append(errs, fmt.Errorf("%w: no PIN source: set hsm_pin_file (a file holding the PIN) or hsm_pin_env (the name of a variable holding it)", ErrConfig))
	case c.PINFile != "" && c.PINEnv != "":
		errs = append(errs, fmt.Errorf("%w: both hsm_pin_file and hsm_pin_env are set: keep one", ErrConfig))
	}
	return errors.Join(errs...)
}

// pin reads the PIN from its source. A trailing newline is not part of it.
func (c Config) pin() (string, error) {
	if c.PINEnv != "" {
		p, ok := os.LookupEnv(c.PINEnv)
		if !ok || p == "" {
			return "", fmt.Errorf("%w: the PIN variable %s (hsm_pin_env) is not set", ErrConfig, c.PINEnv)
		}
		return p, nil
	}
	data, err := os.ReadFile(c.PINFile)
	if err != nil {
		return "", fmt.Errorf("%w: read the PIN file (hsm_pin_file): %w", ErrConfig, err)
	}
	p := strings.TrimRight(string(data), "\r\n")
	if p == "" {
		return "", fmt.Errorf("%w: the PIN file %s (hsm_pin_file) is empty", ErrConfig, c.PINFile)
	}
	return p, nil
}
