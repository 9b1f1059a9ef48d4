package server

import (
	"strings"
	"testing"
)

func TestParseRegistry(t *testing.T) {
	for _, tt := range []struct {
		raw, want, err string
	}{
		{raw: "", want: "data/registry.db"},
		{raw: "bolt://reg/fleet.db", want: "reg/fleet.db"},
		{raw: "bolt:///var/lib/fleetgate/registry.db", want: "/var/lib/fleetgate/registry.db"},
		{raw: "etcd://10.0.0.1:2379,10.0.0.2:2379", want: "etcd://10.0.0.1:2379,10.0.0.2:2379/fleetgate"},
		{raw: "etcd://127.0.0.1:2379/plant-4", want: "etcd://127.0.0.1:2379/plant-4"},
		{raw: "etcd://127.0.0.1", err: "want host:port"},
		{raw: "etcd://a:1,,b:2", err: "want host:port"},
		{raw: "bolt://", err: "no file"},
		{raw: "redis://x:1", err: "unknown scheme"},
		{raw: "data/registry.db", err: "want bolt://FILE"},
	} {
		got, err := parseRegistry(tt.raw, "data")
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("parseRegistry(%q) = %v, want an error with %q", tt.raw, err, tt.err)
		case tt.err == "" && (err != nil || got.String() != tt.want):
			t.Errorf("parseRegistry(%q) = %q, %v; want %q", tt.raw, got.String(), err, tt.want)
		}
	}
}

func TestRoleNeedsSharedRegistry(t *testing.T) {
	for _, tt := range []struct {
		role, registry, err string
	}{
		{role: "all"},
		{role: "broker", registry: "etcd://127.0.0.1:2379"},
		{role: "api", registry: "etcd://127.0.0.1:2379"},
		{role: "broker", err: "needs a registry shared"},
		{role: "api", registry: "bolt://x.db", err: "needs a registry shared"},
		{role: "both", err: "must be all, broker or api"},
	} {
		c := DefaultConfig()
		c.Role, c.Registry = tt.role, tt.registry
		err := c.Validate()
		if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("role %s registry %q: Validate = %v, want %q", tt.role, tt.registry, err, tt.err)
		}
	}
	c := DefaultConfig()
	c.Role, c.Registry, c.MQTTAddr = RoleAPI, "etcd://127.0.0.1:2379", ""
	if err := c.Validate(); err != nil {
		t.Errorf("role api without mqtt_addr: %v", err)
	}
	c.EtcdCert = "client.crt"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "etcd_cert and etcd_key") {
		t.Errorf("etcd_cert without etcd_key: %v", err)
	}
}
