package broker

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/store"
)

// The fuzz targets feed bytes to a broker running in the test process,
// over real TLS with a registered device's certificate, exactly as a
// device's socket would. Each input is one connection: the bytes are
// written, the client closes its side, and every packet the broker sends
// back is read until it closes too. No input may make the broker panic
// (that kills the process, which the fuzzer reports) or hang (a read that
// times out fails the input).

// fuzzDevice is the device whose certificate every fuzz connection
// presents. It has no grants: its ACL is exactly devices/fz-a/#.
const fuzzDevice = "fz-a"

// fuzzWait bounds one exchange; the broker answers an input in
// milliseconds, so reaching it means the broker hangs.
const fuzzWait = 20 * time.Second

// fuzzEnv is a started broker and the credentials of its devices.
type fuzzEnv struct {
	addr   string
	device *tls.Config // fz-a, with a session cache: resumed handshakes keep inputs cheap
	conf   func(tls.Certificate) *tls.Config
	db     *store.DB
	issue  func(id string, d store.Device) tls.Certificate
}

// newFuzzEnv starts a broker over a fresh registry and CA. It lives until
// the fuzz target ends.
func newFuzzEnv(f *testing.F) *fuzzEnv {
	f.Helper()
	db, err := store.Open(filepath.Join(f.TempDir(), "r.db"), store.Options{})
	if err != nil {
		f.Fatal(err)
	}
	authority, _, err := ca.Bootstrap(f.TempDir(), ca.BootstrapOptions{})
	if err != nil {
		f.Fatal(err)
	}
	b, err := New(Config{
		Addr:             "127.0.0.1:0",
		GetCertificate:   func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return authority.ServerCertificate(), nil },
		ClientCAs:        authority.DevicePool(),
		HandshakeTimeout: 5 * time.Second,
		// Deep enough that the observer of FuzzPublish never loses a
		// message to a full queue, which would look like a dropped
		// sentinel.
		ClientWritesPending: 8192,
		Logger:              slog.New(slog.DiscardHandler),
	}, db)
	if err != nil {
		f.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		_ = b.Close()
		if err := db.Check(); err != nil {
			f.Error(err)
		}
		_ = db.Close()
	})
	e := &fuzzEnv{addr: b.Addr().String(), db: db}
	e.conf = func(cert tls.Certificate) *tls.Config {
		return &tls.Config{
			RootCAs:            authority.RootPool(),
			ServerName:         "127.0.0.1",
			Certificates:       []tls.Certificate{cert},
			ClientSessionCache: tls.NewLRUClientSessionCache(4),
		}
	}
	e.issue = func(id string, d store.Device) tls.Certificate {
		d.ID = id
		if _, err := db.CreateDevice(context.Background(), d, store.Actor{Name: "fuzz"}); err != nil {
			f.Fatal(err)
		}
		key := pki.Key(f)
		csr := pki.CSR(f, key, id)
		serial, err := db.AllocateSerial(context.Background())
		if err != nil {
			f.Fatal(err)
		}
		cert, err := authority.IssueDevice(csr, id, serial, 0)
		if err != nil {
			f.Fatal(err)
		}
		err = db.AddCertificate(context.Background(), store.Certificate{
			Serial: ca.SerialHex(cert), Fingerprint: ca.Fingerprint(cert), DeviceID: id,
			NotBefore: cert.NotBefore, NotAfter: cert.NotAfter, Attestation: store.AttestOperator, DER: cert.Raw,
		}, store.Actor{Name: "fuzz"})
		if err != nil {
			f.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
	}
	e.device = e.conf(e.issue(fuzzDevice, store.Device{}))
	return e
}

// fuzzPacket is one packet the broker sent.
type fuzzPacket struct {
	fh   packets.FixedHeader
	body []byte
}

// exchange runs one connection as fz-a: it writes stream, closes its
// sending side (TLS close_notify, which the broker reads as EOF) and
// returns what the broker sent before closing.
func (e *fuzzEnv) exchange(t *testing.T, stream []byte) []fuzzPacket {
	t.Helper()
	d := net.Dialer{Timeout: fuzzWait}
	c, err := tls.DialWithDialer(&d, "tcp", e.addr, e.device)
	if err != nil {
		t.Fatalf("TLS handshake with a valid device certificate: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(fuzzWait))
	// The broker may close early (a malformed packet); what it sent
	// before still counts, so write errors are not failures.
	if _, err := c.Write(stream); err == nil {
		_ = c.CloseWrite()
	}
	var out []fuzzPacket
	r := bufio.NewReader(c)
	for {
		p, err := readFuzzPacket(r)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the broker neither answered nor closed the connection within %s", fuzzWait)
			}
			return out
		}
		out = append(out, p)
	}
}

// readFuzzPacket reads one packet with mochi's own header decoding.
func readFuzzPacket(r *bufio.Reader) (fuzzPacket, error) {
	b, err := r.ReadByte()
	if err != nil {
		return fuzzPacket{}, err
	}
	var p fuzzPacket
	if err := p.fh.Decode(b); err != nil {
		return p, err
	}
	n, _, err := packets.DecodeLength(r)
	if err != nil {
		return p, err
	}
	p.fh.Remaining = n
	p.body = make([]byte, n)
	_, err = io.ReadFull(r, p.body)
	return p, err
}

// decodeStream decodes the packets of a client byte stream the way mochi
// reads them, up to the first one it would refuse to decode. The protocol
// version of later packets is the CONNECT's.
func decodeStream(data []byte) []packets.Packet {
	r := bufio.NewReader(bytes.NewReader(data))
	var out []packets.Packet
	version := byte(4)
	for {
		b, err := r.ReadByte()
		if err != nil {
			return out
		}
		pk := packets.Packet{ProtocolVersion: version}
		if pk.FixedHeader.Decode(b) != nil {
			return out
		}
		n, _, err := packets.DecodeLength(r)
		if err != nil || n > DefaultMaxPacketSize {
			return out
		}
		pk.FixedHeader.Remaining = n
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return out
		}
		switch pk.FixedHeader.Type {
		case packets.Connect:
			err = pk.ConnectDecode(body)
			version = pk.ProtocolVersion
		case packets.Subscribe:
			err = pk.SubscribeDecode(body)
		case packets.Publish:
			err = pk.PublishDecode(body)
		default:
			continue
		}
		if err != nil {
			return out
		}
		out = append(out, pk)
	}
}
