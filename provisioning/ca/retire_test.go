package ca

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRetireIntermediate(t *testing.T) {
	before, dir := newTestCA(t)
	oldLeaf, _ := issueTestDevice(t, before, "old", 1)
	r, err := RotateIntermediate(dir, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		serial string
		want   error
	}{
		{"error/the issuing intermediate", SerialHex(r.New), ErrIssuingIntermediate},
		{"error/unknown serial", "1234abcd", ErrNoSuchIntermediate},
		{"error/not hex", "serial-one", ErrNoSuchIntermediate},
		{"error/empty", "", ErrNoSuchIntermediate},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snapshot := readAll(t, dir)
			if _, err := RetireIntermediate(dir, tc.serial); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			for name, data := range readAll(t, dir) {
				if string(snapshot[name]) != string(data) {
					t.Errorf("a refused retirement changed %s", name)
				}
			}
		})
	}

	t.Run("ok/the old intermediate, serial with colons", func(t *testing.T) {
		hex := SerialHex(r.Old)
		if len(hex)%2 == 1 {
			hex = "0" + hex
		}
		var octets []string
		for i := 0; i < len(hex); i += 2 {
			octets = append(octets, hex[i:i+2])
		}
		retired, err := RetireIntermediate(dir, strings.ToUpper(strings.Join(octets, ":")))
		if err != nil {
			t.Fatal(err)
		}
		if !retired.Old.Equal(r.Old) {
			t.Fatalf("retired %s, want %s", SerialHex(retired.Old), SerialHex(r.Old))
		}
		after, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(after.TrustedDeviceCAs()) != 0 {
			t.Fatal("the retired intermediate is still trusted")
		}
		if ok, _ := exists(dir, KeptKeyFile(r.Old)); ok || len(retired.TokenKeys) != 0 {
			t.Fatalf("after retirement %s exists: %v; token keys named %q, want none", KeptKeyFile(r.Old), ok, retired.TokenKeys)
		}
		if len(after.Issuers()) != 1 {
			t.Fatalf("%d issuers after retirement, want the issuing intermediate only", len(after.Issuers()))
		}
		if verifies(oldLeaf, after.DevicePool()) {
			t.Fatal("a certificate from the retired intermediate still passes the pool")
		}
		newLeaf, _ := issueTestDevice(t, after, "new", 2)
		if !verifies(newLeaf, after.DevicePool()) {
			t.Fatal("the issuing intermediate left the pool")
		}
		if _, err := RetireIntermediate(dir, SerialHex(r.Old)); !errors.Is(err, ErrNoSuchIntermediate) {
			t.Fatalf("retiring twice: err = %v, want %v", err, ErrNoSuchIntermediate)
		}
	})
}
