package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// stateFile is the small pointer that names the current files. Replacing
// it by rename is the one atomic step of a Save.
const stateFile = "state.json"

// StateDir is the StateStore of the device-agent binary: a directory
// holding state.json and the files it names. A Save writes the new files
// under new names (temporary file, fsync, rename), then replaces
// state.json the same way and fsyncs the directory, then removes the files
// no longer named. A power cut at any point leaves either the old
// state.json with its files or the new one with its files: a device never
// loses its working key and certificate to a rotation.
type StateDir struct {
	dir  string
	lock *os.File
	gen  uint64
	// crashAfter stops Save after a step, as a power cut would (tests).
	crashAfter string
}

// errCrash is what Save returns when a test stops it half-way.
var errCrash = errors.New("agent: simulated crash")

// pointer is the JSON of state.json.
type pointer struct {
	Version    int          `json:"version"`
	Generation uint64       `json:"generation"`
	DeviceID   string       `json:"device_id"`
	KeySource  string       `json:"key_source"`
	Key        *fileRef     `json:"key,omitempty"`
	Chain      *fileRef     `json:"chain,omitempty"`
	AK         *fileRef     `json:"ak,omitempty"`
	Trust      *fileRef     `json:"trust,omitempty"`
	TokenHash  string       `json:"token_hash,omitempty"`
	Pending    *pendingJSON `json:"pending,omitempty"`
}

type pendingJSON struct {
	Key     *fileRef  `json:"key"`
	For     string    `json:"for"`
	Created time.Time `json:"created"`
}

// fileRef names a file and the SHA-256 of its contents, so a file damaged
// by a filesystem that broke its promises is noticed at Load.
type fileRef struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// OpenStateDir opens (creating it, mode 0700) the state directory and
// takes an exclusive lock on it: two agents on one directory would undo
// each other's rotations. Close releases the lock.
func OpenStateDir(dir string) (*StateDir, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("%w: %s is in use by another agent: %w", ErrState, dir, err)
	}
	return &StateDir{dir: dir, lock: lock}, nil
}

// Close releases the directory lock.
func (d *StateDir) Close() error { return d.lock.Close() }

// Load implements StateStore. It also removes files a Save interrupted by
// a crash left behind.
func (d *StateDir) Load() (*State, error) {
	raw, err := os.ReadFile(filepath.Join(d.dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		d.gen = 0
		return nil, d.sweep(nil)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	var p pointer
	if err := json.Unmarshal(raw, &p); err != nil || p.Version != 1 {
		return nil, fmt.Errorf("%w: %s: not a version 1 state file (%v)", ErrState, stateFile, err)
	}
	s := &State{DeviceID: p.DeviceID, KeySource: p.KeySource, TokenHash: p.TokenHash}
	for _, f := range []struct {
		ref *fileRef
		dst *[]byte
	}{{p.Key, &s.Key}, {p.Chain, &s.Chain}, {p.AK, &s.AK}, {p.Trust, &s.TrustBundle}} {
		if *f.dst, err = d.read(f.ref); err != nil {
			return nil, err
		}
	}
	if p.Pending != nil {
		key, err := d.read(p.Pending.Key)
		if err != nil {
			return nil, err
		}
		s.Pending = &Pending{Key: key, For: p.Pending.For, Created: p.Pending.Created}
	}
	d.gen = p.Generation
	return s, d.sweep(&p)
}

// read returns a referenced file after checking its hash.
func (d *StateDir) read(ref *fileRef) ([]byte, error) {
	if ref == nil {
		return nil, nil
	}
	if filepath.Base(ref.Name) != ref.Name || ref.Name == stateFile {
		return nil, fmt.Errorf("%w: bad file name %q in %s", ErrState, ref.Name, stateFile)
	}
	b, err := os.ReadFile(filepath.Join(d.dir, ref.Name))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != ref.SHA256 {
		return nil, fmt.Errorf("%w: %s is damaged (checksum mismatch)", ErrState, ref.Name)
	}
	return b, nil
}

// Save implements StateStore; see StateDir for the order of the steps.
func (d *StateDir) Save(s *State) error {
	gen := d.gen + 1
	p := pointer{Version: 1, Generation: gen, DeviceID: s.DeviceID, KeySource: s.KeySource, TokenHash: s.TokenHash}
	var err error
	write := func(kind string, b []byte) *fileRef {
		if err != nil || b == nil {
			return nil
		}
		name := fmt.Sprintf("%s.%d", kind, gen)
		if err = writeAtomic(d.dir, name, b); err != nil {
			return nil
		}
		sum := sha256.Sum256(b)
		return &fileRef{Name: name, SHA256: hex.EncodeToString(sum[:])}
	}
	p.Key, p.Chain, p.AK = write("key", s.Key), write("chain", s.Chain), write("ak", s.AK)
	p.Trust = write("trust", s.TrustBundle)
	if s.Pending != nil {
		p.Pending = &pendingJSON{Key: write("pending", s.Pending.Key), For: s.Pending.For, Created: s.Pending.Created}
	}
	if err != nil {
		return err
	}
	if d.crashAfter == "files" {
		return errCrash
	}
	raw, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	if err := writeAtomic(d.dir, stateFile, raw); err != nil {
		return err
	}
	d.gen = gen
	if d.crashAfter == "pointer" {
		return errCrash
	}
	return d.sweep(&p)
}

// sweep removes the agent's files that p does not name: the previous
// generation after a Save, or what an interrupted Save left.
func (d *StateDir) sweep(p *pointer) error {
	keep := map[string]bool{stateFile: true, "lock": true}
	if p != nil {
		for _, r := range []*fileRef{p.Key, p.Chain, p.AK, p.Trust} {
			if r != nil {
				keep[r.Name] = true
			}
		}
		if p.Pending != nil && p.Pending.Key != nil {
			keep[p.Pending.Key.Name] = true
		}
	}
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	for _, e := range entries {
		n := e.Name()
		if keep[n] || !ownFile(n) {
			continue
		}
		if err := os.Remove(filepath.Join(d.dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %w", ErrState, err)
		}
	}
	return nil
}

// ownFile reports whether a file name is one Save writes, so sweep never
// touches anything else an administrator put in the directory.
func ownFile(n string) bool {
	if strings.HasSuffix(n, ".tmp") {
		return true
	}
	for _, kind := range []string{"key.", "chain.", "ak.", "pending.", "trust."} {
		if strings.HasPrefix(n, kind) {
			return true
		}
	}
	return false
}
