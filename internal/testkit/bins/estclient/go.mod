module github.com/fleetgate/fleetgate/internal/testkit/bins/estclient

go 1.26.8

tool github.com/globalsign/est/cmd/estclient

require (
	github.com/ThalesIgnite/crypto11 v1.2.1 // indirect
	github.com/globalsign/est v1.0.6 // indirect
	github.com/globalsign/pemfile v1.0.0 // indirect
	github.com/globalsign/tpmkeys v1.0.3 // indirect
	github.com/go-chi/chi v4.1.2+incompatible // indirect
	github.com/google/go-tpm v0.3.2 // indirect
	github.com/miekg/pkcs11 v1.0.3-0.20190429190417-a667d056470f // indirect
	github.com/pkg/errors v0.8.1 // indirect
	github.com/thales-e-security/pool v0.0.1 // indirect
	go.mozilla.org/pkcs7 v0.0.0-20200128120323-432b2356ecb1 // indirect
	golang.org/x/crypto v0.0.0-20200602180216-279210d13fed // indirect
	golang.org/x/sys v0.0.0-20210220050731-9a76102bfb43 // indirect
	golang.org/x/time v0.0.0-20210220033141-f8bda1e9f3ba // indirect
)
