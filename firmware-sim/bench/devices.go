package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"sync"

	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/enroll"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// device is one enrolled bench device: its ID (the MQTT client ID the
// broker binds to its certificate) and its TLS client configuration.
type device struct {
	id  string
	tls *tls.Config
}

// enrollDevices enrolls n devices through the server's token enrollment, as
// the agent does (fresh P-256 key, CSR, one-time token), concurrently.
func enrollDevices(ctx context.Context, admin *client.Client, api string, roots *x509.CertPool, n int, prefix string) ([]device, error) {
	const group, batch, workers = "bench", 1000, 8
	if _, err := admin.PutGroup(ctx, group, wire.GroupRequest{AllowTokens: true}); err != nil {
		return nil, fmt.Errorf("%w: group: %w", ErrContender, err)
	}
	var tokens []string
	for len(tokens) < n {
		out, err := admin.CreateTokens(ctx, wire.CreateTokensRequest{Group: group, Count: min(batch, n-len(tokens)), TTL: "1h"})
		if err != nil {
			return nil, fmt.Errorf("%w: tokens: %w", ErrContender, err)
		}
		tokens = append(tokens, out.Tokens...)
	}
	ec := enroll.New(api, roots)
	defer ec.CloseIdleConnections()
	devs := make([]device, n)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				d, err := enrollOne(ctx, ec, roots, fmt.Sprintf("%s%06d", prefix, i), tokens[i])
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					continue
				}
				devs[i] = d
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return nil, fmt.Errorf("%w: enrollment: %w", ErrContender, err)
	default:
	}
	return devs, nil
}

func enrollOne(ctx context.Context, ec *enroll.Client, roots *x509.CertPool, id, token string) (device, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return device{}, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: id}}, key)
	if err != nil {
		return device{}, err
	}
	issued, err := ec.EnrollToken(ctx, wire.TokenRequest{Token: token, DeviceID: id,
		CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}))})
	if err != nil {
		return device{}, err
	}
	var cert tls.Certificate
	for rest := []byte(issued.Chain); ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		cert.Certificate = append(cert.Certificate, blk.Bytes)
	}
	cert.PrivateKey = key
	return device{id: id, tls: &tls.Config{
		RootCAs:      roots,
		ServerName:   "127.0.0.1",
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	}}, nil
}
