package broker

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestACLGolden runs every case of testdata/acl.golden.
func TestACLGolden(t *testing.T) {
	f, err := os.Open("testdata/acl.golden")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	var (
		device     string
		pub, sub   []string
		g          grants
		cases      int
		seen       = map[string]bool{}
		unquote    = func(s string) string { return strings.ReplaceAll(s, `""`, "") }
		rebuild    = func() { g, _ = newGrants(device, pub, sub) }
		lineNumber int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lineNumber++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		switch {
		case fields[0] == "device" && len(fields) == 2:
			device, pub, sub = fields[1], nil, nil
			rebuild()
		case fields[0] == "grant-pub" && len(fields) == 2:
			pub = append(pub, fields[1])
			rebuild()
		case fields[0] == "grant-sub" && len(fields) == 2:
			sub = append(sub, fields[1])
			rebuild()
		case (fields[0] == "pub" || fields[0] == "sub") && len(fields) == 3 && device != "":
			op, topic, want := fields[0], unquote(fields[1]), fields[2]
			if want != "allow" && want != "deny" {
				t.Fatalf("acl.golden:%d: want %q, expected allow or deny", lineNumber, want)
			}
			key := device + " " + op + " " + topic
			if seen[key] {
				t.Fatalf("acl.golden:%d: duplicate case %q", lineNumber, key)
			}
			seen[key] = true
			cases++
			name := "ok/"
			if want == "deny" {
				name = "error/"
			}
			name += fmt.Sprintf("%s/%s_%s", device, op, fields[1])
			t.Run(name, func(t *testing.T) {
				var got bool
				if op == "pub" {
					got = g.canPublish(topic)
				} else {
					got = g.canSubscribe(topic)
				}
				if got != (want == "allow") {
					t.Errorf("acl.golden:%d: device %s %s %q: got allow=%v, want %s", lineNumber, device, op, topic, got, want)
				}
			})
		default:
			t.Fatalf("acl.golden:%d: cannot parse %q", lineNumber, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cases < 100 {
		t.Fatalf("acl.golden holds %d cases; expected at least 100", cases)
	}
}

func TestNewGrantsIgnoresMalformed(t *testing.T) {
	_, ignored := newGrants("dev-1", []string{"ok/+", "a/#/b", ""}, []string{"x/y+", "fine/#"})
	want := []string{"a/#/b", "", "x/y+"}
	if fmt.Sprint(ignored) != fmt.Sprint(want) {
		t.Fatalf("ignored = %q, want %q", ignored, want)
	}
}

func TestContains(t *testing.T) {
	tests := []struct {
		name         string
		outer, inner string
		want         bool
	}{
		{"ok/same topic", "a/b", "a/b", true},
		{"ok/hash covers parent", "a/#", "a", true},
		{"ok/hash covers plus", "a/#", "a/+", true},
		{"ok/hash covers hash", "a/#", "a/#", true},
		{"ok/hash covers deep", "a/#", "a/+/c/#", true},
		{"ok/plus covers literal", "a/+", "a/b", true},
		{"ok/plus covers plus", "a/+", "a/+", true},
		{"ok/plus covers empty level", "a/+", "a/", true},
		{"ok/root hash", "#", "+/+/#", true},
		{"ok/plus hash at root is hash", "+/#", "#", true},
		{"error/plus plus hash is not hash", "+/+/#", "#", false},
		{"error/plus hash below root", "a/+/#", "a/#", false},
		{"error/literal does not cover plus", "a/b", "a/+", false},
		{"error/plus does not cover hash", "a/+", "a/#", false},
		{"error/plus needs a level", "a/+", "a", false},
		{"error/shorter outer", "a/b", "a/b/c", false},
		{"error/longer outer", "a/b/c", "a/b", false},
		{"error/hash not covered by literal", "a/b", "#", false},
		{"error/other literal", "a/b", "a/c", false},
		{"error/prefix is not a level", "a/b", "a/bc", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := contains(tt.outer, tt.inner); got != tt.want {
				t.Fatalf("contains(%q, %q) = %v, want %v", tt.outer, tt.inner, got, tt.want)
			}
		})
	}
}

// TestContainsExhaustive checks contains against its definition on every
// pair of small filters: outer contains inner iff every topic inner matches
// is matched by outer. Topics reach one level beyond the longest filter and
// use a literal ("c") and an empty level that no filter names, so every
// non-containment has a witness among them.
func TestContainsExhaustive(t *testing.T) {
	filters := enumerate([]string{"a", "b", "+", "#"}, 3, true)
	topics := enumerate([]string{"a", "b", "c", ""}, 4, false)
	// match is topic matching written the plain way, independent of
	// contains.
	match := func(filter, topic string) bool {
		fl, tl := strings.Split(filter, "/"), strings.Split(topic, "/")
		for i, f := range fl {
			if f == "#" {
				return true
			}
			if i >= len(tl) || (f != "+" && f != tl[i]) {
				return false
			}
		}
		return len(fl) == len(tl)
	}
	checked := 0
	for _, outer := range filters {
		for _, inner := range filters {
			want := true
			for _, topic := range topics {
				if match(inner, topic) && !match(outer, topic) {
					want = false
					break
				}
			}
			if got := contains(outer, inner); got != want {
				t.Errorf("contains(%q, %q) = %v, want %v", outer, inner, got, want)
			}
			checked++
		}
	}
	for _, topic := range topics {
		for _, filter := range filters {
			if got, want := contains(filter, topic), match(filter, topic); got != want {
				t.Errorf("contains(%q, topic %q) = %v, want %v", filter, topic, got, want)
			}
		}
	}
	if checked < 1000 {
		t.Fatalf("only %d pairs checked", checked)
	}
}

// enumerate returns every '/'-joined string of 1..maxLevels levels drawn
// from alphabet; with filters true it keeps only valid filters ('#' last).
func enumerate(alphabet []string, maxLevels int, filters bool) []string {
	var out []string
	var walk func(prefix []string)
	walk = func(prefix []string) {
		if len(prefix) > 0 {
			s := strings.Join(prefix, "/")
			if !filters || validFilter(s) {
				out = append(out, s)
			}
		}
		if len(prefix) == maxLevels || (len(prefix) > 0 && prefix[len(prefix)-1] == "#") {
			return
		}
		for _, a := range alphabet {
			walk(append(append([]string(nil), prefix...), a))
		}
	}
	walk(nil)
	return out
}

func TestValidFilter(t *testing.T) {
	tests := []struct {
		name   string
		filter string
		want   bool
	}{
		{"ok/topic", "a/b", true},
		{"ok/hash", "#", true},
		{"ok/plus levels", "+/+", true},
		{"ok/empty levels", "/a//", true},
		{"ok/trailing hash", "a/+/#", true},
		{"error/empty", "", false},
		{"error/hash not last", "a/#/b", false},
		{"error/hash in level", "a/b#", false},
		{"error/plus in level", "a/+b", false},
		{"error/nul", "a/\x00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := validFilter(tt.filter); got != tt.want {
				t.Fatalf("validFilter(%q) = %v, want %v", tt.filter, got, tt.want)
			}
		})
	}
}

