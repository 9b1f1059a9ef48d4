package store

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/fleetgate/fleetgate/store/kv"
)

// BulkResult counts what one RevokeBulk did. For a device selection the
// first three count devices; for an issuer selection, certificates.
type BulkResult struct {
	Selected       int `json:"selected"`        // what the selection names
	Revoked        int `json:"revoked"`         // revoked by this call
	AlreadyRevoked int `json:"already_revoked"` // revoked before this call
	Certificates   int `json:"certificates"`    // certificates revoked by this call
}

// RevokeBulk revokes, with one reason, every device of a group or of a
// list (each with its certificates, as SetDeviceStatus does) or every
// certificate issued under one CA key (the devices keep their status).
//
// All or nothing: the whole selection is checked before anything is
// written. An unknown group (no record and no device naming it) gives
// ErrNotFound; so do unknown device IDs, which the error names, and an
// issuer key under which no certificate was recorded. It records one
// "devices.revoke_bulk" or "certs.revoke_bulk" audit event with the
// counts, and no per-device events. Repeating it is harmless: it revokes
// nothing new, reports what was already revoked and records that too.
// Every device and certificate it revokes reaches the change feed.
//
// On etcd, whose transactions are bounded, the selection is written in
// parts after the check; the audit event goes with the first part. Should
// a later part fail, running the same revocation again completes it.
func (db *DB) RevokeBulk(ctx context.Context, sel Selection, reason string, by Actor) (BulkResult, error) {
	if err := sel.validate(); err != nil {
		return BulkResult{}, err
	}
	if strings.TrimSpace(reason) == "" {
		return BulkResult{}, fmt.Errorf("%w: a bulk revocation needs a reason", ErrInvalid)
	}
	budget := 0 // operations per transaction; 0: no bound
	if limit := db.txnLimit(); limit > 0 {
		budget = max(4, limit-8) // the audit event reads one key and writes two
	}
	var plan []planned
	unknown := 0
	err := db.view(ctx, func(tx kv.Tx) error {
		var err error
		if sel.IssuerKeyID != "" {
			plan, unknown, err = planIssued(tx, sel)
		} else {
			plan, err = planDevices(tx, sel)
		}
		return err
	})
	if err != nil {
		return BulkResult{}, err
	}
	w := bulkWrite{db: db, sel: sel, reason: reason, by: by, perDevice: max(1, budget-2), parts: split(plan, budget)}
	if budget == 0 {
		w.perDevice = 0
	}
	res, err := w.run(ctx)
	if err != nil {
		return res, err
	}
	res.Selected = len(plan)
	if unknown > 0 {
		db.log.Warn("certificates without a recorded issuer were left out of the bulk revocation", "count", unknown, "selection", sel.String())
	}
	db.log.Info("bulk revocation", "selection", sel.String(), "selected", res.Selected, "revoked", res.Revoked,
		"already_revoked", res.AlreadyRevoked, "certificates", res.Certificates, "reason", reason, "actor", by.Name)
	return res, nil
}

// bulkWrite writes a checked bulk revocation, part by part.
type bulkWrite struct {
	db        *DB
	sel       Selection
	reason    string
	by        Actor
	perDevice int // certificates of one device in one transaction; 0: all
	parts     [][]planned
}

// bulkParallel is how many parts of a bulk revocation are in flight at
// once where the backend allows it (etcd): a part's commit waits on round
// trips and on the cluster's disk more than on this process, and on a busy
// host each round trip also waits to be scheduled.
const bulkParallel = 8

