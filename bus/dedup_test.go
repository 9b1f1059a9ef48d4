package bus

import "testing"

func TestDedup(t *testing.T) {
	d := NewDedup(2)
	if !d.First("a") || d.First("a") || !d.First("b") || !d.First("c") {
		t.Fatal("first sightings misjudged")
	}
	if !d.First("a") { // evicted by c
		t.Fatal("an evicted ID must be new again")
	}
	if d.First("c") {
		t.Fatal("c is remembered")
	}
}
