package tpmkey

import (
	"encoding/binary"
	"time"

	"github.com/google/go-tpm/tpm2/transport"
)

// TPM warnings after which the spec says to send the same command again:
// the TPM did not start it (RETRY, libtpms returns it for some ECC
// operations), was interrupted (YIELDED), or is still self-testing
// (TESTING). tpm2-tss resends these too.
const (
	rcRetry   = 0x922
	rcYielded = 0x908
	rcTesting = 0x90a
)

// maxRetries bounds the resends; a TPM that keeps answering RETRY is broken.
const maxRetries = 20

// retryTPM resends commands the TPM asked to be resent.
type retryTPM struct {
	inner transport.TPM
}

// withRetry wraps t unless it already resends.
func withRetry(t transport.TPM) transport.TPM {
	switch t.(type) {
	case *retryTPM, *lockedTPM:
		return t
	}
	return &retryTPM{inner: t}
}

// Send implements transport.TPM.
func (r *retryTPM) Send(cmd []byte) ([]byte, error) { return sendRetry(r.inner, cmd) }

func sendRetry(t transport.TPM, cmd []byte) ([]byte, error) {
	for i := 0; ; i++ {
		rsp, err := t.Send(cmd)
		if err != nil || i == maxRetries || !mustResend(rsp) {
			return rsp, err
		}
		// Back off a little so a self-testing TPM can make progress.
		time.Sleep(time.Duration(i+1) * time.Millisecond)
	}
}

// mustResend reports whether the response header carries one of the
// resend warnings.
func mustResend(rsp []byte) bool {
	if len(rsp) < 10 {
		return false
	}
	switch binary.BigEndian.Uint32(rsp[6:10]) {
	case rcRetry, rcYielded, rcTesting:
		return true
	}
	return false
}
