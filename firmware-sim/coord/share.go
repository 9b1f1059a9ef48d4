package coord

// share is process i's part of n split over procs: the first n%procs
// processes take one more.
func share(n, procs, i int) int {
	s := n / procs
	if i < n%procs {
		s++
	}
	return s
}
