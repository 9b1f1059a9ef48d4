package store

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxFilterLength is the longest UTF-8 string an MQTT packet can carry.
const maxFilterLength = 65535

// validateFilter reports whether f is a syntactically valid MQTT topic
// filter (MQTT 3.1.1 and 5, section 4.7): non-empty UTF-8 without NUL, '+'
// only as a whole level and '#' only as the whole last level. Empty levels
// ("a//b") are legal MQTT and allowed. ACL grants are matched by the broker
// by containment, which is only well defined for well-formed filters.
func validateFilter(f string) error {
	switch {
	case f == "":
		return fmt.Errorf("%w: empty topic filter", ErrInvalid)
	case len(f) > maxFilterLength:
		return fmt.Errorf("%w: topic filter longer than %d bytes", ErrInvalid, maxFilterLength)
	case !utf8.ValidString(f):
		return fmt.Errorf("%w: topic filter %q is not valid UTF-8", ErrInvalid, f)
	case strings.ContainsRune(f, 0):
		return fmt.Errorf("%w: topic filter %q holds a NUL character", ErrInvalid, f)
	}
	levels := strings.Split(f, "/")
	for i, level := range levels {
		switch {
		case level == "#" && i != len(levels)-1:
			return fmt.Errorf("%w: topic filter %q: '#' must be the last level", ErrInvalid, f)
		case level == "#", level == "+":
		case strings.ContainsAny(level, "+#"):
			return fmt.Errorf("%w: topic filter %q: wildcard %q must fill a whole level", ErrInvalid, f, level)
		}
	}
	return nil
}

// validateFilters checks every filter of one ACL list; kind names the list
// in the error.
func validateFilters(kind string, filters []string) error {
	for _, f := range filters {
		if err := validateFilter(f); err != nil {
			return fmt.Errorf("%s grant: %w", kind, err)
		}
	}
	return nil
}
