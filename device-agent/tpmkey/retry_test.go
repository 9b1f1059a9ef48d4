package tpmkey

import (
	"encoding/binary"
	"testing"
)

func TestMustResend(t *testing.T) {
	rsp := func(rc uint32) []byte {
		b := []byte{0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(b[6:], rc)
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want bool
	}{
		{name: "ok/retry", in: rsp(rcRetry), want: true},
		{name: "ok/yielded", in: rsp(rcYielded), want: true},
		{name: "ok/testing", in: rsp(rcTesting), want: true},
		{name: "ok/success", in: rsp(0), want: false},
		{name: "ok/other-warning-lockout", in: rsp(0x921), want: false},
		{name: "ok/error", in: rsp(0x18b), want: false},
		{name: "ok/short", in: []byte{0x80, 0x01, 0, 0}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustResend(tt.in); got != tt.want {
				t.Fatalf("mustResend = %v, want %v", got, tt.want)
			}
		})
	}
}
