package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// maxJSONLLine bounds one JSON-lines row; a row with a PEM EK certificate
// is a few KiB.
const maxJSONLLine = 1 << 20

// readJSONL parses a JSON-lines import: one wire.ImportRow object per
// line, blank lines skipped (but counted).
func (a *API) readJSONL(body io.Reader) ([]importLine, error) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 64<<10), maxJSONLLine)
	var rows []importLine
	line := 0
	for sc.Scan() {
		line++
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		var row wire.ImportRow
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&row); err != nil {
			return nil, rowError(line, fmt.Errorf("not a device object: %v", err))
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return nil, rowError(line, errors.New("data after the JSON object"))
		}
		d, err := a.importDevice(row)
		if err != nil {
			return nil, rowError(line, err)
		}
		rows = append(rows, importLine{line: line, dev: d})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, rowError(line+1, fmt.Errorf("line longer than %d bytes", maxJSONLLine))
		}
		return nil, fmt.Errorf("%w: reading the file: %w", errBadRequest, err)
	}
	return rows, nil
}
