package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// decode reads one JSON object from the body into v, refusing unknown
// fields, trailing data and bodies over the limit. An empty body is
// accepted only when allowEmpty is set (for routes whose fields are all
// optional), leaving v at its zero value.
func (a *API) decode(w http.ResponseWriter, r *http.Request, v any, allowEmpty bool) error {
	return decodeUpTo(w, r, v, allowEmpty, a.cfg.MaxBodyBytes)
}

// decodeUpTo is decode with its own bound on the body, for the routes
// that take whole lists (a bulk revocation).
func decodeUpTo(w http.ResponseWriter, r *http.Request, v any, allowEmpty bool, limit int64) error {
	body := http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return fmt.Errorf("%w: request body larger than %d bytes", errBadRequest, tooBig.Limit)
		case errors.Is(err, io.EOF):
			if allowEmpty {
				return nil
			}
			return fmt.Errorf("%w: empty request body, expected a JSON object", errBadRequest)
		default:
			return fmt.Errorf("%w: request body: %w", errBadRequest, err)
		}
	}
	// A second value (or garbage) after the object means the client sent
	// something other than what it thinks it sent.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fmt.Errorf("%w: request body larger than %d bytes", errBadRequest, tooBig.Limit)
		}
		return fmt.Errorf("%w: request body holds data after the JSON object", errBadRequest)
	}
	return nil
}

// writeJSON writes v with the given status. An encoding failure can only
// come from a broken connection at this point, so it is not reported.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
