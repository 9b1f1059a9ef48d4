package broker

// withWSS is a fixture adjustment that adds the WSS listener.
func withWSS(c *Config) { c.WSSAddr = "127.0.0.1:0" }

// listenerOf returns the mochi listener ID a connected client came in on.
func (f *fixture) listenerOf(clientID string) string {
	f.t.Helper()
	cl, ok := f.b.server.Clients.Get(clientID)
	if !ok {
		f.t.Fatalf("client %q not known to mochi", clientID)
	}
	return cl.Net.Listener
}

// wantListener is the listener ID a fixture's paho clients dial.
func (f *fixture) wantListener() string {
	if f.wss {
		return wssListenerID
	}
	return listenerID
}
