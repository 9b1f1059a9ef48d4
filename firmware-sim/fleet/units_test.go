package fleet

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/bins"
)

func TestStartedBy(t *testing.T) {
	for _, tc := range []struct {
		name             string
		rate, ramp, secs float64
		want             int
	}{
		{"ok/nothing before the start", 100, 10, 0, 0},
		{"ok/no ramp is the full rate", 100, 0, 3, 300},
		{"ok/first second of a ramp starts at 10%", 100, 10, 1, 14}, // 100*(0.1+0.045)
		{"ok/end of the ramp", 100, 10, 10, 550},
		{"ok/after the ramp at full rate", 100, 10, 12, 750},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := startedBy(tc.rate, tc.ramp, tc.secs); got != tc.want {
				t.Errorf("startedBy(%v, %v, %v) = %d, want %d", tc.rate, tc.ramp, tc.secs, got, tc.want)
			}
		})
	}
	// The schedule never goes backwards.
	prev := 0
	for ms := 0; ms <= 20000; ms += 7 {
		n := startedBy(500, 5, float64(ms)/1000)
		if n < prev {
			t.Fatalf("startedBy decreased at %dms: %d < %d", ms, n, prev)
		}
		prev = n
	}
}

func TestErrClass(t *testing.T) {
	timeoutErr := &net.OpError{Op: "dial", Err: &timeoutError{}}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"ok/nil", nil, "none"},
		{"ok/deadline", context.DeadlineExceeded, "timeout"},
		{"ok/net timeout", timeoutErr, "timeout"},
		{"ok/reset", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, "connection reset"},
		{"ok/refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, "connection refused"},
		{"ok/no port", &net.OpError{Op: "dial", Err: syscall.EADDRNOTAVAIL}, "no free source port"},
		{"ok/fd limit", &net.OpError{Op: "dial", Err: syscall.EMFILE}, "too many open files"},
		{"ok/tls alert", tls.AlertError(42), "tls alert: bad certificate"},
		{"ok/remote alert as text", errors.New("remote error: tls: certificate revoked"), "tls alert: certificate revoked"},
		{"ok/untrusted", errors.New("tls: failed to verify certificate: x509: certificate signed by unknown authority"), "certificate not trusted"},
		{"ok/eof", io.EOF, "closed by peer (EOF)"},
		{"ok/wrapped eof", fmt.Errorf("network Error : %w", io.ErrUnexpectedEOF), "closed by peer (EOF)"},
		{"ok/closed", net.ErrClosed, "closed"},
		{"ok/unknown", errors.New("something else"), "other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := errClass(tc.err); got != tc.want {
				t.Errorf("errClass(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestConnectKind(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"ok/dial", fmt.Errorf("network Error : %w", &phaseError{phase: "dial", err: syscall.ECONNREFUSED}), "connect/dial: connection refused"},
		{"ok/tls", &phaseError{phase: "tls", err: tls.AlertError(42)}, "connect/tls: tls alert: bad certificate"},
		{"ok/connack", errors.New("broker refused the connection: not Authorized (CONNACK 5)"), "connect/connack: refused by the broker"},
		{"ok/mqtt", io.EOF, "connect/mqtt: closed by peer (EOF)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := connectKind(tc.err); got != tc.want {
				t.Errorf("connectKind = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	remote := Target{API: "https://127.0.0.1:8443", Broker: "127.0.0.1:8883", CAFile: "r", AdminCert: "a", AdminKey: "k"}
	for _, tc := range []struct {
		name   string
		cfg    Config
		errHas string
	}{
		{"ok/defaults with a started server", Config{Target: Target{Start: true}}, ""},
		{"ok/running server", Config{Target: remote}, ""},
		{"error/running server without credentials", Config{Target: Target{API: "https://x"}}, "--admin-cert"},
		{"error/qos 2", Config{Target: remote, QoS: 2}, "qos 2"},
		{"error/payload too small", Config{Target: remote, PayloadSize: 8}, "payload 8"},
		{"error/revoke everything", Config{Target: remote, RevokeShare: 1}, "revoke 1"},
		{"error/more tpm than devices", Config{Target: remote, Devices: 3, TPMDevices: 4}, "tpm-devices 4"},
		{"error/rotate more than software devices", Config{Target: remote, Devices: 10, Rotate: 11}, "rotate 11"},
		{"ok/external revocation with its signal", Config{Target: remote, ExternalRevokeEvery: 10, ExternalRevoke: make(chan struct{})}, ""},
		{"error/external revocation without a signal", Config{Target: remote, ExternalRevokeEvery: 10}, "external-revoke 10"},
		{"error/external revocation beside --revoke", Config{Target: remote, ExternalRevokeEvery: 10, ExternalRevoke: make(chan struct{}), RevokeShare: 0.1}, "external-revoke 10"},
		{"error/external revocation negative", Config{Target: remote, ExternalRevokeEvery: -1}, "external-revoke -1"},
		{"error/backoff inverted", Config{Target: remote, BackoffMin: time.Minute, BackoffMax: time.Second}, "backoff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.errHas == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("Validate = %v, want ErrConfig mentioning %q", err, tc.errHas)
			}
		})
	}
}

// TestRunRefusesWhatItCannotHold: a device count beyond any open-file
// limit Linux allows (fs.nr_open is at most 2^30) fails before anything
// starts.
func TestRunRefusesWhatItCannotHold(t *testing.T) {
	_, err := Run(context.Background(), Config{Target: Target{Start: true, ServerBin: bins.Fleetgate(t)}, Devices: 1 << 30})
	if !errors.Is(err, ErrLimits) {
		t.Errorf("Run = %v, want ErrLimits", err)
	}
}

func TestSpread(t *testing.T) {
	ds := make([]*device, 10)
	for i := range ds {
		ds[i] = &device{idx: i}
	}
	for _, tc := range []struct {
		name string
		n    int
		want []int
	}{
		{"ok/evenly", 3, []int{0, 3, 6}},
		{"ok/all", 10, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"ok/more than there are", 20, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"ok/none", 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := spread(ds, tc.n)
			if len(got) != len(tc.want) {
				t.Fatalf("spread(10, %d) picked %d, want %d", tc.n, len(got), len(tc.want))
			}
			for i, d := range got {
				if d.idx != tc.want[i] {
					t.Errorf("pick %d = device %d, want %d", i, d.idx, tc.want[i])
				}
			}
		})
	}
}
