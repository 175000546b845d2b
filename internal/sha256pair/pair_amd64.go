//go:build amd64 && !purego

package sha256pair

import "github.com/klauspost/cpuid/v2"

var hasSHANI = cpuid.CPU.Supports(cpuid.SHA, cpuid.SSSE3, cpuid.SSE4, cpuid.AVX)

//go:noescape
func blockX2(a, b *[8]uint32, p []byte)

func blocks2(a, b *[8]uint32, p []byte) {
	if hasSHANI {
		blockX2(a, b, p)
		return
	}
	blockGeneric(a, p)
	blockGeneric(b, p)
}

func blocks1(a *[8]uint32, p []byte) {
	if hasSHANI {
		// The second state is a scratch copy: one block's rounds cost the same either way.
		var scratch [8]uint32
		blockX2(a, &scratch, p)
		return
	}
	blockGeneric(a, p)
}
