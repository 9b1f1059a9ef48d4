package store

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/fleetgate/fleetgate/store/kv"
)

// Bounds of one DevicePage call.
const (
	// DefaultPageSize is the page size when DeviceQuery.Limit is 0.
	DefaultPageSize = 50
	// MaxPageSize is the largest page a query may ask for.
	MaxPageSize = 200
	// MaxPageScan is how many devices one page may read before it returns
	// what it found, so that a filter matching few devices in a large
	// fleet costs a bounded time per page instead of a scan of the whole
	// registry. The caller continues from Next.
	MaxPageScan = 5000
)

// DeviceQuery selects one page of devices in ID order.
type DeviceQuery struct {
	DeviceFilter
	// Search keeps devices whose ID contains it, or whose group or a
	// metadata value equals it.
	Search string
	// After is the cursor: the page starts at the first ID after it.
	After string
	// Limit is the page size: 0 means DefaultPageSize, at most MaxPageSize.
	Limit int
	// Match, when set, is one more condition a device must meet (the
	// console's "connected" filter, known only to the broker).
	Match func(Device) bool
}

// DevicePage is one page of a DeviceQuery.
type DevicePage struct {
	Devices []Device
	// Next is the cursor of the following page; empty when the registry
	// holds no more devices after this page.
	Next string
	// Scanned is how many devices the page read.
	Scanned int

	last string // ID of the last device read
}

// DevicesPage returns one page of the devices matching q. It seeks to the
// cursor instead of reading from the start, and stops after Limit matches
// or MaxPageScan devices read; a short page with a Next means the scan
// bound was reached, not the end.
func (db *DB) DevicesPage(ctx context.Context, q DeviceQuery) (DevicePage, error) {
	switch q.Status {
	case "", DeviceActive, DeviceSuspended, DeviceRevoked:
	default:
		return DevicePage{}, fmt.Errorf("%w: unknown device status %q in filter", ErrInvalid, q.Status)
	}
	switch {
	case q.Limit < 0 || q.Limit > MaxPageSize:
		return DevicePage{}, fmt.Errorf("%w: page size %d: want 1 to %d", ErrInvalid, q.Limit, MaxPageSize)
	case q.Limit == 0:
		q.Limit = DefaultPageSize
	}
	from := []byte(q.After + "\x00") // the smallest key after After
	if q.After == "" {
		from = nil
	}
	page := DevicePage{Devices: []Device{}}
	err := db.viewLocal(ctx, func(tx kv.Tx) error {
		page = DevicePage{Devices: []Device{}}
		return tx.Bucket(bucketDevices).Ascend(from, func(k, v []byte) (bool, error) {
			if page.Scanned == MaxPageScan || len(page.Devices) == q.Limit {
				page.Next = page.lastKey(q.After)
				return false, nil
			}
			page.Scanned++
			id := string(k)
			page.last = id
			if !q.mayMatch(id, v) {
				return true, nil // cheap reject before decoding
			}
			var d Device
			if err := decode(v, &d); err != nil {
				return false, fmt.Errorf("device %q: %w", k, err)
			}
			if q.matches(d) {
				page.Devices = append(page.Devices, d)
			}
			return true, nil
		})
	})
	if err != nil {
		return DevicePage{}, err
	}
	return page, nil
}

// lastKey is the cursor after the last device the page read.
func (p *DevicePage) lastKey(after string) string {
	if p.last == "" {
		return after
	}
	return p.last
}

// mayMatch rejects, on the stored bytes, devices that cannot match, so
// that a filter matching few devices decodes only those. The stored JSON
// writes "status":"<state>" and "group":"<name>" literally (neither can
// hold a character JSON escapes), and a quote inside any string value is
// escaped, so no other field can contain these byte sequences.
func (q *DeviceQuery) mayMatch(id string, v []byte) bool {
	if q.Status != "" && !bytes.Contains(v, []byte(`"status":"`+string(q.Status)+`"`)) {
		return false
	}
	if q.Group != "" && !bytes.Contains(v, []byte(`"group":"`+q.Group+`"`)) {
		return false
	}
	if q.Search == "" || strings.Contains(id, q.Search) {
		return true
	}
	// A search holding a character JSON escapes ('"', '\\', '<', '>',
	// '&', controls, non-ASCII) may match a value only once decoded.
	return !plainJSON(q.Search) || bytes.Contains(v, []byte(q.Search))
}

// plainJSON reports whether JSON writes s byte for byte.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || strings.IndexByte(`"\<>&`, c) >= 0 {
			return false
		}
	}
	return true
}

// matches applies the query's conditions to a decoded device.
func (q *DeviceQuery) matches(d Device) bool {
	if q.Status != "" && d.Status != q.Status || q.Group != "" && d.Group != q.Group {
		return false
	}
	if q.Search != "" && !strings.Contains(d.ID, q.Search) && d.Group != q.Search && !hasValue(d.Metadata, q.Search) {
		return false
	}
	return q.Match == nil || q.Match(d)
}

func hasValue(m map[string]string, v string) bool {
	for _, x := range m {
		if x == v {
			return true
		}
	}
	return false
}
