package main

import "time"

// main idles, to measure what qemu-aarch64 costs by itself.
func main() { time.Sleep(time.Hour) }
