package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteJSON writes r as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("report: encode JSON: %w", err)
	}
	return nil
}

// ReadJSON reads a report written by WriteJSON.
func ReadJSON(r io.Reader) (*Report, error) {
	var rep Report
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		return nil, fmt.Errorf("report: decode JSON: %w", err)
	}
	if rep.Schema != SchemaVersion {
		return nil, fmt.Errorf("report: schema %q, want %q", rep.Schema, SchemaVersion)
	}
	return &rep, nil
}

// WriteFiles writes r as dir/<name>.json and dir/<name>.html and returns
// both paths.
func WriteFiles(dir, name string, r *Report) (jsonPath, htmlPath string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("report: %w", err)
	}
	jsonPath, htmlPath = filepath.Join(dir, name+".json"), filepath.Join(dir, name+".html")
	for _, f := range []struct {
		path  string
		write func(io.Writer, *Report) error
	}{{jsonPath, WriteJSON}, {htmlPath, WriteHTML}} {
		out, err := os.Create(f.path)
		if err != nil {
			return "", "", fmt.Errorf("report: %w", err)
		}
		err = f.write(out, r)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", "", err
		}
	}
	return jsonPath, htmlPath, nil
}
