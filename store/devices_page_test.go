package store

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// pageIDs returns the IDs of a page.
func pageIDs(p DevicePage) []string {
	ids := make([]string, len(p.Devices))
	for i, d := range p.Devices {
		ids[i] = d.ID
	}
	return ids
}

func TestDevicesPage(t *testing.T) {
	db := openTestDB(t)
	ctx := t.Context()
	var all []string
	for i := range 12 {
		id := fmt.Sprintf("dev-%02d", i)
		group := "even"
		if i%2 == 1 {
			group = "odd"
		}
		if _, err := db.CreateDevice(ctx, Device{ID: id, Group: group, Metadata: map[string]string{"site": fmt.Sprintf("plant-%d", i%3)}}, operator); err != nil {
			t.Fatal(err)
		}
		all = append(all, id)
	}
	if _, err := db.SetDeviceStatus(ctx, "dev-03", DeviceSuspended, "test", operator); err != nil {
		t.Fatal(err)
	}

	t.Run("ok/cursor walks every device once", func(t *testing.T) {
		var got []string
		after := ""
		for range 10 {
			p, err := db.DevicesPage(ctx, DeviceQuery{After: after, Limit: 5})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, pageIDs(p)...)
			if p.Next == "" {
				break
			}
			after = p.Next
		}
		if !slices.Equal(got, all) {
			t.Fatalf("paged IDs %v, want %v", got, all)
		}
	})
	t.Run("ok/filters", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			q    DeviceQuery
			want []string
		}{
			{"status", DeviceQuery{DeviceFilter: DeviceFilter{Status: DeviceSuspended}}, []string{"dev-03"}},
			{"group", DeviceQuery{DeviceFilter: DeviceFilter{Group: "odd"}, Limit: 3}, []string{"dev-01", "dev-03", "dev-05"}},
			{"search id", DeviceQuery{Search: "-1"}, []string{"dev-10", "dev-11"}},
			{"search metadata", DeviceQuery{Search: "plant-2", Limit: 2}, []string{"dev-02", "dev-05"}},
			{"match", DeviceQuery{Match: func(d Device) bool { return d.ID == "dev-07" }}, []string{"dev-07"}},
		} {
			p, err := db.DevicesPage(ctx, tt.q)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if got := pageIDs(p); !slices.Equal(got, tt.want) {
				t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
			}
		}
	})
	t.Run("ok/last page has no cursor", func(t *testing.T) {
		p, err := db.DevicesPage(ctx, DeviceQuery{After: "dev-09"})
		if err != nil {
			t.Fatal(err)
		}
		if got := pageIDs(p); !slices.Equal(got, []string{"dev-10", "dev-11"}) || p.Next != "" {
			t.Fatalf("page after dev-09: %v next %q", got, p.Next)
		}
	})
	t.Run("error/bad query", func(t *testing.T) {
		for _, q := range []DeviceQuery{{Limit: MaxPageSize + 1}, {Limit: -1}, {DeviceFilter: DeviceFilter{Status: "gone"}}} {
			if _, err := db.DevicesPage(ctx, q); !errors.Is(err, ErrInvalid) {
				t.Errorf("DevicesPage(%+v) = %v, want ErrInvalid", q, err)
			}
		}
	})
}

// TestDevicesPageScanBound proves that a filter matching nothing returns
// after MaxPageScan devices with a cursor to go on from.
func TestDevicesPageScanBound(t *testing.T) {
	db := openTestDB(t)
	ctx := t.Context()
	n := MaxPageScan + 10
	devices := make([]Device, n)
	for i := range devices {
		devices[i] = Device{ID: fmt.Sprintf("d%05d", i)}
	}
	if _, _, err := db.ImportDevices(ctx, devices, operator); err != nil {
		t.Fatal(err)
	}
	p, err := db.DevicesPage(ctx, DeviceQuery{Search: "no-such"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Devices) != 0 || p.Scanned != MaxPageScan || p.Next != fmt.Sprintf("d%05d", MaxPageScan-1) {
		t.Fatalf("first page: %d devices, scanned %d, next %q", len(p.Devices), p.Scanned, p.Next)
	}
	p, err = db.DevicesPage(ctx, DeviceQuery{Search: "no-such", After: p.Next})
	if err != nil || p.Scanned != 10 || p.Next != "" {
		t.Fatalf("second page: %+v, %v", p, err)
	}
}

func TestDeviceCounts(t *testing.T) {
	db := openTestDB(t)
	for _, id := range []string{"a", "b", "c", "d"} {
		mustDevice(t, db, id)
	}
	if _, err := db.SetDeviceStatus(t.Context(), "b", DeviceSuspended, "test", operator); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SetDeviceStatus(t.Context(), "c", DeviceRevoked, "test", operator); err != nil {
		t.Fatal(err)
	}
	got, err := db.DeviceCounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := map[DeviceStatus]int{DeviceActive: 2, DeviceSuspended: 1, DeviceRevoked: 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("DeviceCounts = %v, want %v", got, want)
	}
}

// TestDevicesPageEscapedSearch proves the byte-level pre-filter does not
// lose a metadata value that JSON stores escaped.
func TestDevicesPageEscapedSearch(t *testing.T) {
	db := openTestDB(t)
	for id, v := range map[string]string{"x1": `a&b<c>"d"`, "x2": "Zürich", "x3": "plain"} {
		if _, err := db.CreateDevice(t.Context(), Device{ID: id, Metadata: map[string]string{"k": v}}, operator); err != nil {
			t.Fatal(err)
		}
	}
	for search, want := range map[string]string{`a&b<c>"d"`: "x1", "Zürich": "x2", "plain": "x3"} {
		p, err := db.DevicesPage(t.Context(), DeviceQuery{Search: search})
		if err != nil || len(p.Devices) != 1 || p.Devices[0].ID != want {
			t.Errorf("search %q: %v, %v; want %s", search, pageIDs(p), err, want)
		}
	}
}
