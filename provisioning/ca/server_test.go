package ca

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBootstrapRenewsServerCertificate(t *testing.T) {
	start := time.Now().Truncate(time.Second)
	dir := t.TempDir()
	first, _, err := Bootstrap(dir, BootstrapOptions{Now: fixedClock(start)})
	if err != nil {
		t.Fatal(err)
	}
	keyBefore := mustRead(t, dir, ServerKeyFile)
	oldLeaf := first.ServerCertificate().Leaf

	// 100 days on: 265 days left, nothing to do.
	c, created, err := Bootstrap(dir, BootstrapOptions{Now: fixedClock(start.Add(100 * 24 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if len(created) != 0 || !c.ServerCertificate().Leaf.Equal(oldLeaf) {
		t.Fatalf("renewed too early (created %v)", created)
	}

	// 340 days on: 25 days left, below ServerRenewBefore.
	var logs bytes.Buffer
	later := start.Add(340 * 24 * time.Hour)
	c, created, err = Bootstrap(dir, BootstrapOptions{Now: fixedClock(later), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	leaf := c.ServerCertificate().Leaf
	if len(created) != 0 {
		t.Errorf("renewal reported as creation: %v", created)
	}
	if leaf.Equal(oldLeaf) || !leaf.NotAfter.After(later.Add(360*24*time.Hour)) {
		t.Errorf("server certificate not renewed: NotAfter %v", leaf.NotAfter)
	}
	if !bytes.Equal(mustRead(t, dir, ServerKeyFile), keyBefore) {
		t.Error("server key was replaced")
	}
	if !strings.Contains(logs.String(), "reissued server certificate") || !strings.Contains(logs.String(), "expires at") {
		t.Errorf("no renewal log line: %q", logs.String())
	}
}

func TestBootstrapServerNames(t *testing.T) {
	_, dir := newTestCA(t)
	c, created, err := Bootstrap(dir, BootstrapOptions{ServerNames: []string{"Broker.Example.com.", "10.1.2.3", " 10.1.2.3 "}})
	if err != nil {
		t.Fatal(err)
	}
	if len(created) != 0 {
		t.Errorf("created = %v", created)
	}
	leaf := c.ServerCertificate().Leaf
	for _, name := range []string{"broker.example.com", "10.1.2.3", "localhost", "127.0.0.1", "::1"} {
		if err := leaf.VerifyHostname(name); err != nil {
			t.Errorf("server certificate does not cover %s: %v", name, err)
		}
	}
	for _, bad := range []string{"", "a b", "evil/..", "*"} {
		if _, _, err := Bootstrap(dir, BootstrapOptions{ServerNames: []string{bad}}); !errors.Is(err, ErrBadServerName) {
			t.Errorf("error/%q: err = %v, want ErrBadServerName", bad, err)
		}
	}
}

func TestBootstrapRecreatesServerMaterial(t *testing.T) {
	_, dir := newTestCA(t)
	key := mustRead(t, dir, ServerKeyFile)
	if err := os.Remove(filepath.Join(dir, ServerCertFile)); err != nil {
		t.Fatal(err)
	}
	_, created, err := Bootstrap(dir, BootstrapOptions{})
	if err != nil || !slices.Equal(created, []string{ServerCertFile}) {
		t.Fatalf("created %v, err %v; want [server.crt]", created, err)
	}
	if !bytes.Equal(mustRead(t, dir, ServerKeyFile), key) {
		t.Error("server key changed although it was present")
	}

	for _, name := range []string{ServerCertFile, ServerKeyFile} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	c, created, err := Bootstrap(dir, BootstrapOptions{})
	if err != nil || !slices.Equal(created, []string{ServerKeyFile, ServerCertFile}) {
		t.Fatalf("created %v, err %v; want [server.key server.crt]", created, err)
	}
	if err := c.ServerCertificate().Leaf.CheckSignatureFrom(c.Root()); err != nil {
		t.Errorf("recreated server certificate not signed by root: %v", err)
	}
}
