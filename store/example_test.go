package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

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
	d, err := db.CreateDevice(ctx, store.Device{ID: "sensor-0001", Group: "line-3"}, alice)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("registered:", d.ID, d.Status)

	serial, err := db.AllocateSerial(ctx)
	if err != nil {
		log.Fatal(err)
	}
	der := []byte("DER bytes of the certificate the CA signed")
	sum := sha256.Sum256(der)
	err = db.AddCertificate(ctx, store.Certificate{
		Serial:      serial.Text(16),
		Fingerprint: hex.EncodeToString(sum[:]),
		DeviceID:    d.ID,
		Attestation: store.AttestOperator,
		DER:         der,
	}, alice)
	if err != nil {
		log.Fatal(err)
	}

	d, err = db.SetDeviceStatus(ctx, d.ID, store.DeviceRevoked, "reported stolen", alice)
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

	events, err := db.Audit(ctx, store.AuditFilter{})
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

// ExampleDB_CompleteEnrollment enrolls a simulated device with a one-time
// token, as the enrollment API does once it has signed the device's CSR, and
// shows that the token cannot be used twice.
func ExampleDB_CompleteEnrollment() {
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
	ctx := context.Background()

	alice := store.Actor{Name: "alice"}
	if _, err := db.PutGroup(ctx, store.Group{Name: "simulators", AllowTokens: true}, alice); err != nil {
		log.Fatal(err)
	}
	tokens, err := db.CreateTokens(ctx, "simulators", 1, time.Hour, alice)
	if err != nil {
		log.Fatal(err)
	}

	// The device presents tokens[0]; the API hashes it and records the
	// certificate it issued.
	enroll := func(deviceID string) error {
		serial, err := db.AllocateSerial(ctx)
		if err != nil {
			return err
		}
		der := []byte("DER of the certificate issued to " + deviceID)
		sum := sha256.Sum256(der)
		return db.CompleteEnrollment(ctx, store.Enrollment{
			TokenHash: store.HashToken(tokens[0]),
			Device:    store.Device{ID: deviceID},
			Certificate: store.Certificate{
				Serial: serial.Text(16), Fingerprint: hex.EncodeToString(sum[:]), DER: der,
				NotBefore: time.Now(), NotAfter: time.Now().Add(90 * 24 * time.Hour),
			},
		}, store.Actor{Name: "device:" + deviceID})
	}
	fmt.Println("first use:", enroll("sim-0001"))
	fmt.Println("second use is a replay:", errors.Is(enroll("sim-0002"), store.ErrReplayed))

	d, err := db.Device(ctx, "sim-0001")
	if err != nil {
		log.Fatal(err)
	}
	certs, err := db.Certificates(ctx, d.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("device:", d.ID, d.Group, d.Status, "certificate:", certs[0].Attestation)
	// Output:
	// first use: <nil>
	// second use is a replay: true
	// device: sim-0001 simulators active certificate: token
}
