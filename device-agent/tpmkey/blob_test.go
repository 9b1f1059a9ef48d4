package tpmkey

import (
	"bytes"
	"errors"
	"testing"
)

func TestParseBlob(t *testing.T) {
	good := object{public: []byte{1, 2, 3}, private: []byte{4, 5}}.blob()
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{name: "ok/round-trip", in: good},
		{name: "error/empty", in: nil, want: ErrBlob},
		{name: "error/one-byte", in: []byte{0}, want: ErrBlob},
		{name: "error/empty-public", in: []byte{0, 0, 0, 1, 9}, want: ErrBlob},
		{name: "error/public-overruns", in: []byte{0, 9, 1, 2}, want: ErrBlob},
		{name: "error/no-private", in: good[:5], want: ErrBlob},
		{name: "error/empty-private", in: append(bytes.Clone(good[:5]), 0, 0), want: ErrBlob},
		{name: "error/private-overruns", in: good[:len(good)-1], want: ErrBlob},
		{name: "error/trailing", in: append(bytes.Clone(good), 0), want: ErrBlob},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseBlob(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.want == nil && !bytes.Equal(o.blob(), tt.in) {
				t.Fatalf("blob() = %x, want %x", o.blob(), tt.in)
			}
		})
	}
}

func TestPublic2B(t *testing.T) {
	o := object{public: bytes.Repeat([]byte{7}, 300), private: []byte{1}}
	got := o.public2B()
	if len(got) != 302 || got[0] != 0x01 || got[1] != 0x2c || !bytes.Equal(got[2:], o.public) {
		t.Fatalf("public2B = %x...", got[:4])
	}
}
