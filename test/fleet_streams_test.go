package test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// streamWrites lists, for every JetStream stream, how many messages were
// ever written to it (its last sequence) and how many it holds: QoS 1
// messages, session records and retained messages, what the bus spent
// its writes on during a run.
func streamWrites(js jetstream.JetStream) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var rows []string
	lister := js.ListStreams(ctx)
	for info := range lister.Info() {
		rows = append(rows, fmt.Sprintf("%s %d written, %d held", info.Config.Name, info.State.LastSeq, info.State.Msgs))
	}
	if err := lister.Err(); err != nil {
		rows = append(rows, "listing streams: "+err.Error())
	}
	slices.Sort(rows)
	return strings.Join(rows, "; ")
}
