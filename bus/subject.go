package bus

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Subject prefixes: ordinary topics, and topics starting with "$".
const (
	PrefixTopic  = "fg.m."
	PrefixDollar = "fg.d."
)

// ErrSubject marks a NATS subject that is not the mapping of an MQTT topic.
var ErrSubject = errors.New("not a fleetgate topic subject")

// ErrFilter marks a string that is not a valid MQTT topic filter.
var ErrFilter = errors.New("invalid MQTT topic filter")

const hexDigits = "0123456789ABCDEF"

// plain reports whether a byte passes the level escape unchanged.
func plain(c byte) bool {
	return c == '-' || c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

// appendLevel appends the escape of one topic level.
func appendLevel(b []byte, level string) []byte {
	if level == "" {
		return append(b, '=')
	}
	for i := 0; i < len(level); i++ {
		c := level[i]
		if plain(c) {
			b = append(b, c)
		} else {
			b = append(b, '=', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return b
}

// EscapeLevel returns the escape of one topic level (or any string): only
// [-_a-zA-Z0-9=] remain, and "=" alone stands for the empty string.
func EscapeLevel(level string) string { return string(appendLevel(nil, level)) }

// unescapeLevel reverses appendLevel for one token.
func unescapeLevel(tok string) (string, bool) {
	if tok == "=" {
		return "", true
	}
	if tok == "" {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case plain(c):
			b.WriteByte(c)
		case c == '=' && i+2 < len(tok):
			hi, lo := unhex(tok[i+1]), unhex(tok[i+2])
			if hi < 0 || lo < 0 {
				return "", false
			}
			v := byte(hi<<4 | lo)
			if plain(v) {
				return "", false // not canonical: one topic, one subject
			}
			b.WriteByte(v)
			i += 2
		default:
			return "", false
		}
	}
	return b.String(), true
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// prefix picks the subject prefix for a topic or filter.
func prefix(s string) string {
	if strings.HasPrefix(s, "$") {
		return PrefixDollar
	}
	return PrefixTopic
}

// Subject returns the NATS subject of an MQTT topic. The topic is not
// checked: give it valid topics (ValidTopic).
func Subject(topic string) string {
	if subject, ok := swapSeparators(PrefixTopic, topic, '/', '.'); ok {
		return subject // the usual topic, no level to escape: one allocation
	}
	b := make([]byte, 0, len(PrefixTopic)+len(topic)+8)
	b = append(b, prefix(topic)...)
	for rest, more := topic, true; more; { // Cut, not Split: no slice of levels per message
		var level string
		level, rest, more = strings.Cut(rest, "/")
		b = appendLevel(b, level)
		if more {
			b = append(b, '.')
		}
	}
	return string(b)
}

// Topic returns the MQTT topic of a subject made by Subject, or an error
// wrapping ErrSubject.
func Topic(subject string) (string, error) {
	if topic, ok := plainTopic(subject); ok {
		return topic, nil
	}
	return escapedTopic(subject)
}

// plainTopic is Topic for the usual subject, of an ordinary topic whose
// levels need no escape, in one allocation; ok is false for any other
// subject, which escapedTopic judges. It runs once per message a broker
// receives from another.
func plainTopic(subject string) (topic string, ok bool) {
	rest, found := strings.CutPrefix(subject, PrefixTopic)
	if !found {
		return "", false
	}
	return swapSeparators("", rest, '.', '/')
}

// swapSeparators returns pre followed by s with every separator from
// turned into to, in one allocation; ok is false unless s is non-empty
// levels of plain bytes, at most 65535 bytes, split by single from.
func swapSeparators(pre, s string, from, to byte) (string, bool) {
	if s == "" || len(s) > 65535 {
		return "", false
	}
	var b strings.Builder
	b.Grow(len(pre) + len(s))
	b.WriteString(pre)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case plain(c):
			b.WriteByte(c)
		case c == from && i > 0 && i < len(s)-1 && s[i-1] != from:
			b.WriteByte(to)
		default:
			return "", false
		}
	}
	return b.String(), true
}

// escapedTopic is Topic for any subject: levels split, unescaped and the
// topic checked.
func escapedTopic(subject string) (string, error) {
	var rest string
	switch {
	case strings.HasPrefix(subject, PrefixTopic):
		rest = subject[len(PrefixTopic):]
	case strings.HasPrefix(subject, PrefixDollar):
		rest = subject[len(PrefixDollar):]
	default:
		return "", fmt.Errorf("%w: %q has no fleetgate prefix", ErrSubject, subject)
	}
	levels := strings.Split(rest, ".")
	for i, tok := range levels {
		l, ok := unescapeLevel(tok)
		if !ok {
			return "", fmt.Errorf("%w: %q: bad level %q", ErrSubject, subject, tok)
		}
		levels[i] = l
	}
	topic := strings.Join(levels, "/")
	if prefix(topic) != subject[:len(PrefixTopic)] || !ValidTopic(topic) {
		return "", fmt.Errorf("%w: %q", ErrSubject, subject)
	}
	return topic, nil
}

// FilterSubjects returns the NATS subjects that together match the topics
// of an MQTT filter (no "$share/" prefix: see SplitShare): one, or two when
// the filter ends in "#".
func FilterSubjects(filter string) ([]string, error) {
	if !ValidFilter(filter) {
		return nil, fmt.Errorf("%w: %q", ErrFilter, filter)
	}
	levels := strings.Split(filter, "/")
	b := []byte(prefix(filter))
	for i, level := range levels {
		if i > 0 {
			b = append(b, '.')
		}
		switch level {
		case "+":
			b = append(b, '*')
		case "#":
			b = append(b, '>')
		default:
			b = appendLevel(b, level)
		}
	}
	subs := []string{string(b)}
	if levels[len(levels)-1] == "#" && len(levels) > 1 {
		// MQTT's "a/#" matches "a" too: the parent level, without ".>".
		subs = append(subs, string(b[:len(b)-2]))
	}
	return subs, nil
}

// SplitShare splits "$share/<group>/<filter>" into group and filter; ok
// is false for a filter that is not shared or not well formed.
func SplitShare(filter string) (group, inner string, ok bool) {
	rest, found := strings.CutPrefix(filter, "$share/")
	if !found {
		return "", filter, false
	}
	group, inner, found = strings.Cut(rest, "/")
	if !found || group == "" || inner == "" || strings.ContainsAny(group, "+#") {
		return "", filter, false
	}
	return group, inner, true
}

// QueueName is the NATS queue group of a shared subscription: group and
// filter escaped, so shares of one group on different filters stay apart.
func QueueName(group, filter string) string {
	return "fg.q." + EscapeLevel(group) + "." + EscapeLevel(filter)
}

// ValidTopic reports whether s is a valid MQTT topic name: non-empty
// UTF-8 without NUL or wildcards.
func ValidTopic(s string) bool {
	return s != "" && len(s) <= 65535 && utf8.ValidString(s) && !strings.ContainsAny(s, "+#\x00")
}

// ValidFilter reports whether s is a valid MQTT topic filter: non-empty
// UTF-8 without NUL, "+" and "#" only as whole levels and "#" only last.
func ValidFilter(s string) bool {
	if s == "" || len(s) > 65535 || !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return false
	}
	levels := strings.Split(s, "/")
	for i, l := range levels {
		if l == "#" && i == len(levels)-1 {
			continue
		}
		if l != "+" && strings.ContainsAny(l, "+#") {
			return false
		}
	}
	return true
}
