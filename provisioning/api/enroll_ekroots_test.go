package api_test

import (
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/softtpm"
	"github.com/fleetgate/fleetgate/provisioning/api"
	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// TestLoadEKRoots loads manufacturer bundles and, for the good one, starts
// an enrollment whose EK certificate was issued by the intermediate.
func TestLoadEKRoots(t *testing.T) {
	dir := t.TempDir()
	m := softtpm.NewManufacturer(t)
	inter := m.Intermediate(t)
	pemOf := func(der ...[]byte) []byte {
		var out []byte
		for _, d := range der {
			out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d})...)
		}
		return out
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	s := softtpm.New(t)
	ekCert := inter.EKCert(t, &s.EK.PublicKey).Raw

	t.Run("ok/root-and-intermediate", func(t *testing.T) {
		roots, inters, err := api.LoadEKRoots(write("good.pem", pemOf(inter.Cert.Raw, m.Cert.Raw)))
		if err != nil {
			t.Fatal(err)
		}
		if inters == nil {
			t.Fatal("no intermediates")
		}
		e := apitest.Start(t, apitest.Options{Config: api.Config{EKRoots: roots, EKIntermediates: inters}})
		preRegister(t, e, "tpm-1", &s.EK.PublicKey)
		if _, err := deviceClient(t, e).StartTPM(testCtx(t), wire.TPMStartRequest{DeviceID: "tpm-1", EKCert: ekCert, AKPublic: s.AKPublic}); err != nil {
			t.Fatalf("start with an EK certificate from the intermediate: %v", err)
		}
	})
	tests := []struct {
		name string
		path string
	}{
		{"error/missing-file", filepath.Join(dir, "nope.pem")},
		{"error/empty", write("empty.pem", nil)},
		{"error/intermediate-only", write("inter.pem", pemOf(inter.Cert.Raw))},
		{"error/ek-certificate-in-bundle", write("leaf.pem", pemOf(m.Cert.Raw, ekCert))},
		{"error/garbage-certificate", write("garbage.pem", pemOf([]byte("not DER")))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := api.LoadEKRoots(tc.path); !errors.Is(err, api.ErrEKRoots) {
				t.Fatalf("err = %v, want ErrEKRoots", err)
			}
		})
	}
}
