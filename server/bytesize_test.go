package server

import "testing"

func TestParseByteSize(t *testing.T) {
	good := map[string]ByteSize{"": 0, "0": 0, "1048576": 1 << 20, "512MiB": 512 << 20, "2GiB": 2 << 30, "64KiB": 64 << 10, "3TiB": 3 << 40, "100B": 100}
	for in, want := range good {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"2GB", "lots", "-1MiB", "1.5GiB", "MiB", "9999999999TiB"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) accepted", in)
		}
	}
	for _, b := range []ByteSize{0, 100, 64 << 10, 512 << 20, 3 << 30, 1<<30 + 1} {
		back, err := ParseByteSize(b.String())
		if err != nil || back != b {
			t.Errorf("%d -> %q -> %d, %v", b, b.String(), back, err)
		}
	}
}
