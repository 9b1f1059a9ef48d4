package ca_test

import (
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/internal/testkit/softhsm"
	"github.com/fleetgate/fleetgate/provisioning/ca"
)

// BenchmarkIssueHSM issues device certificates from two CAs in one run:
// one with file keys, one with its device intermediate in SoftHSM, taking
// turns so both see the same machine load. It reports certificates per
// second for each and their ratio.
func BenchmarkIssueHSM(b *testing.B) {
	st := softhsm.New(b, "fg-bench")
	tok := st.Open(b)
	fileCA, _, err := ca.Bootstrap(filepath.Join(b.TempDir(), "ca"), ca.BootstrapOptions{})
	if err != nil {
		b.Fatal(err)
	}
	hsmDir := filepath.Join(b.TempDir(), "ca")
	if _, err := ca.CreateInToken(hsmDir, ca.TokenCAOptions{Token: tok, Labels: map[string]string{ca.DeviceCAKeyFile: "fg-device-ca"}}); err != nil {
		b.Fatal(err)
	}
	hsmCA, _, err := ca.Bootstrap(hsmDir, ca.BootstrapOptions{Keys: tok})
	if err != nil {
		b.Fatal(err)
	}
	csr := pki.CSR(b, pki.Key(b), "")

	var spent [2]time.Duration
	b.ResetTimer()
	for i := range b.N {
		for j, authority := range []*ca.CA{fileCA, hsmCA} {
			start := time.Now()
			if _, err := authority.IssueDevice(csr, "dev-bench", big.NewInt(int64(i+1)), 24*time.Hour); err != nil {
				b.Fatal(err)
			}
			spent[j] += time.Since(start)
		}
	}
	fileRate := float64(b.N) / spent[0].Seconds()
	hsmRate := float64(b.N) / spent[1].Seconds()
	b.ReportMetric(fileRate, "file-certs/s")
	b.ReportMetric(hsmRate, "softhsm-certs/s")
	b.ReportMetric(hsmRate/fileRate, "softhsm/file")
}
