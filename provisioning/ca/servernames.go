package ca

import (
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
)

// defaultServerNames are always in the server certificate so that a device
// or operator on the same host can connect without configuration.
var defaultServerNames = []string{"localhost", "127.0.0.1", "::1"}

// serverNames is the set of DNS names and IP addresses the server
// certificate must cover.
type serverNames struct {
	dns []string
	ips []net.IP
}

// resolveServerNames merges the defaults, the host name and extra into one
// de-duplicated set. A bad extra name is an error (the operator typed it);
// a host name that is not a valid DNS name is skipped, since containers and
// test machines sometimes have odd ones and the server must still start.
func resolveServerNames(extra []string) (serverNames, error) {
	var n serverNames
	for _, s := range defaultServerNames {
		if err := n.add(s); err != nil {
			return n, err
		}
	}
	if host, err := os.Hostname(); err == nil && host != "" {
		_ = n.add(host)
	}
	for _, s := range extra {
		if err := n.add(s); err != nil {
			return n, err
		}
	}
	return n, nil
}

func (n *serverNames) add(s string) error {
	s = strings.TrimSpace(s)
	if ip := net.ParseIP(s); ip != nil {
		if !slices.ContainsFunc(n.ips, ip.Equal) {
			n.ips = append(n.ips, ip)
		}
		return nil
	}
	name := strings.ToLower(strings.TrimSuffix(s, "."))
	if err := checkDNSName(name); err != nil {
		return fmt.Errorf("%w: %q: %v", ErrBadServerName, s, err)
	}
	if !slices.Contains(n.dns, name) {
		n.dns = append(n.dns, name)
	}
	return nil
}

// checkDNSName accepts host names made of labels of letters, digits, '-'
// and '_', with an optional leading "*." wildcard label.
func checkDNSName(name string) error {
	if name == "" {
		return fmt.Errorf("empty")
	}
	if len(name) > 253 {
		return fmt.Errorf("longer than 253 characters")
	}
	for i, label := range strings.Split(name, ".") {
		if label == "*" && i == 0 && name != "*" {
			continue
		}
		if label == "" || len(label) > 63 {
			return fmt.Errorf("label %d is empty or longer than 63 characters", i+1)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("character %q is not allowed in a host name", c)
			}
		}
	}
	return nil
}

// commonName is the first DNS name: CN is for people, verifiers use SANs.
func (n serverNames) commonName() string {
	if len(n.dns) > 0 {
		return n.dns[0]
	}
	return "fleetgate server"
}

// missingFrom returns the names c does not cover, so Bootstrap can reissue
// the server certificate when names were added.
func (n serverNames) missingFrom(c *x509.Certificate) []string {
	var missing []string
	for _, d := range n.dns {
		if !slices.Contains(c.DNSNames, d) {
			missing = append(missing, d)
		}
	}
	for _, ip := range n.ips {
		if !slices.ContainsFunc(c.IPAddresses, ip.Equal) {
			missing = append(missing, ip.String())
		}
	}
	return missing
}
