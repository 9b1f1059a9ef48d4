package tpmkey

import (
	"bytes"
	"testing"
)

func TestTrimDER(t *testing.T) {
	long := append([]byte{0x30, 0x82, 0x01, 0x00}, bytes.Repeat([]byte{1}, 0x100)...)
	tests := []struct {
		name string
		in   []byte
		want []byte
	}{
		{name: "ok/exact", in: long, want: long},
		{name: "ok/padded", in: append(bytes.Clone(long), 0xff, 0xff, 0x00), want: long},
		{name: "ok/short-form", in: []byte{0x30, 0x02, 0x05, 0x00, 0xff}, want: []byte{0x30, 0x02, 0x05, 0x00}},
		{name: "ok/not-der-untouched", in: []byte{0x04, 0x01, 0x00}, want: []byte{0x04, 0x01, 0x00}},
		{name: "ok/truncated-untouched", in: long[:100], want: long[:100]},
		{name: "ok/indefinite-untouched", in: []byte{0x30, 0x80, 0x00, 0x00}, want: []byte{0x30, 0x80, 0x00, 0x00}},
		{name: "ok/empty", in: nil, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := trimDER(tt.in); !bytes.Equal(got, tt.want) {
				t.Fatalf("trimDER = %x, want %x", got, tt.want)
			}
		})
	}
}
