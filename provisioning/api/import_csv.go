package api

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// csvColumns are the columns a CSV import may have; id is required and the
// order is free.
var csvColumns = []string{"id", "group", "ek_cert", "ek_hash", "metadata"}

// readCSV parses a CSV import: a header line naming the columns, then one
// device per record. Line numbers count the header as line 1 and follow
// quoted fields that span lines (a PEM EK certificate does).
func (a *API) readCSV(body io.Reader) ([]importLine, error) {
	cr := csv.NewReader(body)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: empty file; the first line must be the header %s", errBadRequest, strings.Join(csvColumns, ","))
	}
	if err != nil {
		return nil, csvError(err)
	}
	col := map[string]int{}
	for i, name := range header {
		name = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(name, "\ufeff")))
		if !slices.Contains(csvColumns, name) {
			return nil, rowError(1, fmt.Errorf("unknown column %q (columns: %s)", name, strings.Join(csvColumns, ",")))
		}
		if _, dup := col[name]; dup {
			return nil, rowError(1, fmt.Errorf("column %q appears twice", name))
		}
		col[name] = i
	}
	if _, ok := col["id"]; !ok {
		return nil, rowError(1, errors.New("the header has no id column"))
	}
	field := func(rec []string, name string) string {
		if i, ok := col[name]; ok {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var rows []importLine
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, csvError(err)
		}
		line, _ := cr.FieldPos(0)
		meta, err := parseMetadata(field(rec, "metadata"))
		if err != nil {
			return nil, rowError(line, err)
		}
		d, err := a.importDevice(wire.ImportRow{
			ID: field(rec, "id"), Group: field(rec, "group"),
			EKCert: field(rec, "ek_cert"), EKHash: field(rec, "ek_hash"), Metadata: meta,
		})
		if err != nil {
			return nil, rowError(line, err)
		}
		rows = append(rows, importLine{line: line, dev: d})
	}
}

// csvError reports a CSV syntax error with its line; a body over the limit
// passes through for the caller to recognise.
func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return rowError(pe.StartLine, pe.Err)
	}
	return fmt.Errorf("%w: reading the file: %w", errBadRequest, err)
}

// parseMetadata reads k=v;k=v.
func parseMetadata(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	m := map[string]string{}
	for _, pair := range strings.Split(s, ";") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("metadata %q: want key=value pairs separated by ;", pair)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("metadata key %q given twice", k)
		}
		m[k] = strings.TrimSpace(v)
	}
	return m, nil
}
