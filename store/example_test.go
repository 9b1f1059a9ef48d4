package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/fleetgate/fleetgate/store"
)

// Example registers a device, records a certificate for it, revokes the
// device and follows the change feed as a broker would.
func Example() {
	dir, err := os.MkdirTemp("", "fleetgate-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := store.Open(filepath.Join(dir, "registry.db"), store.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changes := db.Watch(ctx)

	alice := store.Actor{Name: "alice", Remote: "192.0.2.10:51234"}
	d, err := db.CreateDevice(store.Device{ID: "sensor-0001", Group: "line-3"}, alice)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("registered:", d.ID, d.Status)

	serial, err := db.AllocateSerial()
	if err != nil {
		log.Fatal(err)
	}
	der := []byte("DER bytes of the certificate the CA signed")
	sum := sha256.Sum256(der)
	err = db.AddCertificate(store.Certificate{
		Serial:      serial.Text(16),
		Fingerprint: hex.EncodeToString(sum[:]),
		DeviceID:    d.ID,
		Attestation: store.AttestOperator,
		DER:         der,
	}, alice)
	if err != nil {
		log.Fatal(err)
	}

	d, err = db.SetDeviceStatus(d.ID, store.DeviceRevoked, "reported stolen", alice)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("revoked:", d.ID, d.Status, d.Reason)

	// The broker drops sessions on these events.
	for range 2 {
		c := <-changes
		switch c.Kind {
		case store.ChangeDevice:
			fmt.Println("change: device", c.DeviceID, c.DeviceStatus)
		case store.ChangeCert:
			fmt.Println("change: certificate of", c.DeviceID, c.CertStatus, c.Serial == serial.Text(16))
		}
	}

	events, err := db.Audit(store.AuditFilter{})
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range events {
		fmt.Println("audit:", e.Actor, e.Action)
	}
	// Output:
	// registered: sensor-0001 active
	// revoked: sensor-0001 revoked reported stolen
	// change: device sensor-0001 revoked
	// change: certificate of sensor-0001 revoked true
	// audit: alice device.register
	// audit: alice cert.issue
	// audit: alice device.revoke
	// audit: alice cert.revoke
}