func BenchmarkCanSubscribe(b *testing.B) {
	g, _ := newGrants("device-0001", nil, []string{"fleet/broadcast/#", "commands/+/device-0001"})
	for b.Loop() {
		if !g.canSubscribe("commands/r1/device-0001") {
			b.Fatal("denied")
		}
	}
}

// FuzzACL feeds arbitrary filters to the ACL: it must never panic, and
// whatever it lets a device subscribe to must only match topics inside
// what the device is allowed.
func FuzzACL(f *testing.F) {
	for _, s := range []string{"#", "devices/d/#", "devices/d/+/x", "$share/g/devices/d/#", "+/#", "devices/d", "a//b", "$SYS/#", "devices/+/x"} {
		f.Add(s, "devices/d/x")
	}
	g, _ := newGrants("d", []string{"pub/+"}, []string{"fleet/+/cmd"})
	f.Fuzz(func(t *testing.T, filter, topic string) {
		allowed := g.canSubscribe(filter)
		_ = g.canPublish(topic)
		if !allowed || !validTopic(topic) {
			return
		}
		inner, _ := stripShare(filter)
		// A topic the allowed filter matches must be one the grants match.
		if contains(inner, topic) && !g.canSubscribe(topic) && !strings.HasPrefix(topic, "$") {
			t.Fatalf("filter %q allowed and matches %q, which is not allowed", filter, topic)
		}
	})
}
