//go:build !amd64 || purego

package sha256pair

var hasSHANI = false

func blocks2(a, b *[8]uint32, p []byte) {
	blockGeneric(a, p)
	blockGeneric(b, p)
}

func blocks1(a *[8]uint32, p []byte) { blockGeneric(a, p) }
