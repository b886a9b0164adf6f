// A program that is not FIPS-capable on purpose, for tests/e2e: it hashes with the Go
// standard library's crypto/sha256, built by a Go without a validated module (Go 1.22), so
// `fips-operator scan` finds standard library crypto outside a validated module.
package main

import (
	"crypto/sha256"
	"fmt"
	"os"
)

func main() {
	sum := sha256.Sum256([]byte("fips-operator e2e"))
	fmt.Printf("%x\n", sum)
	os.Exit(0)
}
