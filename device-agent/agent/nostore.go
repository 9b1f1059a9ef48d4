package agent

import (
	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// noStore is a paho Store that keeps nothing. The agent's outbox is the
// one place an unacknowledged message lives: if paho kept its own copy as
// well, a reconnect would send each one twice (paho's resume, then the
// outbox).
type noStore struct{}

var _ mqtt.Store = noStore{}

func (noStore) Open()                             {}
func (noStore) Put(string, packets.ControlPacket) {}
func (noStore) Get(string) packets.ControlPacket  { return nil }
func (noStore) All() []string                     { return nil }
func (noStore) Del(string)                        {}
func (noStore) Close()                            {}
func (noStore) Reset()                            {}
