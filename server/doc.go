// Package server assembles a fleetgate server process: the mTLS MQTT
// broker, the provisioning and operator HTTPS API, or both, over one device
// registry (a bbolt file or an etcd cluster), with the certificate
// authority, the ops listener (/metrics, /healthz, /readyz, /crl) and hot
// reload of the CA files and the configuration.
//
// # Basics
//
// Build a Config (DefaultConfig, then LoadFile and whatever else the
// program layers on top), and call Start. Start validates the
// configuration, opens every listener and returns a running Server, or an
// error after closing whatever it had opened:
//
//	cfg := server.DefaultConfig()
//	cfg.DataDir = "/var/lib/fleetgate"
//	srv, err := server.Start(ctx, cfg)
//	if err != nil {
//		return err
//	}
//	defer srv.Close()
//	select {
//	case <-ctx.Done():
//	case err := <-srv.Err():
//		return err
//	}
//
// Reload applies a rotated intermediate, a renewed server certificate or a
// changed configuration without closing any connection; the server also
// reloads on its own when the CA files or the file LoadFile read change
// (every reload_interval).
//
// # Caveats
//
// The server reads no flags and no environment variables and never exits
// the process: the fleetgate command does those. It does set the process's
// garbage collector from gc_percent and memory_limit at Start, unless
// Config.GCEnv says GOGC or GOMEMLIMIT were set. A bbolt registry admits
// one server process; a second Start on the same data directory fails
// with store.ErrLocked.
package server
