package store

import (
	"fmt"
	"slices"
	"strings"
)

// ChangeACL: the ACL of a device (DeviceID set) or the ACL templates of a
// group (Group set) changed; brokers re-judge the sessions concerned.
const ChangeACL ChangeKind = "acl"

// Template variables a group's ACL templates may use. {meta.KEY} takes the
// device's metadata value KEY.
const (
	varID    = "{id}"
	varGroup = "{group}"
	varMeta  = "{meta."
)

// ExpandACL turns a group's ACL templates into the topic filters they grant
// device d. A template whose variable has no value for d, or a value that
// would change the filter's shape (a '/', '+', '#' or NUL, or an empty
// value), grants nothing to d: a metadata value never widens a grant.
func ExpandACL(templates []string, d Device) []string {
	out := make([]string, 0, len(templates))
	for _, t := range templates {
		if f, ok := expand(t, func(name string) (string, bool) { return varValue(name, d) }); ok {
			out = append(out, f)
		}
	}
	return out
}

// varValue returns the value of one template variable for d.
func varValue(name string, d Device) (string, bool) {
	var v string
	switch {
	case name == varID:
		v = d.ID
	case name == varGroup:
		v = d.Group
	case strings.HasPrefix(name, varMeta):
		v = d.Metadata[strings.TrimSuffix(strings.TrimPrefix(name, varMeta), "}")]
	default:
		return "", false
	}
	return v, v != "" && !strings.ContainsAny(v, "/+#\x00")
}

// expand replaces each {variable} of t by value(variable); ok is false
// when a variable has no value or t's braces are unbalanced.
func expand(t string, value func(name string) (string, bool)) (string, bool) {
	var b strings.Builder
	for {
		open := strings.IndexByte(t, '{')
		if open < 0 {
			if strings.IndexByte(t, '}') >= 0 {
				return "", false
			}
			b.WriteString(t)
			return b.String(), true
		}
		end := strings.IndexByte(t[open:], '}')
		if end < 0 || strings.IndexByte(t[:open], '}') >= 0 {
			return "", false
		}
		v, ok := value(t[open : open+end+1])
		if !ok {
			return "", false
		}
		b.WriteString(t[:open])
		b.WriteString(v)
		t = t[open+end+1:]
	}
}

// validateTemplates checks the ACL templates of one list: known variables
// only ({id}, {group}, {meta.KEY} with a non-empty KEY) and, with every
// variable filled in, a valid topic filter. kind names the list.
func validateTemplates(kind string, templates []string) error {
	for _, t := range templates {
		f, ok := expand(t, func(name string) (string, bool) {
			key, meta := strings.CutPrefix(name, varMeta)
			known := name == varID || name == varGroup || (meta && len(key) > 1)
			return "x", known
		})
		if !ok {
			return fmt.Errorf("%w: %s template %q: unknown variable or unbalanced braces (use {id}, {group}, {meta.KEY})", ErrInvalid, kind, t)
		}
		if err := validateFilter(f); err != nil {
			return fmt.Errorf("%s template %q: %w", kind, t, err)
		}
	}
	return nil
}

// sameACL reports whether two ACL lists pairs are equal.
func sameACL(pubA, subA, pubB, subB []string) bool {
	return slices.Equal(pubA, pubB) && slices.Equal(subA, subB)
}
