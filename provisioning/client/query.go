package client

import (
	"time"

	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// DeviceFilter narrows Devices; empty fields match everything.
type DeviceFilter struct {
	Status wire.DeviceStatus
	Group  string
}

// AuditQuery narrows Audit; zero fields match everything.
type AuditQuery struct {
	Target string
	Action string
	Since  time.Time
	Limit  int
	// After, when set, pages forward: the first Limit events whose
	// sequence number is above After.
	After *uint64
}
