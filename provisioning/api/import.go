package api

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/fleetgate/fleetgate/provisioning/attest"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// importLine is one parsed row and the line of the file it started on
// (1-based, counting a CSV header), so that a refusal can point at it.
type importLine struct {
	line int
	dev  store.Device
}

// importDevices serves POST /v1/devices/import: factory pre-registration
// from a CSV or JSON-lines file. The file is parsed and every EK
// certificate verified before the registry is touched; the registry then
// takes all rows or none, and a row already registered as given counts as
// unchanged. Any refusal is a 400 naming the line.
func (a *API) importDevices(w http.ResponseWriter, r *http.Request, by store.Actor) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		mt = ""
	}
	body := http.MaxBytesReader(w, r.Body, a.cfg.MaxImportBytes)
	var rows []importLine
	switch mt {
	case wire.ImportCSV:
		rows, err = a.readCSV(body)
	case wire.ImportJSONL, "application/jsonl", "application/x-jsonlines":
		rows, err = a.readJSONL(body)
	default:
		err = fmt.Errorf("%w: Content-Type %q: want %s or %s", errBadRequest, r.Header.Get("Content-Type"), wire.ImportCSV, wire.ImportJSONL)
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		err = fmt.Errorf("%w: import larger than %d bytes; split the file", errBadRequest, tooBig.Limit)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	devs, err := distinctRows(rows)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	created, unchanged, err := a.db.ImportDevices(r.Context(), devs, by)
	var rowErr *store.ImportError
	if errors.As(err, &rowErr) && rowErr.Index >= 0 && rowErr.Index < len(rows) {
		// The cause is not wrapped: a row the registry refuses (an ID taken,
		// an unknown group) is bad input of this file, 400, whatever its
		// sentinel would mean elsewhere.
		err = fmt.Errorf("%w: line %d: device %q: %v; nothing was imported", errBadRequest, rows[rowErr.Index].line, rowErr.ID, rowErr.Err)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.ImportResult{Created: created, Unchanged: unchanged})
}

// distinctRows returns the devices of the rows, refusing an ID or an EK
// hash that appears twice with both lines named (the registry would name
// rows by index).
func distinctRows(rows []importLine) ([]store.Device, error) {
	devs := make([]store.Device, len(rows))
	lineOfID := make(map[string]int, len(rows))
	lineOfEK := make(map[string]int, len(rows))
	for i, row := range rows {
		d := row.dev
		if first, dup := lineOfID[d.ID]; dup {
			return nil, rowError(row.line, fmt.Errorf("device %q is also on line %d", d.ID, first))
		}
		lineOfID[d.ID] = row.line
		if d.EKHash != "" {
			if first, dup := lineOfEK[d.EKHash]; dup {
				return nil, rowError(row.line, fmt.Errorf("EK %s is also on line %d", d.EKHash, first))
			}
			lineOfEK[d.EKHash] = row.line
		}
		devs[i] = d
	}
	return devs, nil
}

// importDevice turns one row into the device to register. An EK
// certificate must verify against the manufacturer roots; the device then
// gets the hash of the certificate's key, which must equal ek_hash when
// both are given.
func (a *API) importDevice(row wire.ImportRow) (store.Device, error) {
	d := store.Device{ID: row.ID, Group: row.Group, Metadata: row.Metadata, EKHash: strings.ToLower(strings.TrimSpace(row.EKHash))}
	if d.EKHash != "" {
		if b, err := hex.DecodeString(d.EKHash); err != nil || len(b) != 32 {
			return d, fmt.Errorf("ek_hash %q is not a hex SHA-256", row.EKHash)
		}
	}
	if strings.TrimSpace(row.EKCert) == "" {
		return d, nil
	}
	der, err := decodeCertField(row.EKCert)
	if err != nil {
		return d, err
	}
	if a.cfg.EKRoots == nil {
		return d, errors.New("ek_cert given but the server has no manufacturer roots configured; give ek_hash instead")
	}
	cert, err := attest.VerifyEKCertificateChain(der, a.cfg.EKRoots, a.cfg.EKIntermediates, a.now())
	if err != nil {
		return d, fmt.Errorf("ek_cert: %v", err)
	}
	hash, err := attest.EKHash(cert.PublicKey)
	if err != nil {
		return d, fmt.Errorf("ek_cert: %v", err)
	}
	if d.EKHash != "" && d.EKHash != hash {
		return d, fmt.Errorf("ek_hash %s is not the hash of ek_cert's key (%s)", d.EKHash, hash)
	}
	d.EKHash = hash
	return d, nil
}

// decodeCertField reads a certificate given as PEM or as base64 DER.
func decodeCertField(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-----BEGIN") {
		block, rest := pem.Decode([]byte(s))
		if block == nil || block.Type != "CERTIFICATE" || strings.TrimSpace(string(rest)) != "" {
			return nil, errors.New("ek_cert is not one PEM CERTIFICATE block")
		}
		return block.Bytes, nil
	}
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("ek_cert is neither PEM nor base64 DER")
	}
	return der, nil
}

// rowError names the line of a row that cannot be imported.
func rowError(line int, err error) error {
	return fmt.Errorf("%w: line %d: %v; nothing was imported", errBadRequest, line, err)
}
