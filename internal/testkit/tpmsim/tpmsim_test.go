//go:build tpmsimulator

package tpmsim

import (
	"testing"

	"github.com/google/go-tpm/tpm2"
)

func TestOpen(t *testing.T) {
	tpm := Open(t)
	if _, err := (tpm2.GetRandom{BytesRequested: 8}).Execute(tpm); err != nil {
		t.Fatalf("ok/get random: %v", err)
	}
}
