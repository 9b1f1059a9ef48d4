package agent

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func sampleState(gen byte) *State {
	return &State{
		DeviceID: "dev-1", KeySource: KeyTPM, Key: []byte{1, gen}, Chain: []byte("chain"), AK: []byte{3, gen},
		TokenHash: "abc",
		Pending:   &Pending{Key: []byte{4, gen}, For: "1f", Created: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
}

func TestStateDirRoundTrip(t *testing.T) {
	dir := t.TempDir()
	d, err := OpenStateDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if s, err := d.Load(); err != nil || s != nil {
		t.Fatalf("empty dir: %v, %v", s, err)
	}
	for gen := byte(1); gen <= 3; gen++ {
		want := sampleState(gen)
		if gen == 3 {
			want.Pending, want.AK = nil, nil
		}
		if err := d.Save(want); err != nil {
			t.Fatal(err)
		}
		got, err := d.Load()
		if err != nil {
			t.Fatal(err)
		}
		if !got.equal(want) {
			t.Errorf("generation %d: loaded %+v, saved %+v", gen, got, want)
		}
	}
	// Only the last generation's files remain, readable by the owner only.
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		if info, _ := e.Info(); info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v", e.Name(), info.Mode())
		}
	}
	if want := []string{"chain.3", "key.3", "lock", "state.json"}; !slices.Equal(names, want) {
		t.Errorf("files %v, want %v", names, want)
	}
}

// TestStateDirPowerCut stops Save where a power cut could: before the
// pointer moves the old state is loaded, after it the new one, and the
// leftovers are swept.
func TestStateDirPowerCut(t *testing.T) {
	tests := []struct {
		name    string
		crash   string
		wantGen byte
	}{
		{"ok/cut-after-new-files", "files", 1},
		{"ok/cut-after-pointer", "pointer", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			d, err := OpenStateDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Save(sampleState(1)); err != nil {
				t.Fatal(err)
			}
			d.crashAfter = tt.crash
			if err := d.Save(sampleState(2)); !errors.Is(err, errCrash) {
				t.Fatalf("Save = %v", err)
			}
			// A leftover temporary file, as a cut inside writeAtomic leaves.
			os.WriteFile(filepath.Join(dir, "key.9.123.tmp"), []byte("half"), 0o600)
			d.Close()

			d2, err := OpenStateDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer d2.Close()
			got, err := d2.Load()
			if err != nil {
				t.Fatal(err)
			}
			if want := sampleState(tt.wantGen); !got.equal(want) {
				t.Errorf("loaded %+v, want generation %d", got, tt.wantGen)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 6 { // lock, state.json, key, chain, ak, pending
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("after Load the directory holds %v", names)
			}
			// And it goes on from there.
			if err := d2.Save(sampleState(5)); err != nil {
				t.Fatal(err)
			}
			if got, _ := d2.Load(); !got.equal(sampleState(5)) {
				t.Errorf("after recovery: %+v", got)
			}
		})
	}
}

func TestStateDirRefusals(t *testing.T) {
	t.Run("error/locked", func(t *testing.T) {
		dir := t.TempDir()
		d, err := OpenStateDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if _, err := OpenStateDir(dir); !errors.Is(err, ErrState) {
			t.Errorf("second open: %v, want ErrState", err)
		}
	})
	t.Run("error/damaged-file", func(t *testing.T) {
		dir := t.TempDir()
		d, err := OpenStateDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if err := d.Save(sampleState(1)); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "key.1"), []byte("flipped"), 0o600)
		if _, err := d.Load(); !errors.Is(err, ErrState) {
			t.Errorf("Load = %v, want ErrState", err)
		}
	})
	t.Run("error/not-a-state-file", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, stateFile), []byte("{"), 0o600)
		d, err := OpenStateDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if _, err := d.Load(); !errors.Is(err, ErrState) {
			t.Errorf("Load = %v, want ErrState", err)
		}
	})
}

func TestMemoryStateCopies(t *testing.T) {
	m := &MemoryState{}
	s := sampleState(1)
	if err := m.Save(s); err != nil {
		t.Fatal(err)
	}
	s.Key[0], s.Pending.Key[0] = 99, 99
	got, _ := m.Load()
	if !got.equal(sampleState(1)) {
		t.Errorf("the store shares memory with the caller: %+v", got)
	}
}
