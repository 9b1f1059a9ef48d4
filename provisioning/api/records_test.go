package api

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/store"
)

// TestRecordsKeepTheirJSON holds each registry record next to what the API
// shows of it: with every field set, and with none, the JSON is the
// record's own, byte for byte, minus a certificate's DER. A field added
// to a record fails here until it is shown or deliberately left out.
func TestRecordsKeepTheirJSON(t *testing.T) {
	tests := []struct {
		name string
		rec  any               // pointer to a record, filled by the test
		show func(rec any) any // what the API sends
		hide func(rec any)     // clears what the API keeps to itself
	}{
		{"ok/device", &store.Device{}, func(r any) any { return wireDevice(*r.(*store.Device)) }, nil},
		{"ok/certificate", &store.Certificate{}, func(r any) any { return wireCertificate(*r.(*store.Certificate)) },
			func(r any) { r.(*store.Certificate).DER = nil }},
		{"ok/group", &store.Group{}, func(r any) any { return wireGroup(*r.(*store.Group)) }, nil},
		{"ok/token", &store.Token{}, func(r any) any { return wireToken(*r.(*store.Token)) }, nil},
		{"ok/audit-event", &store.AuditEvent{}, func(r any) any { return wireEvent(*r.(*store.AuditEvent)) }, nil},
	}
	for _, tc := range tests {
		for _, filled := range []bool{false, true} {
			name := tc.name + "/empty"
			if filled {
				name = tc.name + "/full"
				fill(reflect.ValueOf(tc.rec).Elem())
			}
			t.Run(name, func(t *testing.T) {
				shown, err := json.Marshal(tc.show(tc.rec))
				if err != nil {
					t.Fatal(err)
				}
				if tc.hide != nil {
					tc.hide(tc.rec)
				}
				own, err := json.Marshal(tc.rec)
				if err != nil {
					t.Fatal(err)
				}
				if string(shown) != string(own) {
					t.Errorf("API JSON differs from the record's\n api    %s\n record %s", shown, own)
				}
			})
		}
	}
}

// fill sets every field of the struct v to a value that is not zero.
func fill(v reflect.Value) {
	for i := range v.NumField() {
		f := v.Field(i)
		switch {
		case f.Type() == reflect.TypeOf(time.Time{}):
			f.Set(reflect.ValueOf(time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)))
		case f.Kind() == reflect.String:
			f.SetString("x-" + v.Type().Field(i).Name)
		case f.Kind() == reflect.Bool:
			f.SetBool(true)
		case f.CanUint():
			f.SetUint(7)
		case f.CanInt():
			f.SetInt(7)
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Uint8:
			f.SetBytes([]byte{1, 2, 3})
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
			f.Set(reflect.ValueOf([]string{"a/#"}).Convert(f.Type()))
		case f.CanFloat():
			f.SetFloat(7.5)
		case f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Struct:
			f.Set(reflect.New(f.Type().Elem()))
			fill(f.Elem())
		case f.Kind() == reflect.Map:
			f.Set(reflect.ValueOf(map[string]string{"site": "plant-7"}).Convert(f.Type()))
		default:
			panic("fill: no value for " + f.Type().String())
		}
	}
}
