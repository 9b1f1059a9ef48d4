package server_test

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/fleetgate/fleetgate/server"
)

func ExampleStart() {
	dir, err := os.MkdirTemp("", "fleetgate-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	cfg := server.DefaultConfig()
	cfg.DataDir = dir
	cfg.MQTTAddr, cfg.APIAddr, cfg.OpsAddr = "127.0.0.1:0", "127.0.0.1:0", ""
	cfg.LogOutput = io.Discard
	srv, err := server.Start(context.Background(), cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	<-srv.Ready()
	fmt.Println("ops:", srv.Endpoints().Ops)
	// Output: ops: disabled
}

func ExampleConfig_Validate() {
	cfg := server.DefaultConfig()
	cfg.Role = "broker" // a broker alone needs a registry other processes share
	fmt.Println(cfg.Validate())
	// Output:
	// invalid configuration:
	// role "broker" needs a registry shared between processes (registry etcd://...); a bbolt file has one process
}
