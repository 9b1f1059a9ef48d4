package store

import (
	"errors"
	"fmt"
	"strings"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/store/kv"
)

// Selection names what one bulk revocation (RevokeBulk) takes. Exactly one
// field is set.
type Selection struct {
	// Group: every device whose Device.Group is this name.
	Group string
	// Devices: these devices; an ID given twice counts once.
	Devices []string
	// IssuerKeyID: every certificate signed by the CA with this key
	// identifier (lower-case hex of the CA certificate's SubjectKeyId; see
	// IssuerKeyOf). The devices keep their status.
	IssuerKeyID string
}

// maxNamed bounds the unknown device IDs an error lists.
const maxNamed = 10

// String names the selection in the audit log: group:<name>,
// devices:<count> or issuer:<key ID>.
func (s Selection) String() string {
	switch {
	case s.Group != "":
		return "group:" + s.Group
	case s.IssuerKeyID != "":
		return "issuer:" + s.IssuerKeyID
	}
	return fmt.Sprintf("devices:%d", len(s.Devices))
}

// validate checks that exactly one field is set and well formed.
func (s Selection) validate() error {
	set := 0
	for _, on := range []bool{s.Group != "", len(s.Devices) > 0, s.IssuerKeyID != ""} {
		if on {
			set++
		}
	}
	if set != 1 {
		return fmt.Errorf("%w: a bulk revocation selects by exactly one of group, device list or issuer (got %d)", ErrInvalid, set)
	}
	if s.Group != "" {
		if err := identity.ValidateID(s.Group); err != nil {
			return fmt.Errorf("%w: group name: %w", ErrInvalid, err)
		}
	}
	for i, id := range s.Devices {
		if err := identity.ValidateID(id); err != nil {
			return fmt.Errorf("%w: device %d of the list: %w", ErrInvalid, i+1, err)
		}
	}
	if s.IssuerKeyID != "" && !isLowerHex(s.IssuerKeyID) {
		return fmt.Errorf("%w: issuer key ID %q is not lower-case hex", ErrInvalid, s.IssuerKeyID)
	}
	return nil
}

// planned is one device or certificate a bulk revocation will write, as
// the check saw it.
type planned struct {
	key     string   // device ID or certificate serial
	revoked bool     // already revoked when checked
	cost    int      // operations of its transaction share (etcd)
	certs   []string // a device's certificate serials when checked, in index order
}

// planDevices reads the devices sel names, with the number of certificates
// each holds, refusing an unknown group or unknown IDs. Nothing is written.
func planDevices(tx kv.Tx, sel Selection) ([]planned, error) {
	var plan []planned
	index := make(map[string]int) // device ID -> position in plan
	add := func(d Device) {
		index[d.ID] = len(plan)
		plan = append(plan, planned{key: d.ID, revoked: d.Status == DeviceRevoked, cost: 2})
	}
	if sel.Group != "" {
		err := tx.Bucket(bucketDevices).ForEach(func(k, v []byte) error {
			var d Device
			if err := decode(v, &d); err != nil {
				return fmt.Errorf("device %q: %w", k, err)
			}
			if d.Group == sel.Group {
				add(d)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(plan) == 0 {
			if _, err := getGroup(tx, sel.Group); err != nil {
				return nil, fmt.Errorf("%w; no device names it either", err)
			}
		}
	} else {
		var unknown []string
		for _, id := range sel.Devices {
			if _, dup := index[id]; dup {
				continue
			}
			d, err := getDevice(tx, id)
			switch {
			case errors.Is(err, ErrNotFound):
				unknown = append(unknown, id)
				continue
			case err != nil:
				return nil, err
			}
			add(d)
		}
		if len(unknown) > 0 {
			named := unknown[:min(len(unknown), maxNamed)]
			more := ""
			if len(unknown) > len(named) {
				more = fmt.Sprintf(" and %d more", len(unknown)-len(named))
			}
			return nil, fmt.Errorf("%w: %d of %d devices are not registered: %s%s", ErrNotFound, len(unknown), len(sel.Devices), strings.Join(named, ", "), more)
		}
	}
	// One pass over the index: each certificate adds a read and a write.
	err := tx.Bucket(bucketCertsByDevice).ForEach(func(k, _ []byte) error {
		id, serial, _ := strings.Cut(string(k), "/")
		if i, ok := index[id]; ok {
			plan[i].cost++
			plan[i].certs = append(plan[i].certs, serial)
		}
		return nil
	})
	return plan, err
}

// planIssued reads the certificates signed under sel.IssuerKeyID and
// counts those whose issuer the registry cannot tell (no key ID, no DER).
// No match at all is ErrNotFound: the key ID is most likely wrong.
func planIssued(tx kv.Tx, sel Selection) (plan []planned, unknown int, err error) {
	der := tx.Bucket(bucketCertDER)
	err = tx.Bucket(bucketCerts).ForEach(func(k, v []byte) error {
		var c Certificate
		if err := decode(v, &c); err != nil {
			return fmt.Errorf("certificate %q: %w", k, err)
		}
		if c.IssuerKeyID == "" {
			c.DER = der.Get(k) // a record older than the field
		}
		switch IssuerKeyOf(c) {
		case sel.IssuerKeyID:
			plan = append(plan, planned{key: c.Serial, revoked: c.Status == CertRevoked, cost: 1})
		case "":
			unknown++
		}
		return nil
	})
	if err == nil && len(plan) == 0 {
		err = fmt.Errorf("%w: no certificate in the registry was issued under key ID %s", ErrNotFound, sel.IssuerKeyID)
	}
	return plan, unknown, err
}

// split cuts plan into consecutive parts whose costs add up to at most
// budget each (0: one part). An item costlier than budget gets a part of
// its own. There is always at least one part, so that even an empty
// selection records its audit event.
func split(plan []planned, budget int) [][]planned {
	if budget <= 0 || len(plan) == 0 {
		return [][]planned{plan}
	}
	var parts [][]planned
	start, sum := 0, 0
	for i, p := range plan {
		c := min(p.cost, budget)
		if sum+c > budget {
			parts = append(parts, plan[start:i])
			start, sum = i, 0
		}
		sum += c
	}
	return append(parts, plan[start:])
}
