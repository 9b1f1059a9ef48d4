package ca

import "crypto/x509"

// UnderPreviousRoot returns, during a root rollover, the trusted device
// intermediates that the current root did not sign: those
// FinishRootRollover stops trusting, whose devices it would strand. It is
// empty when no rollover is in progress. Callers must not modify the
// certificates.
func (ca *CA) UnderPreviousRoot() []*x509.Certificate {
	if ca.previous == nil || ca.previous.Equal(ca.root) {
		return nil
	}
	var out []*x509.Certificate
	for _, c := range append([]*x509.Certificate{ca.deviceCA}, ca.trusted...) {
		if c.CheckSignatureFrom(ca.root) != nil {
			out = append(out, c)
		}
	}
	return out
}
