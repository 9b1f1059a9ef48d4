package fleet

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
)

// phaseError tags a connection error with the step that failed, so the
// report can tell a refused TCP connect from a refused certificate.
type phaseError struct {
	phase string // "dial" or "tls"
	err   error
}

func (e *phaseError) Error() string { return e.phase + ": " + e.err.Error() }
func (e *phaseError) Unwrap() error { return e.err }

// Error kinds that the scenario itself causes; the report keeps them
// apart from failures.
const (
	kindStormDrop  = "session lost: dropped by the storm (expected)"
	kindRevoked    = "session lost: device revoked (expected)"
	kindRunRevoked = "agent stopped: revoked (expected)"
	kindQueueFull  = "publish: device queue full"
)

// connectKind names a failed connection attempt: the phase and the cause.
func connectKind(err error) string {
	var pe *phaseError
	if errors.As(err, &pe) {
		return "connect/" + pe.phase + ": " + errClass(pe.err)
	}
	s := err.Error()
	if strings.Contains(s, "broker refused the connection") || strings.Contains(s, "CONNACK") {
		return "connect/connack: refused by the broker"
	}
	return "connect/mqtt: " + errClass(err)
}

// errClass is a short, stable name for the cause of a network or TLS
// error; unknown errors are "other".
func errClass(err error) string {
	if err == nil {
		return "none"
	}
	s := err.Error()
	var ne net.Error
	var alert tls.AlertError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout(), strings.Contains(s, "i/o timeout"):
		return "timeout"
	case errors.Is(err, syscall.ECONNRESET), strings.Contains(s, "connection reset"):
		return "connection reset"
	case errors.Is(err, syscall.ECONNREFUSED), strings.Contains(s, "connection refused"):
		return "connection refused"
	case errors.Is(err, syscall.EADDRNOTAVAIL), strings.Contains(s, "cannot assign requested address"):
		return "no free source port"
	case errors.Is(err, syscall.EMFILE), strings.Contains(s, "too many open files"):
		return "too many open files"
	case errors.As(err, &alert):
		return "tls alert: " + strings.TrimPrefix(alert.Error(), "tls: ")
	case strings.Contains(s, "remote error: tls: "):
		return "tls alert: " + s[strings.LastIndex(s, "remote error: tls: ")+len("remote error: tls: "):]
	case strings.Contains(s, "x509: "):
		return "certificate not trusted"
	case errors.Is(err, net.ErrClosed), strings.Contains(s, "use of closed network connection"):
		return "closed"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), strings.HasSuffix(s, "EOF"):
		return "closed by peer (EOF)"
	case errors.Is(err, syscall.EPIPE), strings.Contains(s, "broken pipe"):
		return "broken pipe"
	}
	return "other"
}
