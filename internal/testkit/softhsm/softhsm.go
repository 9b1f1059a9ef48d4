// Package softhsm gives a test its own SoftHSM token: a private token
// directory and configuration in the test's temporary directory, and a
// token initialised there with softhsm2-util. Debian's softhsm2 package
// provides the module and the tool. When it is missing the test is
// skipped, or failed when RequireEnv is set (as `make test` does).
package softhsm

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/fleetgate/fleetgate/provisioning/hsm"
)

// RequireEnv names the environment variable that turns a missing softhsm2
// from a skipped test into a failed one.
const RequireEnv = "FLEETGATE_REQUIRE_SOFTHSM"

// Module is where Debian installs SoftHSM's PKCS#11 module.
const Module = "/usr/lib/softhsm/libsofthsm2.so"

// ConfEnv is the variable SoftHSM reads its configuration path from.
const ConfEnv = "SOFTHSM2_CONF"

// Token is a token created for one test.
type Token struct {
	// Config opens the token: the module, the label and a PIN file.
	Config hsm.Config
	// PIN is the user PIN written to Config.PINFile.
	PIN string
	// Conf is the SoftHSM configuration file; a child process finds the
	// token with SOFTHSM2_CONF=Conf (Env).
	Conf string
}

// New creates a token labelled label in a fresh token directory and points
// SOFTHSM2_CONF of this process at it (so the test must not be parallel).
// Every Token of the process shares one SoftHSM configuration at a time:
// close all tokens of a test before the next one calls New.
func New(t testing.TB, label string) *Token {
	t.Helper()
	util, err := exec.LookPath("softhsm2-util")
	_, modErr := os.Stat(Module)
	if err != nil || modErr != nil {
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("softhsm2 is not installed (softhsm2-util or %s missing) and %s is set: apt-get install softhsm2", Module, RequireEnv)
		}
		t.Skipf("softhsm2 is not installed (apt-get install softhsm2); set %s=1 to fail instead", RequireEnv)
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(ConfEnv, conf)
	const pin, soPIN = "123456", "12345678"
	cmd := exec.Command(util, "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", soPIN)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	pinFile := filepath.Join(dir, "pin")
	if err := os.WriteFile(pinFile, []byte(pin+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &Token{
		Config: hsm.Config{Module: Module, Token: label, PINFile: pinFile},
		PIN:    pin,
		Conf:   conf,
	}
}

// Env is the environment entry a child process needs to find the token.
func (tok *Token) Env() string { return ConfEnv + "=" + tok.Conf }

// Open opens the token and closes it at cleanup.
func (tok *Token) Open(t testing.TB) *hsm.Token {
	t.Helper()
	tk, err := hsm.Open(tok.Config)
	if err != nil {
		t.Fatalf("open SoftHSM token: %v", err)
	}
	t.Cleanup(func() { _ = tk.Close() })
	return tk
}
