package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// Audit returns the audit events matching q, oldest first.
func (c *Client) Audit(ctx context.Context, q AuditQuery) ([]wire.AuditEvent, error) {
	v := url.Values{}
	if q.Target != "" {
		v.Set("target", q.Target)
	}
	if q.Action != "" {
		v.Set("action", q.Action)
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.Format(time.RFC3339Nano))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.After != nil {
		v.Set("after", strconv.FormatUint(*q.After, 10))
	}
	var list wire.AuditList
	err := c.do(ctx, http.MethodGet, wire.PathAudit, v, nil, &list, http.StatusOK)
	return list.Events, err
}

// CA returns the public trust material: the current root, the roots in
// force (both during a root rollover) and the device CA chain.
// The route needs no operator certificate.
func (c *Client) CA(ctx context.Context) (wire.CABundle, error) {
	var out wire.CABundle
	err := c.do(ctx, http.MethodGet, wire.PathCA, nil, nil, &out, http.StatusOK)
	return out, err
}