// run writes every part, then the certificates of devices whose cascade
// did not fit their part. The first part, which carries the audit event,
// commits alone; the others go bulkParallel at a time where the backend
// lets this process commit side by side (updateUnordered). Parts name
// disjoint devices, so their order does not matter.
func (w *bulkWrite) run(ctx context.Context) (BulkResult, error) {
	var (
		mu    sync.Mutex
		total BulkResult
		cut   = make(map[string]string) // device ID -> last serial looked at
	)
	write := func(ctx context.Context, i int, update func(context.Context, func(kv.Tx) ([]Change, error)) error) error {
		var res BulkResult
		var partCut map[string]string
		err := w.db.essential(ctx, update, func(tx kv.Tx) ([]Change, error) {
			var changes []Change
			var err error
			res, partCut, changes, err = w.apply(tx, w.parts[i])
			if err != nil || i > 0 {
				return changes, err
			}
			return changes, w.audit(tx, res)
		})
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		total.Revoked += res.Revoked
		total.AlreadyRevoked += res.AlreadyRevoked
		total.Certificates += res.Certificates
		for id, last := range partCut {
			cut[id] = last
		}
		return nil
	}
	if len(w.parts) > 0 {
		if err := write(ctx, 0, w.db.update); err != nil {
			return total, err
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(bulkParallel)
	for i := 1; i < len(w.parts); i++ {
		g.Go(func() error { return write(gctx, i, w.db.updateUnordered) })
	}
	if err := g.Wait(); err != nil {
		return total, err
	}
	for id, last := range cut {
		rest, err := w.db.finishCascade(ctx, id, w.by, w.perDevice, last, false)
		total.Certificates += len(rest)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// apply revokes one part inside tx, from what tx reads: a retried
// transaction starts afresh.
func (w *bulkWrite) apply(tx kv.Tx, part []planned) (res BulkResult, cut map[string]string, changes []Change, err error) {
	now := w.db.clock()
	if err := w.prefetch(tx, part); err != nil {
		return res, nil, nil, err
	}
	if w.sel.IssuerKeyID != "" {
		for _, p := range part {
			c, revoked, err := revokeCertRecord(tx, p.key, w.reason, now)
			if err != nil {
				return res, nil, nil, err
			}
			if !revoked {
				res.AlreadyRevoked++
				continue
			}
			res.Revoked++
			changes = append(changes, certChanges(c.DeviceID, []string{c.Serial}, now)...)
		}
		res.Certificates = res.Revoked
		return res, nil, changes, nil
	}
	cut = make(map[string]string)
	for _, p := range part {
		d, err := getDevice(tx, p.key)
		if err != nil {
			return res, nil, nil, err
		}
		if d.Status == DeviceRevoked {
			res.AlreadyRevoked++ // its certificates still follow: a cascade cut short completes
		} else {
			d.Status, d.UpdatedAt, d.Reason = DeviceRevoked, now, w.reason
			if err := putJSON(tx.Bucket(bucketDevices), []byte(d.ID), d); err != nil {
				return res, nil, nil, err
			}
			changes = append(changes, Change{Kind: ChangeDevice, DeviceID: d.ID, DeviceStatus: DeviceRevoked, Time: now})
			res.Revoked++
		}
		serials, last, err := w.db.revokeDeviceCerts(tx, d.ID, d.Reason, now, nil, w.perDevice, "")
		if err != nil {
			return res, nil, nil, err
		}
		if last != "" {
			cut[d.ID] = last
		}
		res.Certificates += len(serials)
		changes = append(changes, certChanges(d.ID, serials, now)...)
	}
	return res, cut, changes, nil
}

// prefetch reads, where the backend can, what apply reads of part in one
// request or a few rather than one per key: on etcd the devices, their
// certificate index entries and the certificates the check saw. apply then
// reads them as before, from memory, with the same checks at commit; what
// changed since the check (a certificate added meanwhile) it reads itself.
func (w *bulkWrite) prefetch(tx kv.Tx, part []planned) error {
	p, ok := tx.(kv.Prefetcher)
	if !ok || len(part) == 0 {
		return nil
	}
	keys := make([][]byte, len(part))
	for i, item := range part {
		keys[i] = []byte(item.key)
	}
	if w.sel.IssuerKeyID != "" {
		return p.Prefetch(kv.Fetch{Bucket: bucketCerts, Keys: keys})
	}
	prefixes := make([][]byte, len(part))
	var serials [][]byte
	for i, item := range part {
		prefixes[i] = indexPrefix(item.key)
		certs := item.certs
		if w.perDevice > 0 && len(certs) > w.perDevice {
			certs = certs[:w.perDevice] // as many as one transaction looks at
		}
		for _, serial := range certs {
			serials = append(serials, []byte(serial))
		}
	}
	return p.Prefetch(
		kv.Fetch{Bucket: bucketDevices, Keys: keys},
		kv.Fetch{Bucket: bucketCertsByDevice, Prefixes: prefixes},
		kv.Fetch{Bucket: bucketCerts, Keys: serials})
}

// audit records the one event of the revocation with the first part. The
// counts of later parts come from the check; on bbolt there is one part.
func (w *bulkWrite) audit(tx kv.Tx, first BulkResult) error {
	revoked, already := first.Revoked, first.AlreadyRevoked
	selected := 0
	for i, part := range w.parts {
		selected += len(part)
		if i == 0 {
			continue
		}
		for _, p := range part {
			if p.revoked {
				already++
			} else {
				revoked++
			}
		}
	}
	action, target := "devices.revoke_bulk", w.sel.Group
	switch {
	case w.sel.IssuerKeyID != "":
		action, target = "certs.revoke_bulk", w.sel.IssuerKeyID
	case w.sel.Group == "":
		target = "devices"
	}
	detail := fmt.Sprintf("selector=%s selected=%d revoked=%d already_revoked=%d reason=%q", w.sel, selected, revoked, already, w.reason)
	if len(w.parts) > 1 {
		detail += fmt.Sprintf(" parts=%d", len(w.parts))
	}
	if w.sel.IssuerKeyID == "" && len(w.parts) == 1 {
		detail += fmt.Sprintf(" certificates=%d", first.Certificates)
	}
	return w.db.appendAudit(tx, action, target, detail, w.by)
}
