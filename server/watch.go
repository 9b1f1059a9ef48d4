package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// fingerprint is a digest of the contents of a set of files. Contents,
// not modification times: the files are small, and a content digest sees
// every change whatever the file system's timestamp resolution, and no
// change where a file was merely rewritten with the same bytes.
type fingerprint [sha256.Size]byte

// fingerprintFiles digests dir/name for each name, telling a missing file
// from an empty one. An unreadable file counts as its error text, so that
// it becomes readable again is a change too. The files are streamed
// through one pooled buffer: the watcher runs every reload interval for
// the server's whole life, and an idle server should make no garbage.
func fingerprintFiles(dir string, names []string) fingerprint {
	h := sha256.New()
	buf := readBufs.Get().(*[]byte)
	defer readBufs.Put(buf)
	for _, name := range names {
		streamFile(h, name, filepath.Join(dir, name), *buf)
	}
	var fp fingerprint
	h.Sum(fp[:0])
	return fp
}

// readBufs holds the buffers fingerprintFiles reads files through.
var readBufs = sync.Pool{New: func() any { b := make([]byte, 4096); return &b }}

// streamFile adds one file to h as digestFile would with its whole
// contents, reading it through buf.
func streamFile(h hash.Hash, name, path string, buf []byte) {
	f, err := os.Open(path)
	if err != nil {
		digestFile(h, name, nil, err)
		return
	}
	defer f.Close()
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write([]byte("present"))
	if _, err := io.CopyBuffer(struct{ io.Writer }{h}, struct{ io.Reader }{f}, buf); err != nil {
		h.Write([]byte("error: " + err.Error()))
	}
	h.Write([]byte{0})
}

// digestContents is the fingerprint of one file named name holding data,
// as fingerprintFiles would take it.
func digestContents(name string, data []byte) fingerprint {
	h := sha256.New()
	digestFile(h, name, data, nil)
	var fp fingerprint
	h.Sum(fp[:0])
	return fp
}

// digestFile adds one file's name and contents, or why it could not be
// read, to h.
func digestFile(h hash.Hash, name string, data []byte, err error) {
	h.Write([]byte(name))
	h.Write([]byte{0})
	switch {
	case errors.Is(err, fs.ErrNotExist):
		h.Write([]byte("absent"))
	case err != nil:
		h.Write([]byte("error: " + err.Error()))
	default:
		h.Write([]byte("present"))
		h.Write(data)
	}
	h.Write([]byte{0})
}

// configFingerprint digests the config file; without one there is nothing
// to watch.
func configFingerprint(file string) fingerprint {
	if file == "" {
		return fingerprint{}
	}
	return fingerprintFiles(filepath.Dir(file), []string{filepath.Base(file)})
}

// reloadRequest asks the watcher to reload everything now; the outcome
// goes to done, which has room for it.
type reloadRequest struct {
	trigger string
	done    chan error
}

// watch reloads everything on request (Server.Reload) and, every reload
// interval, what changed on disk since it was last looked at, until ctx
// ends. caFP and cfgFP are the digests of the material the server started
// with, taken before it was read, so a change made while the server
// started is seen at the first check. A change is acted on once, whether
// its reload succeeds or fails: a broken file is reported once and retried
// when it changes again.
func (r *reloader) watch(ctx context.Context, requests <-chan reloadRequest, configFile string, caFP, cfgFP fingerprint) {
	for {
		var tick <-chan time.Time
		if d := r.reloadInterval(); d > 0 {
			// A timer rather than a ticker: a reload may change the period.
			tick = time.After(d)
		}
		select {
		case <-ctx.Done():
			return
		case req := <-requests:
			caFP, cfgFP = r.src.fingerprint(), configFingerprint(configFile)
			req.done <- r.reloadAll(req.trigger)
		case <-tick:
			if fp := r.src.fingerprint(); fp != caFP {
				caFP = fp
				_ = r.reloadCA("file_change")
			}
			if fp := configFingerprint(configFile); fp != cfgFP {
				cfgFP = fp
				_ = r.reloadConfig("file_change")
			}
		}
	}
}
