package tpmkey

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
	"github.com/google/go-tpm/tpm2/transport/tcp"
)

// DefaultPath is the kernel's resource-managed TPM device. The resource
// manager swaps objects in and out, so the agent never runs out of slots
// and never sees another process's handles.
const DefaultPath = "/dev/tpmrm0"

// Open returns a transport to the TPM at path; the caller closes it.
//
// A path starting with "/" is a TPM character device (DefaultPath in
// production). "tcp://host:port" speaks the TCG simulator protocol to swtpm
// or the reference simulator; the platform (control) port is port+1 unless
// given as "tcp://host:port?ctrl=port" or "?ctrl=host:port". A TCP TPM must
// already be powered on and started (swtpm: --flags not-need-init,startup-clear).
//
// The returned transport serialises commands, so it may be shared by
// goroutines, and resends commands the TPM answers with TPM_RC_RETRY,
// TPM_RC_YIELDED or TPM_RC_TESTING.
func Open(path string) (transport.TPMCloser, error) {
	switch {
	case strings.HasPrefix(path, "/"):
		t, err := linuxtpm.Open(path)
		if err != nil {
			return nil, fmt.Errorf("tpmkey: open %s: %w", path, err)
		}
		return &lockedTPM{inner: t}, nil
	case strings.HasPrefix(path, "tcp://"):
		cfg, err := tcpConfig(path)
		if err != nil {
			return nil, err
		}
		t, err := tcp.Open(cfg)
		if err != nil {
			return nil, fmt.Errorf("tpmkey: open %s: %w", path, err)
		}
		return &lockedTPM{inner: t}, nil
	default:
		return nil, fmt.Errorf("%w: %q (want /dev/... or tcp://host:port)", ErrPath, path)
	}
}

// tcpConfig turns "tcp://host:port[?ctrl=[host:]port]" into the command and
// platform addresses.
func tcpConfig(path string) (tcp.Config, error) {
	u, err := url.Parse(path)
	if err != nil {
		return tcp.Config{}, fmt.Errorf("%w: %q: %v", ErrPath, path, err)
	}
	if u.Path != "" || u.User != nil || u.Fragment != "" {
		return tcp.Config{}, fmt.Errorf("%w: %q: only tcp://host:port[?ctrl=port]", ErrPath, path)
	}
	host, port := u.Hostname(), u.Port()
	p, err := strconv.Atoi(port)
	if host == "" || err != nil || p <= 0 || p >= 65535 {
		return tcp.Config{}, fmt.Errorf("%w: %q: need host and command port", ErrPath, path)
	}
	ctrl := net.JoinHostPort(host, strconv.Itoa(p+1))
	q := u.Query()
	for k := range q {
		if k != "ctrl" {
			return tcp.Config{}, fmt.Errorf("%w: %q: unknown option %q", ErrPath, path, k)
		}
	}
	if c := q.Get("ctrl"); c != "" {
		if _, err := strconv.Atoi(c); err == nil {
			c = net.JoinHostPort(host, c)
		}
		if _, cp, err := net.SplitHostPort(c); err != nil || cp == "" {
			return tcp.Config{}, fmt.Errorf("%w: %q: bad ctrl address", ErrPath, path)
		}
		ctrl = c
	}
	return tcp.Config{CommandAddress: u.Host, PlatformAddress: ctrl}, nil
}

// lockedTPM serialises whole commands, resending those the TPM asks to be
// resent: a TPM transport is a byte stream, and two goroutines interleaving
// writes and reads would swap responses.
type lockedTPM struct {
	mu    sync.Mutex
	inner transport.TPMCloser
}

// Send implements transport.TPM.
func (l *lockedTPM) Send(cmd []byte) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return sendRetry(l.inner, cmd)
}

// Close implements io.Closer.
func (l *lockedTPM) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inner.Close()
}
