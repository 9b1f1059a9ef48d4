package broker_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/fleetgate/fleetgate/broker"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/store"
)

// A registry, a CA, a broker, and one registered device connecting with
// its certificate and publishing in its own namespace.
func Example() {
	dir, _ := os.MkdirTemp("", "fleetgate-example")
	defer os.RemoveAll(dir)
	reg, err := store.Open(filepath.Join(dir, "registry.db"), store.Options{})
	if err != nil {
		panic(err)
	}
	defer reg.Close()
	authority, _, err := ca.Bootstrap(filepath.Join(dir, "ca"), ca.BootstrapOptions{})
	if err != nil {
		panic(err)
	}

	b, err := broker.New(broker.Config{
		Addr:           "127.0.0.1:0",
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return authority.ServerCertificate(), nil },
		ClientCAs:      authority.DevicePool(),
	}, reg)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := b.Start(ctx); err != nil {
		panic(err)
	}
	defer b.Close()

	// Register a device and issue its certificate.
	by := store.Actor{Name: "example"}
	if _, err := reg.CreateDevice(ctx, store.Device{ID: "thermostat-1"}, by); err != nil {
		panic(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csrDER, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	csr, _ := x509.ParseCertificateRequest(csrDER)
	serial, _ := reg.AllocateSerial(ctx)
	cert, err := authority.IssueDevice(csr, "thermostat-1", serial, 0)
	if err != nil {
		panic(err)
	}
	err = reg.AddCertificate(ctx, store.Certificate{
		Serial: ca.SerialHex(cert), Fingerprint: ca.Fingerprint(cert), DeviceID: "thermostat-1",
		NotBefore: cert.NotBefore, NotAfter: cert.NotAfter, Attestation: store.AttestOperator,
	}, by)
	if err != nil {
		panic(err)
	}

	// The device connects with its certificate; its client ID is its ID.
	got := make(chan string, 1)
	c := paho.NewClient(paho.NewClientOptions().
		AddBroker("ssl://" + b.Addr().String()).
		SetClientID("thermostat-1").
		SetTLSConfig(&tls.Config{
			RootCAs:      authority.RootPool(),
			Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key}},
		}))
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		panic(tok.Error())
	}
	defer c.Disconnect(0)
	c.Subscribe("devices/thermostat-1/#", 1, func(_ paho.Client, m paho.Message) { got <- string(m.Payload()) }).Wait()
	c.Publish("devices/thermostat-1/temperature", 1, false, "21.5").Wait()
	fmt.Println("connected:", b.Connected("thermostat-1"))
	fmt.Println("received:", <-got)

	// Outside its namespace, the device may not subscribe.
	tok := c.Subscribe("devices/#", 1, nil)
	tok.Wait()
	fmt.Printf("devices/#: SUBACK %#x\n", tok.(*paho.SubscribeToken).Result()["devices/#"])
	// Output:
	// connected: true
	// received: 21.5
	// devices/#: SUBACK 0x80
}
