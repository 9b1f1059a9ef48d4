package ca

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestRenewServer(t *testing.T) {
	before, dir := newTestCA(t)
	if _, err := RenewServer(dir, []string{"broker.example.net"}, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	keyBefore := mustRead(t, dir, ServerKeyFile)
	named, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}

	// A renewal without extra names keeps the names added before.
	fresh, err := RenewServer(dir, nil, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	after, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	leaf := after.ServerCertificate().Leaf
	switch {
	case !leaf.Equal(fresh):
		t.Fatal("Load does not see the renewed certificate")
	case leaf.SerialNumber.Cmp(named.ServerCertificate().Leaf.SerialNumber) == 0,
		leaf.SerialNumber.Cmp(before.ServerCertificate().Leaf.SerialNumber) == 0:
		t.Fatal("renewed certificate kept an old serial")
	case !slices.Contains(leaf.DNSNames, "broker.example.net") || !slices.Contains(leaf.DNSNames, "localhost"):
		t.Fatalf("renewed certificate names %v lost a name", leaf.DNSNames)
	case string(mustRead(t, dir, ServerKeyFile)) != string(keyBefore):
		t.Fatal("renewal changed the server key")
	case leaf.CheckSignatureFrom(after.Root()) != nil:
		t.Fatal("renewed certificate not signed by the root")
	}

	t.Run("error/bad name", func(t *testing.T) {
		if _, err := RenewServer(dir, []string{"bad name!"}, time.Now(), nil); !errors.Is(err, ErrBadServerName) {
			t.Fatalf("err = %v, want %v", err, ErrBadServerName)
		}
	})
	t.Run("error/root key missing", func(t *testing.T) {
		removeAll(t, dir, RootKeyFile)
		if _, err := RenewServer(dir, nil, time.Now(), nil); err == nil {
			t.Fatal("renewed without the root key")
		}
	})
}
