package bus

import (
	"slices"
	"strings"
	"testing"
)

func TestSubject(t *testing.T) {
	for _, c := range []struct{ topic, subject string }{
		{"devices/d1/temp", "fg.m.devices.d1.temp"},
		{"a-b_C9/x", "fg.m.a-b_C9.x"},
		{"a/", "fg.m.a.="},
		{"/a", "fg.m.=.a"},
		{"a//b.c", "fg.m.a.=.b=2Ec"},
		{"/", "fg.m.=.="},
		{"*/>", "fg.m.=2A.=3E"},
		{"a b\t", "fg.m.a=20b=09"},
		{"=", "fg.m.=3D"},
		{"$SYS/x", "fg.d.=24SYS.x"},
		{"é", "fg.m.=C3=A9"},
	} {
		if got := Subject(c.topic); got != c.subject {
			t.Errorf("Subject(%q) = %q, want %q", c.topic, got, c.subject)
		}
		if got, err := Topic(c.subject); err != nil || got != c.topic {
			t.Errorf("Topic(%q) = %q, %v; want %q", c.subject, got, err, c.topic)
		}
	}
}

func TestTopicRefusesForeignSubjects(t *testing.T) {
	for _, s := range []string{"", "fg.m.", "other.a", "fg.m.a..b", "fg.m.=2", "fg.m.=61", "fg.m.a*", "fg.d.a", "fg.m.=24a", "fg.m.=2B"} {
		if got, err := Topic(s); err == nil {
			t.Errorf("Topic(%q) = %q, want an error", s, got)
		}
	}
}

// TestPlainTopicAgrees: the fast path of Topic returns what the general
// one does, and leaves every subject it is unsure of to it.
func TestPlainTopicAgrees(t *testing.T) {
	for _, s := range []string{"fg.m.a", "fg.m.devices.d1.temp", "fg.m.a-b_C9.x", "fg.m.", "fg.m.a..b", "fg.m..a",
		"fg.m.a.", "fg.m.=", "fg.m.a.=.b", "fg.m.=2E", "fg.d.x", "fg.d.=24SYS.x", "fg.m.a*", "fg.m.a b", "fg.x.a", ""} {
		want, wantErr := escapedTopic(s)
		got, ok := plainTopic(s)
		if ok && (wantErr != nil || got != want) {
			t.Errorf("plainTopic(%q) = %q; the general path says %q, %v", s, got, want, wantErr)
		}
		if all, err := Topic(s); all != want || (err == nil) != (wantErr == nil) {
			t.Errorf("Topic(%q) = %q, %v; want %q, %v", s, all, err, want, wantErr)
		}
	}
	if _, ok := plainTopic("fg.m.devices.d1.temp"); !ok {
		t.Error("plainTopic refuses an ordinary subject: the fast path never runs")
	}
}

func TestFilterSubjects(t *testing.T) {
	for _, c := range []struct {
		filter string
		want   []string
	}{
		{"a/b", []string{"fg.m.a.b"}},
		{"a/+/c", []string{"fg.m.a.*.c"}},
		{"a/#", []string{"fg.m.a.>", "fg.m.a"}},
		{"#", []string{"fg.m.>"}},
		{"+/#", []string{"fg.m.*.>", "fg.m.*"}},
		{"$SYS/#", []string{"fg.d.=24SYS.>", "fg.d.=24SYS"}},
	} {
		got, err := FilterSubjects(c.filter)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("FilterSubjects(%q) = %q, %v; want %q", c.filter, got, err, c.want)
		}
	}
	for _, f := range []string{"", "a/#/b", "a+", "a/b#"} {
		if _, err := FilterSubjects(f); err == nil {
			t.Errorf("FilterSubjects(%q): want an error", f)
		}
	}
}

func TestShare(t *testing.T) {
	g, f, ok := SplitShare("$share/g1/a/+")
	if !ok || g != "g1" || f != "a/+" {
		t.Fatalf("SplitShare = %q %q %v", g, f, ok)
	}
	for _, s := range []string{"a/b", "$share//a", "$share/g", "$share/g+/a"} {
		if _, _, ok := SplitShare(s); ok {
			t.Errorf("SplitShare(%q) ok", s)
		}
	}
	if QueueName("g", "a/b") == QueueName("g", "a/+") || QueueName("g", "a/b") == QueueName("g/a", "b") {
		t.Error("queue names collide")
	}
	if q := QueueName("g 1", "a/#"); strings.ContainsAny(q, " \t\r\n") {
		t.Errorf("queue name %q holds whitespace", q)
	}
}

// mqttMatch is MQTT's filter match, written from the specification.
func mqttMatch(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	f, tl := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, l := range f {
		if l == "#" {
			return true
		}
		if i >= len(tl) || (l != "+" && l != tl[i]) {
			return false
		}
	}
	return len(f) == len(tl)
}

// natsMatch is NATS's subject match.
func natsMatch(sub, subject string) bool {
	p, s := strings.Split(sub, "."), strings.Split(subject, ".")
	for i, tok := range p {
		if tok == ">" {
			return len(s) > i
		}
		if i >= len(s) || (tok != "*" && tok != s[i]) {
			return false
		}
	}
	return len(p) == len(s)
}

func FuzzMapping(f *testing.F) {
	for _, s := range [][2]string{{"a/b", "a/+"}, {"a", "a/#"}, {"$SYS/x", "#"}, {"a//b", "a/+/b"}, {"*.>", "+"}, {"", "#"}, {"é/ /=", "+/+/#"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, topic, filter string) {
		if !ValidTopic(topic) {
			return
		}
		subject := Subject(topic)
		if back, err := Topic(subject); err != nil || back != topic {
			t.Fatalf("Topic(Subject(%q)) = %q, %v", topic, back, err)
		}
		if back, ok := plainTopic(subject); ok && back != topic {
			t.Fatalf("plainTopic(Subject(%q)) = %q", topic, back)
		}
		if !ValidFilter(filter) {
			return
		}
		subs, err := FilterSubjects(filter)
		if err != nil {
			t.Fatal(err)
		}
		matched := false
		for _, s := range subs {
			matched = matched || natsMatch(s, subject)
		}
		if want := mqttMatch(filter, topic); matched != want {
			t.Fatalf("filter %q topic %q: subjects %q match %q: %v, MQTT says %v", filter, topic, subs, subject, matched, want)
		}
	})
}
