package ca

import (
	"errors"
	"testing"
	"time"
)

// TestLoadTrusted: the trusted bundle is optional, may be empty or hold
// the issuing intermediate again (a rotation stopped early), and must
// otherwise hold only CAs under the root.
func TestLoadTrusted(t *testing.T) {
	authority, full := newTestCA(t)
	// An older intermediate to trust: rotate a copy and keep its old one.
	other := copyCA(t, full)
	r, err := RotateIntermediate(other, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	older := r.New // signed by the same root, not issuing in full
	issuing := EncodeCertPEM(authority.DeviceCA())
	foreignRoot, _ := newTestCA(t)

	cases := []struct {
		name    string
		bundle  []byte // nil: no file
		want    error
		trusted int
	}{
		{"ok/no file", nil, nil, 0},
		{"ok/empty file", []byte{}, nil, 0},
		{"ok/one older intermediate", EncodeCertPEM(older), nil, 1},
		{"ok/duplicates and the issuing one are ignored", append(append(EncodeCertPEM(older), issuing...), EncodeCertPEM(older)...), nil, 1},
		{"error/garbage", []byte("not PEM at all"), ErrCorrupt, 0},
		{"error/truncated", EncodeCertPEM(older)[:200], ErrCorrupt, 0},
		{"error/a key block", mustRead(t, full, DeviceCAKeyFile), ErrCorrupt, 0},
		{"error/leaf certificate", EncodeCertPEM(authority.ServerCertificate().Leaf), ErrCorrupt, 0},
		{"error/intermediate of another root", EncodeCertPEM(foreignRoot.DeviceCA()), ErrCorrupt, 0},
		{"error/the operator CA", EncodeCertPEM(authority.OperatorCA()), ErrCorrupt, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyCA(t, full)
			if tc.bundle != nil {
				writeFile(t, dir, TrustedDeviceCAsFile, tc.bundle)
			}
			c, err := Load(dir)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := len(c.TrustedDeviceCAs()); got != tc.trusted {
				t.Fatalf("%d trusted intermediates, want %d", got, tc.trusted)
			}
			leaf, _ := issueTestDevice(t, c, "dev", 7)
			if !verifies(leaf, c.DevicePool()) {
				t.Fatal("the issuing intermediate is missing from the pool")
			}
		})
	}
}
